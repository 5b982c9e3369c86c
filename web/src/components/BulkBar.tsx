// Actions on many selected items at once: POST /api/media/bulk.
import { useState } from "react";
import { api, messageOf } from "../api/client";
import type { Album, BulkPatch } from "../api/types";
import { allows, useAuth } from "../auth";
import { useApi } from "../lib/hooks";
import { plural } from "../lib/format";
import { LocationPicker } from "./LocationPicker";

interface Props {
  ids: number[];
  onDone(change: Partial<BulkPatch>, message: string): void;
  onClear(): void;
  onSelectAll(): void;
  extra?: React.ReactNode;
}

type Panel = null | "album" | "date" | "gps";

export function BulkBar({ ids, onDone, onClear, onSelectAll, extra }: Props) {
  const { user } = useAuth();
  const [panel, setPanel] = useState<Panel>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const albums = useApi<Album[]>(panel === "album" ? "/api/albums" : null);
  const [album, setAlbum] = useState("");
  const [newAlbum, setNewAlbum] = useState("");
  const [local, setLocal] = useState("");
  const [offset, setOffset] = useState("");
  const [lat, setLat] = useState("");
  const [lon, setLon] = useState("");
  const editor = allows(user, "editor");

  async function send(change: Omit<BulkPatch, "ids">, message: string) {
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ updated: number }>("/api/media/bulk", { ids, ...change });
      onDone(change, `${message} (${plural(r?.updated ?? ids.length, "item")})`);
      setPanel(null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  async function addToAlbum() {
    let id = Number(album);
    if (!id && newAlbum.trim()) {
      try {
        id = (await api.post<Album>("/api/albums", { name: newAlbum.trim() })).id;
      } catch (e) {
        setError(messageOf(e));
        return;
      }
    }
    if (id) await send({ add_to_album: id }, "Added to the album");
  }

  const toggle = (p: Panel) => setPanel((cur) => (cur === p ? null : p));

  return (
    <section className="bulkbar" aria-label="Selected items">
      <div className="bulk-row">
        <strong>{plural(ids.length, "selected item")}</strong>
        <button type="button" onClick={onSelectAll}>Select all loaded</button>
        <button type="button" onClick={onClear}>Clear selection</button>
        {editor && <>
          <button type="button" disabled={busy} onClick={() => void send({ favourite: true }, "Marked as favourite")}>★ Favourite</button>
          <button type="button" disabled={busy} onClick={() => void send({ favourite: false }, "Favourite removed")}>☆ Unfavourite</button>
          <button type="button" aria-expanded={panel === "album"} onClick={() => toggle("album")}>Add to album…</button>
          <button type="button" aria-expanded={panel === "date"} onClick={() => toggle("date")}>Set date…</button>
          <button type="button" aria-expanded={panel === "gps"} onClick={() => toggle("gps")}>Set GPS…</button>
        </>}
        {extra}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {panel === "album" && (
        <form className="bulk-panel" onSubmit={(e) => { e.preventDefault(); void addToAlbum(); }}>
          <label>Album
            <select value={album} onChange={(e) => setAlbum(e.target.value)}>
              <option value="">New album…</option>
              {albums.data?.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
            </select>
          </label>
          {!album && <label>Name of the new album <input value={newAlbum} onChange={(e) => setNewAlbum(e.target.value)} required /></label>}
          <button type="submit" className="primary" disabled={busy}>Add</button>
        </form>
      )}
      {panel === "date" && (
        <form className="bulk-panel" onSubmit={(e) => {
          e.preventDefault();
          void send({ taken_at: { local: local.length === 16 ? `${local}:00` : local, offset_minutes: offset === "" ? null : Number(offset) } },
            "Date set");
        }}>
          <label>Date and time (as on the camera)
            <input type="datetime-local" step={1} value={local} onChange={(e) => setLocal(e.target.value)} required />
          </label>
          <label>UTC offset, minutes (optional)
            <input type="number" min={-840} max={840} step={15} value={offset} onChange={(e) => setOffset(e.target.value)} className="narrow" />
          </label>
          <button type="submit" className="primary" disabled={busy}>Set date</button>
          <button type="button" disabled={busy} onClick={() => void send({ taken_at: null }, "Hand-set date cleared")}>Clear hand-set date</button>
        </form>
      )}
      {panel === "gps" && (
        <form className="bulk-panel" onSubmit={(e) => {
          e.preventDefault();
          void send({ gps: { lat: Number(lat), lon: Number(lon) } }, "Position set");
        }}>
          <label>Latitude <input type="number" step="any" min={-90} max={90} value={lat} onChange={(e) => setLat(e.target.value)} required /></label>
          <label>Longitude <input type="number" step="any" min={-180} max={180} value={lon} onChange={(e) => setLon(e.target.value)} required /></label>
          <button type="submit" className="primary" disabled={busy}>Set position</button>
          <button type="button" disabled={busy} onClick={() => void send({ gps: null }, "Hand-set position cleared")}>Clear hand-set position</button>
          <LocationPicker value={lat && lon ? { lat: Number(lat), lon: Number(lon) } : null}
            onPick={(p) => { setLat(p.lat.toFixed(6)); setLon(p.lon.toFixed(6)); }} />
        </form>
      )}
    </section>
  );
}
