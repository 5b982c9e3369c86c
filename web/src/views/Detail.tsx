// One item: the photo or the (seekable) video with box layers, its metadata and place, and what can
// be done with it. Arrow keys go to the previous and next item of the list it was opened from.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { api, messageOf } from "../api/client";
import type { Album, MediaDetail, MediaPatch } from "../api/types";
import { allows, useAuth } from "../auth";
import { Comments } from "../components/Comments";
import { Keyframes } from "../components/Keyframes";
import { LocationPicker } from "../components/LocationPicker";
import { Overlay, ocrWords, type Layers } from "../components/Overlay";
import { Thumb } from "../components/Thumb";
import { filtersFromParams } from "../lib/filters";
import { cameraName, formatBytes, formatDateTime, formatExposure, formatDuration, formatLocal, placeName, toInputLocal } from "../lib/format";
import { mediaLists, mediaPager, useApi, usePager, useSize } from "../lib/hooks";
import { isTyping, itemHref } from "../lib/nav";
import { neighbours } from "../lib/pager";

function Toggle({ on, onClick, label, count }: { on: boolean; onClick(): void; label: string; count: number }) {
  return (
    <button type="button" className="toggle" aria-pressed={on && count > 0} onClick={onClick} disabled={count === 0}>
      {label} <span className="count">{count}</span>
    </button>
  );
}

function Row({ k, v }: { k: string; v: React.ReactNode }) {
  if (v === null || v === undefined || v === "") return null;
  return <><dt>{k}</dt><dd>{v}</dd></>;
}

export default function DetailPage() {
  const { id: idText } = useParams();
  const id = Number(idText);
  const location = useLocation();
  const navigate = useNavigate();
  const listQuery = location.search.replace(/^\?/, "");
  const { user } = useAuth();
  const editor = allows(user, "editor");
  const detail = useApi<MediaDetail>(Number.isInteger(id) && id > 0 ? `/api/media/${id}` : null);
  const item = detail.data?.id === id ? detail.data : null;
  const [layers, setLayers] = useState<Layers>({ objects: true, faces: true, text: false });
  const [natural, setNatural] = useState({ width: 0, height: 0 });
  const [frameRef, frame] = useSize<HTMLDivElement>();
  const video = useRef<HTMLVideoElement | null>(null);
  const [time, setTime] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [editingPlace, setEditingPlace] = useState(false);

  // The list it came from (kept by the gallery), for previous and next.
  // Opened from a link without a list: the whole library in the default order.
  const pager = mediaLists.peek(listQuery) ?? mediaPager(filtersFromParams(new URLSearchParams(listQuery)));
  const near = pager ? neighbours(pager, id) : { prev: null, next: null, index: -1 };
  const snapshot = usePager(pager);
  useEffect(() => {
    // The item is the last loaded one (or not loaded yet, for a few pages): load on.
    if (!pager.done && ((near.index >= 0 && near.next === null) || (near.index < 0 && snapshot.length < 5 * 200))) {
      void pager.loadMore();
    }
  }, [pager, near.index, near.next, snapshot.length]);

  // Back goes where the item was opened from (gallery, map, album, timeline), else to the gallery.
  const from = (location.state as { from?: string } | null)?.from;
  const back = from && from.startsWith("/") ? from : listQuery ? `/?${listQuery}` : "/";
  const go = useCallback((target: number | undefined) => {
    if (target) navigate(itemHref(target, listQuery), { replace: true, state: location.state });
  }, [navigate, listQuery, location.state]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "ArrowLeft") go(near.prev?.id);
      else if (e.key === "ArrowRight") go(near.next?.id);
      else if (e.key === "Escape") navigate(back);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [go, near.prev, near.next, navigate, back]);

  useEffect(() => {
    setNatural({ width: 0, height: 0 });
    setTime(0);
    setEditingPlace(false);
    setError(null);
  }, [id]);

  async function patch(change: MediaPatch) {
    setError(null);
    try {
      const updated = await api.patch<MediaDetail>(`/api/media/${id}`, change);
      if (updated) detail.setData(updated);
      else detail.reload();
      if (typeof change.favourite === "boolean") pager.update(id, { favourite: change.favourite });
    } catch (e) {
      setError(messageOf(e));
    }
  }

  function seek(seconds: number) {
    const v = video.current;
    if (!v) return;
    v.currentTime = seconds;
    void v.play().catch(() => undefined);
  }

  if (detail.error && !item) return <p className="error" role="alert">{detail.error} <Link to={back}>Back</Link></p>;
  if (!item) return <p className="status" role="status">Loading…</p>;

  const words = ocrWords(item.ocr);
  const playback = item.playback?.url ?? item.urls.original;
  const segments = item.speech?.segments ?? [];

  return (
    <article className="detail" aria-labelledby="detail-title">
      <header className="detail-head">
        <Link to={back} className="back" aria-keyshortcuts="Escape">← Back</Link>
        <h1 id="detail-title" title={item.original_path}>{item.name}</h1>
        <div className="detail-nav">
          <button type="button" onClick={() => go(near.prev?.id)} disabled={!near.prev} aria-keyshortcuts="ArrowLeft">← Previous</button>
          <button type="button" onClick={() => go(near.next?.id)} disabled={!near.next} aria-keyshortcuts="ArrowRight">Next →</button>
          {editor ? (
            <button type="button" className="toggle fav" aria-pressed={item.favourite} onClick={() => void patch({ favourite: !item.favourite })}>
              {item.favourite ? "★ Favourite" : "☆ Favourite"}
            </button>
          ) : item.favourite ? <span>★ Favourite</span> : null}
          <a href={item.urls.download} download>Download</a>
        </div>
      </header>
      {error && <p className="error" role="alert">{error}</p>}

      <div className="detail-body">
        <div className="viewer-col">
          <div className="layers" role="group" aria-label="Boxes to draw">
            <Toggle on={layers.objects} onClick={() => setLayers({ ...layers, objects: !layers.objects })} label="Objects"
              count={item.objects?.items.length ?? 0} />
            <Toggle on={layers.faces} onClick={() => setLayers({ ...layers, faces: !layers.faces })} label="Faces"
              count={item.faces?.length ?? 0} />
            {item.kind === "photo" && <Toggle on={layers.text} onClick={() => setLayers({ ...layers, text: !layers.text })} label="Text"
              count={words.length} />}
          </div>
          <div className="viewer" ref={frameRef}>
            {item.kind === "photo" ? (
              <img key={item.id} src={item.urls.preview} alt={item.name}
                onLoad={(e) => setNatural({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })} />
            ) : (
              <video key={item.id} ref={video} controls preload="metadata" src={playback}
                onLoadedMetadata={(e) => setNatural({ width: e.currentTarget.videoWidth, height: e.currentTarget.videoHeight })}
                onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)} onSeeked={(e) => setTime(e.currentTarget.currentTime)}>
                {item.speech?.subtitles_url && <track kind="captions" src={item.speech.subtitles_url} srcLang={item.speech.language ?? "en"}
                  label="Transcript" />}
              </video>
            )}
            <Overlay frame={{ width: frame.width, height: frame.height - (item.kind === "video" ? 0 : 0) }} natural={natural}
              item={item} layers={layers} timeMs={item.kind === "video" ? time * 1000 : null} />
          </div>
          {item.kind === "video" && (
            <>
              <Keyframes src={playback} keyframes={item.keyframes ?? []} current={time} onSeek={seek} />
              <section aria-labelledby="transcript-title" className="card">
                <h2 id="transcript-title">Transcript {item.speech?.language ? <span className="muted small">({item.speech.language})</span> : null}</h2>
                {segments.length === 0 ? <p className="muted">{item.speech ? `No speech (${item.speech.status}).` : "Not transcribed yet."}</p> : (
                  <ol className="transcript">
                    {segments.map((s, i) => {
                      const active = time >= s.start_s && time < s.end_s;
                      return (
                        <li key={i}>
                          <button type="button" onClick={() => seek(s.start_s)} aria-current={active ? "true" : undefined}>
                            <time>{formatDuration(s.start_s)}</time> <span>{s.text}</span>
                          </button>
                        </li>
                      );
                    })}
                  </ol>
                )}
              </section>
            </>
          )}
          {item.kind === "photo" && item.ocr?.text && (
            <section className="card" aria-labelledby="ocr-title">
              <h2 id="ocr-title">Text in the photo</h2>
              <p className="ocr-text">{item.ocr.text}</p>
            </section>
          )}
        </div>

        <div className="info-col">
          <section className="card" aria-labelledby="meta-title">
            <h2 id="meta-title">About</h2>
            <dl className="meta">
              <Row k="Taken" v={item.taken_at_local ? `${formatLocal(item.taken_at_local)}${item.time_source === "manual" ? " (set by hand)" : ""}` : "unknown"} />
              <Row k="Kind" v={`${item.kind}, ${item.format}${item.width ? `, ${item.width}×${item.height}` : ""}${item.duration_s ? `, ${formatDuration(item.duration_s)}` : ""}`} />
              <Row k="Camera" v={cameraName(item.camera?.make ?? item.make, item.camera?.model ?? item.model)} />
              <Row k="Lens" v={item.camera?.lens} />
              <Row k="Exposure" v={[item.camera?.aperture ? `f/${item.camera.aperture}` : "", formatExposure(item.camera?.exposure_time),
                item.camera?.iso ? `ISO ${item.camera.iso}` : "", item.camera?.focal_length ? `${item.camera.focal_length} mm` : ""].filter(Boolean).join(" · ")} />
              <Row k="Video" v={item.video ? [item.video.video_codec, item.video.audio_codec, item.video.frame_rate ? `${item.video.frame_rate} fps` : ""].filter(Boolean).join(", ") : ""} />
              <Row k="Size" v={formatBytes(item.size_bytes)} />
              <Row k="Source" v={item.source} />
              <Row k="Path" v={<code>{item.original_path}</code>} />
              <Row k="Added" v={formatDateTime(item.ingested_at)} />
              <Row k="SHA-512" v={<code title={item.sha512}>{item.sha512?.slice(0, 16)}…</code>} />
            </dl>
            {Object.keys(item.jobs ?? {}).length > 0 && (
              <p className="small jobs">{Object.entries(item.jobs).map(([a, j]) => (
                <span key={a} className={`job job-${j.state}`} title={j.error ?? ""}>{a}: {j.state}</span>))}</p>
            )}
          </section>

          {editor && <DateEditor item={item} onSave={(v) => void patch({ taken_at: v })} />}

          <section className="card" aria-labelledby="place-title">
            <h2 id="place-title">Place</h2>
            <p>{placeName(item.place) || (item.lat !== null ? "" : "No position")}
              {item.lat !== null && <span className="small muted"> {item.lat.toFixed(5)}, {item.lon?.toFixed(5)}
                {" "}({item.position_source === "manual" ? "set by hand" : "from the file"})</span>}</p>
            {(item.lat !== null || editingPlace) && (
              <LocationPicker key={`${item.id}-${editingPlace}`} value={item.lat !== null && item.lon !== null ? { lat: item.lat, lon: item.lon } : null}
                onPick={(p) => { if (editingPlace) void patch({ gps: p }).then(() => setEditingPlace(false)); }} height={200}
                help={editingPlace ? "Click the map to set the position." : null} />
            )}
            {editor && (
              <div className="row-buttons">
                <button type="button" aria-pressed={editingPlace} onClick={() => setEditingPlace((e) => !e)}>
                  {editingPlace ? "Cancel: click the map to set" : "Set position on the map"}
                </button>
                {item.manual_gps && <button type="button" onClick={() => void patch({ gps: null })}>Clear hand-set position</button>}
              </div>
            )}
          </section>

          <AlbumsCard item={item} editor={editor} onChange={() => detail.reload()} />

          {item.faces?.length > 0 && (
            <section className="card" aria-labelledby="faces-title">
              <h2 id="faces-title">People</h2>
              <ul className="chips-row">
                {item.faces.map((f) => (
                  <li key={f.id}>
                    {f.person_id ? (
                      <Link to={`/people/${f.person_id}`} className="face-chip">
                        <img src={f.chip_url} alt="" loading="lazy" />
                        <span>{f.person_name || `Person ${f.person_id}`}</span>
                      </Link>
                    ) : <span className="face-chip"><img src={f.chip_url} alt="" loading="lazy" /><span>Unknown</span></span>}
                  </li>
                ))}
              </ul>
            </section>
          )}

          {item.near_duplicates?.length > 0 && (
            <section className="card" aria-labelledby="near-title">
              <h2 id="near-title">Near-duplicates</h2>
              <ul className="mini-grid">
                {item.near_duplicates.map((n) => (
                  <li key={n.id}><Link to={`/item/${n.id}`} aria-label={`${n.name}, distance ${n.distance}`}>
                    <Thumb item={n} /><span className="small">distance {n.distance}</span></Link></li>
                ))}
              </ul>
            </section>
          )}

          {item.aliases?.length > 0 && (
            <section className="card" aria-labelledby="aliases-title">
              <h2 id="aliases-title">Also dropped as</h2>
              <ul className="aliases">
                {item.aliases.map((a, i) => (
                  <li key={i}><code>{a.original_path}</code> <span className="small muted">{a.source ?? ""} {formatDateTime(a.created_at)}</span></li>
                ))}
              </ul>
            </section>
          )}

          <Comments key={item.id} mediaId={item.id} initial={item.comments ?? []} />
        </div>
      </div>
    </article>
  );
}

function DateEditor({ item, onSave }: { item: MediaDetail; onSave(v: MediaPatch["taken_at"]): void }) {
  const [local, setLocal] = useState(toInputLocal(item.taken_at_local));
  const current = item.time?.manual?.offset_minutes ?? item.time?.exif?.offset_minutes;
  const [offset, setOffset] = useState(current === null || current === undefined ? "" : String(current));
  useEffect(() => {
    setLocal(toInputLocal(item.taken_at_local));
  }, [item.taken_at_local]);
  function submit(e: FormEvent) {
    e.preventDefault();
    if (!local) return;
    onSave({ local: local.length === 16 ? `${local}:00` : local, offset_minutes: offset === "" ? null : Number(offset) });
  }
  return (
    <section className="card" aria-labelledby="date-title">
      <h2 id="date-title">Date and time</h2>
      <form onSubmit={submit} className="inline-form">
        <label>Taken (camera time) <input type="datetime-local" step={1} value={local} onChange={(e) => setLocal(e.target.value)} required /></label>
        <label>UTC offset (minutes) <input type="number" className="narrow" min={-840} max={840} step={15} value={offset}
          onChange={(e) => setOffset(e.target.value)} /></label>
        <button type="submit" className="primary">Save date</button>
        {item.time?.manual && <button type="button" onClick={() => onSave(null)}>Use the file's date</button>}
      </form>
      {item.time?.exif?.taken_at_local && <p className="small muted">From the file: {formatLocal(item.time.exif.taken_at_local)}</p>}
    </section>
  );
}

function AlbumsCard({ item, editor, onChange }: { item: MediaDetail; editor: boolean; onChange(): void }) {
  const albums = useApi<Album[]>(editor ? "/api/albums" : null);
  const [choice, setChoice] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function add(e: FormEvent) {
    e.preventDefault();
    if (!choice) return;
    try {
      await api.post(`/api/albums/${choice}/items`, { media_ids: [item.id] });
      setChoice("");
      onChange();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  async function remove(albumId: number) {
    try {
      await api.post(`/api/albums/${albumId}/items/remove`, { media_ids: [item.id] });
      onChange();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  const mine = new Set((item.albums ?? []).map((a) => a.id));
  return (
    <section className="card" aria-labelledby="albums-title">
      <h2 id="albums-title">Albums</h2>
      {(item.albums ?? []).length === 0 ? <p className="muted">In no album.</p> : (
        <ul className="chips">
          {item.albums.map((a) => (
            <li key={a.id}><Link to={`/albums/${a.id}`}>{a.name}</Link>
              {editor && <button type="button" className="link" aria-label={`Remove from ${a.name}`} onClick={() => void remove(a.id)}>✕</button>}</li>
          ))}
        </ul>
      )}
      {editor && (
        <form onSubmit={(e) => void add(e)} className="inline-form">
          <label>Add to album
            <select value={choice} onChange={(e) => setChoice(e.target.value)}>
              <option value="">Choose…</option>
              {albums.data?.filter((a) => !mine.has(a.id)).map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
            </select>
          </label>
          <button type="submit" disabled={!choice}>Add</button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
