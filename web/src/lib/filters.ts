// The search filters of api/ROUTES.md as page state, and their one URL form: the page's address and
// the API's query use the same parameter names, so a search is shared by copying the address.
import type { Bbox } from "../api/types";

export type Sort = "" | "-taken_at" | "taken_at" | "-ingested_at" | "ingested_at" | "relevance";
export const SORTS: { value: Sort; label: string }[] = [
  { value: "", label: "Default (newest, or relevance with text)" },
  { value: "-taken_at", label: "Newest taken first" },
  { value: "taken_at", label: "Oldest taken first" },
  { value: "-ingested_at", label: "Newest added first" },
  { value: "ingested_at", label: "Oldest added first" },
  { value: "relevance", label: "Relevance" },
];

export interface Filters {
  q: string;
  taken_from: string;
  taken_to: string;
  no_date: boolean;
  bbox: Bbox | null;
  no_gps: boolean;
  object: string[];
  person: number[];
  make: string;
  model: string;
  kind: "" | "photo" | "video";
  format: string[];
  album: number | null;
  favourite: boolean;
  has_text: boolean | null;
  source: string;
  sort: Sort;
}

export function emptyFilters(): Filters {
  return {
    q: "", taken_from: "", taken_to: "", no_date: false, bbox: null, no_gps: false, object: [], person: [],
    make: "", model: "", kind: "", format: [], album: null, favourite: false, has_text: null, source: "",
    sort: "",
  };
}

/** Coordinates in an address: 5 decimals is about a metre, enough for an area drawn on a map. */
function coord(value: number): string {
  return String(Math.round(value * 1e5) / 1e5);
}

export function formatBbox(bbox: Bbox): string {
  return bbox.map(coord).join(",");
}

export function parseBbox(text: string | null): Bbox | null {
  if (!text) return null;
  const parts = text.split(",").map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) return null;
  const [w, s, e, n] = parts as [number, number, number, number];
  if (s > n || s < -90 || n > 90 || w < -180 || w > 180 || e < -180 || e > 180) return null;
  return [w, s, e, n];
}

const DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

function positiveInts(values: string[]): number[] {
  return values.map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

export function filtersFromParams(params: URLSearchParams): Filters {
  const f = emptyFilters();
  f.q = params.get("q") ?? "";
  const from = params.get("taken_from") ?? "";
  const to = params.get("taken_to") ?? "";
  f.taken_from = DATE.test(from) ? from : "";
  f.taken_to = DATE.test(to) ? to : "";
  f.no_date = params.get("no_date") === "true";
  f.bbox = parseBbox(params.get("bbox"));
  f.no_gps = params.get("no_gps") === "true";
  f.object = unique(params.getAll("object").map((o) => o.trim()).filter(Boolean));
  f.person = unique(positiveInts(params.getAll("person")));
  f.make = params.get("make") ?? "";
  f.model = params.get("model") ?? "";
  const kind = params.get("kind");
  f.kind = kind === "photo" || kind === "video" ? kind : "";
  f.format = unique(params.getAll("format").map((x) => x.trim().toLowerCase()).filter(Boolean));
  const album = Number(params.get("album"));
  f.album = Number.isInteger(album) && album > 0 ? album : null;
  f.favourite = params.get("favourite") === "true";
  const text = params.get("has_text");
  f.has_text = text === "true" ? true : text === "false" ? false : null;
  f.source = params.get("source") ?? "";
  const sort = params.get("sort") ?? "";
  f.sort = SORTS.some((s) => s.value === sort) ? (sort as Sort) : "";
  return f;
}

/** The canonical query: defaults left out, a fixed order, so equal filters give equal addresses. */
export function filtersToParams(f: Filters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.q.trim()) p.set("q", f.q.trim());
  if (f.taken_from) p.set("taken_from", f.taken_from);
  if (f.taken_to) p.set("taken_to", f.taken_to);
  if (f.no_date) p.set("no_date", "true");
  if (f.bbox) p.set("bbox", formatBbox(f.bbox));
  if (f.no_gps) p.set("no_gps", "true");
  for (const o of f.object) p.append("object", o);
  for (const id of f.person) p.append("person", String(id));
  if (f.make) p.set("make", f.make);
  if (f.model) p.set("model", f.model);
  if (f.kind) p.set("kind", f.kind);
  for (const x of f.format) p.append("format", x);
  if (f.album !== null) p.set("album", String(f.album));
  if (f.favourite) p.set("favourite", "true");
  if (f.has_text !== null) p.set("has_text", String(f.has_text));
  if (f.source) p.set("source", f.source);
  if (f.sort) p.set("sort", f.sort);
  return p;
}

/** The filters without the sort: what /api/facets, /api/map and /api/timeline take. */
export function filterParams(f: Filters): URLSearchParams {
  const p = filtersToParams(f);
  p.delete("sort");
  return p;
}

export function filtersKey(f: Filters): string {
  return filtersToParams(f).toString();
}

export function activeFilterCount(f: Filters): number {
  const p = filterParams(f);
  p.delete("q");
  return new Set(p.keys()).size;
}

/** `person>=2` style object conditions, as the API reads them. */
export interface ObjectCondition {
  label: string;
  op: "" | ">=" | "<=" | "=";
  count: number | null;
}

export function parseObject(text: string): ObjectCondition {
  const m = /^(.+?)(>=|<=|=)(\d+)$/.exec(text.trim());
  if (!m) return { label: text.trim(), op: "", count: null };
  return { label: m[1]!.trim(), op: m[2] as ObjectCondition["op"], count: Number(m[3]) };
}

export function formatObject(c: ObjectCondition): string {
  return c.op && c.count !== null ? `${c.label}${c.op}${c.count}` : c.label;
}

/** Changing any filter but the sort restarts paging; the cursor is never part of the address. */
export function withFilter<K extends keyof Filters>(f: Filters, key: K, value: Filters[K]): Filters {
  return { ...f, [key]: value };
}

export function toggleIn<T>(values: T[], value: T): T[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}
