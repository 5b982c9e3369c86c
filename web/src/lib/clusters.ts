// What the map draws for each cluster the API returns (it clusters on the server, per zoom), and
// what a click on it does.
import type { Bbox, MapCluster } from "../api/types";

export type Marker =
  | { kind: "pin"; mediaId: number; source: "exif" | "manual"; lat: number; lon: number; label: string }
  | { kind: "cluster"; count: number; size: number; text: string; lat: number; lon: number; bbox: Bbox;
      label: string };

/** 1234 -> "1.2k", 12345 -> "12k", 1234567 -> "1.2M". */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 10_000) return `${(Math.floor(n / 100) / 10).toFixed(1).replace(/\.0$/, "")}k`;
  if (n < 1_000_000) return `${Math.floor(n / 1000)}k`;
  return `${(Math.floor(n / 100_000) / 10).toFixed(1).replace(/\.0$/, "")}M`;
}

/** A bubble's diameter grows with the logarithm of its count: 28 px for 2, 64 px from 100,000 on. */
export function clusterSize(count: number): number {
  const t = Math.min(1, Math.max(0, Math.log10(Math.max(count, 2)) - Math.log10(2)) / (5 - Math.log10(2)));
  return Math.round(28 + t * 36);
}

export function markerFor(c: MapCluster): Marker {
  if (c.count === 1 && c.media_id !== null) {
    const source = c.position_source === "manual" ? "manual" : "exif";
    return { kind: "pin", mediaId: c.media_id, source, lat: c.lat, lon: c.lon,
      label: `Item ${c.media_id}, position ${source === "manual" ? "set by hand" : "from the file"}` };
  }
  return { kind: "cluster", count: c.count, size: clusterSize(c.count), text: shortCount(c.count),
    lat: c.lat, lon: c.lon, bbox: c.bbox, label: `${c.count} items here` };
}

export type ClickAction =
  | { type: "open"; mediaId: number }
  | { type: "zoom"; bbox: Bbox }
  | { type: "search"; bbox: Bbox };

/** Pins open their item; a cluster zooms in, unless zooming cannot split it (all at one spot, or the
 * map is at its deepest zoom): then its items are listed. */
export function clickAction(marker: Marker, zoom: number, maxZoom: number): ClickAction {
  if (marker.kind === "pin") return { type: "open", mediaId: marker.mediaId };
  const [w, s, e, n] = marker.bbox;
  const tiny = Math.abs(e - w) < 1e-6 && Math.abs(n - s) < 1e-6;
  if (tiny || zoom >= maxZoom) return { type: "search", bbox: padBbox(marker.bbox, 1e-5) };
  return { type: "zoom", bbox: marker.bbox };
}

export function padBbox([w, s, e, n]: Bbox, pad: number): Bbox {
  return [Math.max(-180, w - pad), Math.max(-90, s - pad), Math.min(180, e + pad), Math.min(90, n + pad)];
}

function wrapLon(lon: number): number {
  const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180;
  return wrapped === -180 && lon > 0 ? 180 : wrapped;
}

/**
 * A Leaflet view (whose longitudes run past ±180 when the world repeats) as the API's bbox: longitudes
 * wrapped into -180..180 (west > east then crosses the antimeridian), latitudes clamped; a view wider
 * than the world is the whole world.
 */
export function viewToBbox(west: number, south: number, east: number, north: number): Bbox {
  const s = Math.max(-90, Math.min(90, south));
  const n = Math.max(-90, Math.min(90, north));
  if (east - west >= 360) return [-180, s, 180, n];
  return [wrapLon(west), s, wrapLon(east), n];
}

export function bboxCenter([w, s, e, n]: Bbox): [lat: number, lon: number] {
  const span = e >= w ? e - w : e + 360 - w;
  return [(s + n) / 2, wrapLon(w + span / 2)];
}
