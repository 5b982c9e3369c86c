// Search by image: the file goes to POST /api/similar (nothing is stored) and the items whose
// perceptual hash is near it come back, closest first.
import { useState } from "react";
import { Link } from "react-router";
import { api, messageOf } from "../api/client";
import type { components } from "../api/schema";
import { Thumb } from "./Thumb";

type SimilarItem = components["schemas"]["SimilarItem"];

export function ImageSearch() {
  const [results, setResults] = useState<SimilarItem[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function search(file: File | undefined) {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      setResults(await api.upload<SimilarItem[]>("/api/similar", form, () => undefined));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="image-search">
      <label className="row small">A photo or video to compare
        <input type="file" accept="image/*,video/*" onChange={(e) => { void search(e.target.files?.[0]); e.target.value = ""; }} />
      </label>
      {busy && <p className="status" role="status">Comparing…</p>}
      {error && <p className="error small" role="alert">{error}</p>}
      {results && (results.length === 0 ? <p className="muted small">Nothing similar in the library.</p> : (
        <ul className="mini-grid" aria-label="Similar items">
          {results.map((r) => (
            <li key={`${r.id}-${r.frame_ms ?? 0}`}><Link to={`/item/${r.id}`} aria-label={`${r.name}, distance ${r.distance}`}>
              <Thumb item={r} /><span className="small">distance {r.distance}</span></Link></li>
          ))}
        </ul>
      ))}
    </div>
  );
}
