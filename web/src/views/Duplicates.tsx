// Duplicates: exact duplicates (the names each file was dropped under), near-duplicate groups, and
// the same groups as a graph.
import { lazy, Suspense, useEffect, useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { DuplicateItem, NearGroup, Page } from "../api/types";
import { Thumb } from "../components/Thumb";
import { formatDateTime, plural } from "../lib/format";
import { CursorPager } from "../lib/pager";
import { useApi, useDebounced, usePager } from "../lib/hooks";

const NearGraph = lazy(() => import("../components/NearGraph"));

type Tab = "exact" | "groups" | "graph";

export default function DuplicatesPage() {
  const [tab, setTab] = useState<Tab>("exact");
  const [threshold, setThreshold] = useState(8);
  const t = useDebounced(threshold, 400);
  const groups = useApi<NearGroup[]>(tab === "exact" ? null : "/api/duplicates/groups", { threshold: t });
  return (
    <section className="page" aria-labelledby="dup-title">
      <h1 id="dup-title">Duplicates</h1>
      <div role="tablist" aria-label="Kind of duplicates" className="tabs">
        {(["exact", "groups", "graph"] as const).map((k) => (
          <button key={k} role="tab" type="button" aria-selected={tab === k} aria-controls={`panel-${k}`} id={`tab-${k}`}
            onClick={() => setTab(k)}>{k === "exact" ? "Exact duplicates" : k === "groups" ? "Near-duplicate groups" : "Graph"}</button>
        ))}
      </div>
      {tab !== "exact" && (
        <label className="row">Distance threshold (bits of 64): {threshold}
          <input type="range" min={0} max={16} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />
        </label>
      )}
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "exact" && <Exact />}
        {tab !== "exact" && groups.error && <p className="error" role="alert">{groups.error}</p>}
        {tab !== "exact" && groups.loading && <p className="status">Loading…</p>}
        {tab === "groups" && groups.data && (
          groups.data.length === 0 ? <p className="muted">No near-duplicates at this threshold.</p> : (
            <ol className="groups">
              {groups.data.map((g, i) => (
                <li key={i} className="card">
                  <h2 className="small">{plural(g.members.length, "item")}, closest {Math.min(...g.edges.map((e) => e.distance))}</h2>
                  <ul className="mini-grid">
                    {g.members.map((m) => <li key={m.id}><Link to={`/item/${m.id}`} aria-label={m.name}><Thumb item={m} /><span className="small">{m.name}</span></Link></li>)}
                  </ul>
                </li>
              ))}
            </ol>
          ))}
        {tab === "graph" && groups.data && (
          <Suspense fallback={<p className="status">Loading the graph…</p>}>
            <NearGraph groups={groups.data} threshold={t} />
          </Suspense>
        )}
      </div>
    </section>
  );
}

function Exact() {
  const [pager] = useState(() => new CursorPager<DuplicateItem>((cursor, signal) =>
    api.get<Page<DuplicateItem>>("/api/duplicates", cursor ? { cursor } : {}, signal)));
  const snap = usePager(pager);
  useEffect(() => () => pager.dispose(), [pager]);
  return (
    <>
      {snap.error && <p className="error" role="alert">{snap.error}</p>}
      {snap.done && snap.length === 0 && <p className="muted">No file was dropped twice.</p>}
      <ul className="dup-list">
        {pager.items.map((d) => (
          <li key={d.id} className="card dup">
            <Link to={`/item/${d.id}`} aria-label={d.name}><Thumb item={d} /></Link>
            <div>
              <p><strong>{d.name}</strong> <code className="small">{d.original_path}</code></p>
              <p className="small">Also dropped as:</p>
              <ul className="aliases">
                {d.aliases.map((a, i) => <li key={i}><code>{a.original_path}</code> <span className="small muted">{a.source ?? ""} {formatDateTime(a.created_at)}</span></li>)}
              </ul>
            </div>
          </li>
        ))}
      </ul>
      {!snap.done && !snap.error && <button type="button" onClick={() => void pager.loadMore()} disabled={snap.loading}>{snap.loading ? "Loading…" : "More"}</button>}
    </>
  );
}
