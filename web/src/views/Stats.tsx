import { useState } from "react";
import { Link } from "react-router";
import type { OnThisDay, Stats } from "../api/types";
import { Thumb } from "../components/Thumb";
import { cameraName, formatBytes } from "../lib/format";
import { useApi } from "../lib/hooks";

function Bars<T>({ title, items, label, count, href }: { title: string; items: T[] | undefined; label(t: T): string; count(t: T): number; href?(t: T): string }) {
  const max = Math.max(1, ...(items ?? []).map(count));
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      {!items?.length ? <p className="muted">None yet.</p> : (
        <ol className="bars">
          {items.slice(0, 15).map((t, i) => (
            <li key={i}>
              {href ? <Link to={href(t)}>{label(t)}</Link> : <span>{label(t)}</span>}
              <span className="bar-track" aria-hidden="true"><span className="bar-fill" style={{ width: `${(count(t) / max) * 100}%` }} /></span>
              <span className="count">{count(t).toLocaleString("en")}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function today(): string {
  const d = new Date();
  return `${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function StatsPage() {
  const stats = useApi<Stats>("/api/stats");
  const [day, setDay] = useState(today());
  const otd = useApi<OnThisDay>("/api/stats/on-this-day", { date: day });
  const s = stats.data;
  return (
    <section className="page" aria-labelledby="stats-title">
      <h1 id="stats-title">Stats</h1>
      {stats.error && <p className="error" role="alert">{stats.error}</p>}
      {s && (
        <>
          <dl className="totals">
            <div><dt>Items</dt><dd>{s.totals.items.toLocaleString("en")}</dd></div>
            <div><dt>Photos</dt><dd>{s.totals.photos.toLocaleString("en")}</dd></div>
            <div><dt>Videos</dt><dd>{s.totals.videos.toLocaleString("en")}</dd></div>
            <div><dt>Size</dt><dd>{formatBytes(s.totals.bytes)}</dd></div>
          </dl>
          <div className="stats-grid">
            <Bars title="Cameras" items={s.cameras} label={(c) => cameraName(c.make, c.model) || "Unknown"} count={(c) => c.count}
              href={(c) => `/?${new URLSearchParams({ ...(c.make ? { make: c.make } : {}), ...(c.model ? { model: c.model } : {}) })}`} />
            <Bars title="Labels" items={s.labels} label={(l) => l.value} count={(l) => l.count} href={(l) => `/?object=${encodeURIComponent(l.value)}`} />
            <Bars title="Places" items={s.places} label={(p) => p.country ?? p.country_code ?? "?"} count={(p) => p.count}
              href={(p) => `/?q=${encodeURIComponent(`"${p.country ?? p.country_code ?? ""}"`)}`} />
            <Bars title="People" items={s.people} label={(p) => p.name || `Person ${p.id}`} count={(p) => p.count} href={(p) => `/people/${p.id}`} />
            <Bars title="Years" items={s.years?.slice().reverse()} label={(y) => String(y.year)} count={(y) => y.count}
              href={(y) => `/timeline?taken_from=${y.year}-01-01&taken_to=${y.year}-12-31`} />
          </div>
          <section className="card" aria-labelledby="progress-title">
            <h2 id="progress-title">Analyses</h2>
            <table>
              <thead><tr><th scope="col">Analysis</th><th scope="col">Done</th><th scope="col">Waiting</th><th scope="col">Running</th><th scope="col">Failed</th></tr></thead>
              <tbody>
                {Object.entries(s.progress ?? {}).map(([name, p]) => (
                  <tr key={name}><th scope="row">{name}</th><td>{p.done}</td><td>{p.pending + p.queued}</td><td>{p.running}</td><td>{p.failed}</td></tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
      <section className="card" aria-labelledby="otd-title">
        <div className="toolbar">
          <h2 id="otd-title">On this day</h2>
          <label>Day <input type="date" value={`2000-${day}`} min="2000-01-01" max="2000-12-31"
            onChange={(e) => { if (e.target.value) setDay(e.target.value.slice(5)); }} /></label>
        </div>
        {otd.error && <p className="error">{otd.error}</p>}
        {otd.data?.years.length === 0 && <p className="muted">Nothing from this day in earlier years.</p>}
        {otd.data?.years.map((y) => (
          <div key={y.year}>
            <h3>{y.year}</h3>
            <ul className="mini-grid">
              {y.items.map((m) => <li key={m.id}><Link to={`/item/${m.id}`} aria-label={m.name}><Thumb item={m} /></Link></li>)}
            </ul>
          </div>
        ))}
      </section>
    </section>
  );
}
