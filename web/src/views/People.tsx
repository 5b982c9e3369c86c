// People: persons with face chips and counts; one person's faces, items and similar faces; name,
// hide, merge others into this one, split faces off into a new person.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, messageOf } from "../api/client";
import type { MediaSummary, Page, Person, PersonFace, SimilarFace } from "../api/types";
import { Thumb } from "../components/Thumb";
import { itemHref } from "../lib/nav";
import { allows, useAuth } from "../auth";
import { plural } from "../lib/format";
import { useApi } from "../lib/hooks";

function chip(p: Person): string | null {
  return p.chip_url ?? (p.cover_face_id ? `/api/faces/${p.cover_face_id}/chip` : null);
}

export function PeoplePage() {
  const [hidden, setHidden] = useState(false);
  const [filter, setFilter] = useState("");
  const people = useApi<Person[]>("/api/people", { hidden });
  const list = (people.data ?? []).filter((p) => !filter || (p.name || "").toLowerCase().includes(filter.toLowerCase()));
  return (
    <section className="page" aria-labelledby="people-title">
      <h1 id="people-title">People</h1>
      <div className="toolbar">
        <label>Find <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="name" /></label>
        <label className="switch"><input type="checkbox" role="switch" checked={hidden} onChange={(e) => setHidden(e.target.checked)} /> Hidden people</label>
        <span role="status" className="small">{people.data ? plural(list.length, "person", "people") : ""}</span>
      </div>
      {people.error && <p className="error" role="alert">{people.error}</p>}
      {people.loading && !people.data && <p className="status">Loading…</p>}
      <ul className="people-grid">
        {list.map((p) => (
          <li key={p.id}>
            <Link to={`/people/${p.id}`} className="person-card">
              {chip(p) ? <img src={chip(p)!} alt="" loading="lazy" /> : <span className="no-chip" />}
              <span className="person-name">{p.name || <em>Unnamed</em>}</span>
              <span className="small muted">{plural(p.media_count, "item")} · {plural(p.face_count, "face")}</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function PersonPage() {
  const { id: idText } = useParams();
  const id = Number(idText);
  const navigate = useNavigate();
  const { user } = useAuth();
  const editor = allows(user, "editor");
  const person = useApi<Person>(`/api/people/${id}`);
  const faces = useApi<Page<PersonFace>>(`/api/people/${id}/faces`, { limit: 500 });
  const items = useApi<Page<MediaSummary>>("/api/media", { person: id, limit: 48 });
  const others = useApi<Person[]>(editor ? "/api/people" : null, { hidden: false });
  const [name, setName] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [mergeIds, setMergeIds] = useState<Set<number>>(new Set());
  const [similarOf, setSimilarOf] = useState<number | null>(null);
  const similar = useApi<SimilarFace[]>(similarOf ? `/api/faces/${similarOf}/similar` : null, { k: 12 });
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function run(action: () => Promise<unknown>, done: string) {
    setError(null);
    try {
      await action();
      setMessage(done);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const p = person.data;
  if (person.error) return <p className="error" role="alert">{person.error}</p>;
  if (!p) return <p className="status">Loading…</p>;

  function saveName(e: FormEvent) {
    e.preventDefault();
    void run(async () => {
      const updated = await api.patch<Person>(`/api/people/${id}`, { name: name ?? "" });
      if (updated) person.setData(updated);
      else person.reload();
      setName(null);
    }, "Name saved");
  }

  return (
    <section className="page" aria-labelledby="person-title">
      <p><Link to="/people">← People</Link></p>
      <header className="person-head">
        {chip(p) && <img src={chip(p)!} alt="" className="person-big" />}
        <div>
          <h1 id="person-title">{p.name || "Unnamed person"}</h1>
          <p className="muted">{plural(p.media_count, "item")} · {plural(p.face_count, "face")}{p.hidden ? " · hidden" : ""}</p>
          <p><Link to={`/?person=${id}`}>Show {p.name || "this person"}'s items in the gallery →</Link></p>
        </div>
      </header>
      {message && <p className="notice" role="status">{message}</p>}
      {error && <p className="error" role="alert">{error}</p>}

      {editor && (
        <div className="card">
          <form onSubmit={saveName} className="inline-form">
            <label>Name <input value={name ?? (p.name || "")} onChange={(e) => setName(e.target.value)} maxLength={200} /></label>
            <button type="submit" className="primary">Save name</button>
            <button type="button" aria-pressed={p.hidden} onClick={() => void run(async () => {
              const updated = await api.patch<Person>(`/api/people/${id}`, { hidden: !p.hidden });
              if (updated) person.setData(updated);
              else person.reload();
            }, p.hidden ? "Shown again" : "Hidden")}>{p.hidden ? "Unhide" : "Hide"}</button>
          </form>
          <details>
            <summary>Merge other people into {p.name || "this person"}</summary>
            <ul className="merge-list">
              {(others.data ?? []).filter((o) => o.id !== id).map((o) => (
                <li key={o.id}><label className="check">
                  <input type="checkbox" checked={mergeIds.has(o.id)} onChange={() => {
                    const s = new Set(mergeIds);
                    if (s.has(o.id)) s.delete(o.id);
                    else s.add(o.id);
                    setMergeIds(s);
                  }} />
                  {chip(o) && <img src={chip(o)!} alt="" className="tiny-chip" loading="lazy" />} {o.name || `Person ${o.id}`} ({o.face_count})
                </label></li>
              ))}
            </ul>
            <button type="button" disabled={mergeIds.size === 0} onClick={() => void run(async () => {
              await api.post(`/api/people/${id}/merge`, { source_ids: [...mergeIds] });
              setMergeIds(new Set());
              person.reload();
              faces.reload();
              others.reload();
            }, "Merged")}>Merge {mergeIds.size || ""} into this person</button>
          </details>
        </div>
      )}

      <section aria-labelledby="items-title">
        <h2 id="items-title">Items with {p.name || "this person"}</h2>
        {items.error && <p className="error">{items.error}</p>}
        <ul className="mini-grid">
          {(items.data?.items ?? []).map((m) => (
            <li key={m.id}><Link to={itemHref(m.id, `person=${id}`)} aria-label={m.name}><Thumb item={m} /></Link></li>
          ))}
        </ul>
        {items.data?.next_cursor && <p><Link to={`/?person=${id}`}>All of them in the gallery →</Link></p>}
      </section>

      <section aria-labelledby="faces-title">
        <h2 id="faces-title">Faces</h2>
        {editor && picked.size > 0 && (
          <div className="toolbar">
            <span>{plural(picked.size, "face")} picked</span>
            <button type="button" onClick={() => void run(async () => {
              const r = await api.post<{ person_id: number }>("/api/people/split", { face_ids: [...picked] });
              setPicked(new Set());
              if (r?.person_id) navigate(`/people/${r.person_id}`);
            }, "Split off into a new person")}>Split off into a new person</button>
            <button type="button" onClick={() => void run(async () => {
              await Promise.all([...picked].map((f) => api.put(`/api/faces/${f}/person`, { person_id: null })));
              setPicked(new Set());
              faces.reload();
              person.reload();
            }, "Removed from this person")}>Not this person</button>
            <button type="button" onClick={() => setPicked(new Set())}>Clear</button>
          </div>
        )}
        <ul className="faces-grid">
          {(faces.data?.items ?? []).map((f) => (
            <li key={f.id} className={picked.has(f.id) ? "selected" : ""}>
              <img src={f.chip_url} alt={`Face ${f.id}`} loading="lazy" />
              <div className="face-actions">
                {editor && <label className="check small"><input type="checkbox" checked={picked.has(f.id)} onChange={() => {
                  const s = new Set(picked);
                  if (s.has(f.id)) s.delete(f.id);
                  else s.add(f.id);
                  setPicked(s);
                }} /> Pick</label>}
                <Link to={`/item/${f.media_id}`} className="small">Item</Link>
                <button type="button" className="link small" aria-pressed={similarOf === f.id}
                  onClick={() => setSimilarOf(similarOf === f.id ? null : f.id)}>Similar</button>
              </div>
            </li>
          ))}
        </ul>
        {faces.data?.next_cursor && <p className="small muted">The first 500 faces are shown.</p>}
      </section>

      {similarOf && (
        <section aria-labelledby="similar-title" className="card">
          <h2 id="similar-title">Faces similar to face {similarOf}</h2>
          {similar.error && <p className="error">{similar.error}</p>}
          <ul className="faces-grid">
            {(similar.data ?? []).map((s) => (
              <li key={s.face_id}>
                <img src={s.chip_url} alt={`Face ${s.face_id}`} loading="lazy" />
                <div className="face-actions small">
                  <span>{s.person_name || (s.person_id ? `Person ${s.person_id}` : "Unknown")} · {s.distance.toFixed(3)}</span>
                  <Link to={`/item/${s.media_id}`}>Item</Link>
                  {editor && s.person_id !== id && <button type="button" className="link" onClick={() => void run(async () => {
                    await api.put(`/api/faces/${s.face_id}/person`, { person_id: id });
                    similar.reload();
                    faces.reload();
                    person.reload();
                  }, "Face added to this person")}>This is {p.name || "them"}</button>}
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
