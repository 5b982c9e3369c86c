// Upload: drop files or folders (or choose them); each file goes in its own request so it has its
// own progress bar and outcome (new, duplicate of an item, rejected with the reason, error).
import { useEffect, useReducer, useRef, useState, type DragEvent } from "react";
import { Link } from "react-router";
import { api, messageOf } from "../api/client";
import type { UploadOutcome } from "../api/types";
import { useAuth } from "../auth";
import { filesFromDrop, filesFromInput, type Dropped } from "../lib/dropped";
import { formatBytes, plural } from "../lib/format";
import { fileKey, nextToStart, summarise, uploadReducer } from "../lib/upload";

const CONCURRENCY = 2;

export function UploadPage() {
  const { user } = useAuth();
  const [queue, dispatch] = useReducer(uploadReducer, []);
  const files = useRef(new Map<string, File>());
  const [over, setOver] = useState(false);
  const fileInput = useRef<HTMLInputElement | null>(null);
  const folderInput = useRef<HTMLInputElement | null>(null);

  function add(dropped: Dropped[]) {
    const entries = dropped.map((d) => {
      const key = fileKey(d.path, d.file.size, d.file.lastModified);
      files.current.set(key, d.file);
      return { key, name: d.file.name, path: d.path, size: d.file.size };
    });
    dispatch({ type: "add", files: entries });
  }

  useEffect(() => {
    for (const key of nextToStart(queue, CONCURRENCY)) {
      const file = files.current.get(key);
      if (!file) continue;
      dispatch({ type: "start", key });
      const form = new FormData();
      form.append("files", file, file.name);
      api.upload<{ files: UploadOutcome[] }>("/api/upload", form, (loaded) => dispatch({ type: "progress", key, loaded }))
        .then((r) => {
          const outcome = r.files[0];
          if (outcome) dispatch({ type: "finish", key, outcome });
          else dispatch({ type: "fail", key, error: "the server said nothing about this file" });
        })
        .catch((e: unknown) => dispatch({ type: "fail", key, error: messageOf(e) }));
    }
  }, [queue]);

  async function drop(e: DragEvent) {
    e.preventDefault();
    setOver(false);
    add(await filesFromDrop(e.dataTransfer));
  }

  const s = summarise(queue);
  const folderProps = { webkitdirectory: "", directory: "" } as Record<string, string>;

  return (
    <section className="page" aria-labelledby="upload-title">
      <h1 id="upload-title">Upload</h1>
      <div className={`dropzone${over ? " over" : ""}`} onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)} onDrop={(e) => void drop(e)}>
        <p>Drop photos, videos or whole folders here</p>
        <div className="row-buttons">
          <button type="button" className="primary" onClick={() => fileInput.current?.click()}>Choose files…</button>
          <button type="button" onClick={() => folderInput.current?.click()}>Choose a folder…</button>
        </div>
        <input ref={fileInput} type="file" multiple hidden accept="image/*,video/*" aria-label="Files to upload"
          onChange={(e) => { add(filesFromInput(e.target.files)); e.target.value = ""; }} data-testid="upload-files" />
        <input ref={folderInput} type="file" multiple hidden {...folderProps} aria-label="Folder to upload"
          onChange={(e) => { add(filesFromInput(e.target.files)); e.target.value = ""; }} />
      </div>

      {queue.length > 0 && (
        <>
          <div className="toolbar" role="status" aria-live="polite">
            <span>{plural(s.files, "file")}, {formatBytes(s.loaded)} of {formatBytes(s.bytes)}</span>
            <span>{s.new} new · {s.duplicate} duplicate · {s.rejected} rejected · {s.failed} failed · {s.queued + s.uploading} to go</span>
            <button type="button" onClick={() => dispatch({ type: "clear" })} disabled={s.queued + s.uploading === s.files}>Clear finished</button>
            {user && s.new > 0 && <Link to={`/?source=${encodeURIComponent(`upload:${user.name}`)}&sort=-ingested_at`}>See the uploads in the gallery →</Link>}
          </div>
          <table className="upload-table">
            <thead><tr><th scope="col">File</th><th scope="col">Size</th><th scope="col">Progress</th><th scope="col">Outcome</th></tr></thead>
            <tbody>
              {queue.map((e) => (
                <tr key={e.key} className={`up-${e.state} ${e.outcome ? `out-${e.outcome.status}` : ""}`}>
                  <td><span title={e.path}>{e.path}</span></td>
                  <td>{formatBytes(e.size)}</td>
                  <td><progress max={e.size || 1} value={e.loaded} aria-label={`Upload of ${e.name}`} /></td>
                  <td>
                    {e.state === "queued" && "waiting"}
                    {e.state === "uploading" && (e.loaded >= e.size ? "storing…" : `${Math.round((e.loaded / Math.max(1, e.size)) * 100)}%`)}
                    {e.outcome?.status === "new" && <>new: <Link to={`/item/${e.outcome.media_id}`}>open</Link></>}
                    {e.outcome?.status === "duplicate" && <>duplicate of <Link to={`/item/${e.outcome.duplicate_of ?? e.outcome.media_id}`}>item {e.outcome.duplicate_of ?? e.outcome.media_id}</Link></>}
                    {e.outcome?.status === "rejected" && <>rejected: {e.outcome.reason}{e.outcome.detail ? ` (${e.outcome.detail})` : ""}</>}
                    {e.state === "failed" && <>failed: {e.error} <button type="button" className="link" onClick={() => dispatch({ type: "retry", key: e.key })}>Retry</button></>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
