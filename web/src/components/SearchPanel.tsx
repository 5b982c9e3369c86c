// Every filter the API offers, with facet counts for the current search; the address holds it all,
// so the "Copy link" button shares exactly this search.
import { useEffect, useId, useState, type FormEvent, type ReactNode } from "react";
import type { Album, Facets, Person } from "../api/types";
import { CommitInput } from "./CommitInput";
import { ImageSearch } from "./ImageSearch";
import { cameraName, plural } from "../lib/format";
import { useApi, useDebounced } from "../lib/hooks";
import {
  activeFilterCount, emptyFilters, filterParams, formatBbox, formatObject, parseBbox, parseObject, SORTS,
  toggleIn, type Filters, type ObjectCondition,
} from "../lib/filters";

interface Props {
  filters: Filters;
  onChange(f: Filters, opts?: { replace?: boolean }): void;
  hide?: (keyof Filters)[];
}

function Section({ title, children, open = true }: { title: string; children: ReactNode; open?: boolean }) {
  return (
    <details className="facet" open={open}>
      <summary>{title}</summary>
      {children}
    </details>
  );
}

function FacetList<T>({ items, label, count, active, onPick, empty }: {
  items: T[] | null | undefined; label(t: T): string; count(t: T): number; active(t: T): boolean; onPick(t: T): void;
  empty?: string;
}) {
  if (!items?.length) return <p className="muted small">{empty ?? "None"}</p>;
  return (
    <ul className="facet-list">
      {items.map((t, i) => (
        <li key={`${label(t)}-${i}`}>
          <button type="button" aria-pressed={active(t)} onClick={() => onPick(t)} className="facet-item">
            <span>{label(t)}</span> <span className="count">{count(t).toLocaleString("en")}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

export function SearchPanel({ filters, onChange, hide = [] }: Props) {
  const id = useId();
  const [text, setText] = useState(filters.q);
  const [objectDraft, setObjectDraft] = useState<ObjectCondition>({ label: "", op: "", count: null });
  const [copied, setCopied] = useState(false);
  useEffect(() => setText(filters.q), [filters.q]);

  const facetQuery = useDebounced(filterParams(filters).toString(), 250);
  const facets = useApi<Facets>("/api/facets", new URLSearchParams(facetQuery));
  const people = useApi<Person[]>("/api/people", { hidden: false });
  const albums = useApi<Album[]>("/api/albums");
  const f = facets.data;

  const set = <K extends keyof Filters>(key: K, value: Filters[K]) => onChange({ ...filters, [key]: value });
  const shown = (key: keyof Filters) => !hide.includes(key);

  function submit(e: FormEvent) {
    e.preventDefault();
    onChange({ ...filters, q: text });
  }

  function addObject(e: FormEvent) {
    e.preventDefault();
    if (!objectDraft.label.trim()) return;
    const value = formatObject({ ...objectDraft, label: objectDraft.label.trim() });
    if (!filters.object.includes(value)) set("object", [...filters.object, value]);
    setObjectDraft({ label: "", op: "", count: null });
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(window.location.href);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      window.prompt("Copy this address", window.location.href);
    }
  }

  const personName = (pid: number) => people.data?.find((p) => p.id === pid)?.name || `Person ${pid}`;

  return (
    <aside className="search-panel" aria-label="Search and filters">
      <form role="search" onSubmit={submit} className="search-box">
        <label htmlFor={`${id}-q`} className="sr-only">Search text</label>
        <input id={`${id}-q`} type="search" value={text} onChange={(e) => setText(e.target.value)}
          placeholder='Search: words, "a phrase", -not, or' />
        <button type="submit" className="primary">Search</button>
      </form>
      <div className="search-meta">
        <span role="status" aria-live="polite">
          {f?.total !== undefined ? plural(f.total, "item") : facets.loading ? "Counting…" : ""}
        </span>
        <button type="button" onClick={() => void copy()}>{copied ? "Copied" : "Copy link"}</button>
        {(activeFilterCount(filters) > 0 || filters.q) && (
          <button type="button" onClick={() => onChange(emptyFilters())}>Clear all</button>
        )}
      </div>
      {facets.error && <p className="error small" role="alert">Counts: {facets.error}</p>}

      <label className="row">
        Sort
        <select value={filters.sort} onChange={(e) => set("sort", e.target.value as Filters["sort"])}>
          {SORTS.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
        </select>
      </label>

      <Section title="Kind and format">
        <div className="chips" role="group" aria-label="Kind">
          {(["", "photo", "video"] as const).map((k) => (
            <button key={k} type="button" aria-pressed={filters.kind === k} onClick={() => set("kind", k)}>
              {k === "" ? "All" : k === "photo" ? "Photos" : "Videos"}
              {k && f?.kinds ? ` (${f.kinds.find((x) => x.value === k)?.count ?? 0})` : ""}
            </button>
          ))}
        </div>
        <FacetList items={f?.formats} label={(x) => x.format} count={(x) => x.count}
          active={(x) => filters.format.includes(x.format)} onPick={(x) => set("format", toggleIn(filters.format, x.format))} />
      </Section>

      <Section title="When">
        <div className="two">
          <label>From <input type="date" value={filters.taken_from.slice(0, 10)}
            onChange={(e) => set("taken_from", e.target.value)} /></label>
          <label>To <input type="date" value={filters.taken_to.slice(0, 10)}
            onChange={(e) => set("taken_to", e.target.value)} /></label>
        </div>
        <label className="check"><input type="checkbox" checked={filters.no_date}
          onChange={(e) => set("no_date", e.target.checked)} /> Only items without a date</label>
        <FacetList items={f?.years?.slice().reverse()} label={(y) => String(y.year)} count={(y) => y.count}
          active={(y) => filters.taken_from === `${y.year}-01-01` && filters.taken_to === `${y.year}-12-31`}
          onPick={(y) => onChange({ ...filters, taken_from: `${y.year}-01-01`, taken_to: `${y.year}-12-31` })} />
      </Section>

      {shown("bbox") && (
        <Section title="Where">
          {filters.bbox ? (
            <p className="small">Area {formatBbox(filters.bbox)} <button type="button" onClick={() => set("bbox", null)}>Remove area</button></p>
          ) : <p className="muted small">Draw an area on the map to search in it.</p>}
          <label className="row small">Area (west,south,east,north)
            <input defaultValue={filters.bbox ? formatBbox(filters.bbox) : ""} key={filters.bbox?.join() ?? "none"}
              onBlur={(e) => { const b = parseBbox(e.target.value); if (b || !e.target.value) set("bbox", b); }} />
          </label>
          <label className="check"><input type="checkbox" checked={filters.no_gps}
            onChange={(e) => set("no_gps", e.target.checked)} /> Only items without GPS</label>
          <FacetList items={f?.places} label={(p) => p.country ?? p.country_code ?? "?"} count={(p) => p.count}
            active={(p) => !!p.country && filters.q.includes(p.country)}
            onPick={(p) => set("q", p.country ? `${filters.q} "${p.country}"`.trim() : filters.q)} />
        </Section>
      )}

      <Section title="Objects">
        <ul className="chips">
          {filters.object.map((o) => (
            <li key={o}><button type="button" aria-label={`Remove ${o}`} onClick={() => set("object", filters.object.filter((x) => x !== o))}>{o} ✕</button></li>
          ))}
        </ul>
        <form className="object-form" onSubmit={addObject} aria-label="Add an object condition">
          <input aria-label="Object label" placeholder="label, e.g. dog" value={objectDraft.label} list={`${id}-labels`}
            onChange={(e) => setObjectDraft({ ...objectDraft, label: e.target.value })} />
          <select aria-label="How many" value={objectDraft.op}
            onChange={(e) => setObjectDraft({ ...objectDraft, op: e.target.value as ObjectCondition["op"], count: objectDraft.count ?? 1 })}>
            <option value="">any</option><option value=">=">at least</option><option value="<=">at most</option><option value="=">exactly</option>
          </select>
          {objectDraft.op && <input aria-label="Count" type="number" min={0} className="narrow" value={objectDraft.count ?? 1}
            onChange={(e) => setObjectDraft({ ...objectDraft, count: Number(e.target.value) })} />}
          <button type="submit">Add</button>
          <datalist id={`${id}-labels`}>{f?.labels?.map((l) => <option key={l.value} value={l.value} />)}</datalist>
        </form>
        <FacetList items={f?.labels} label={(l) => l.value} count={(l) => l.count}
          active={(l) => filters.object.some((o) => parseObject(o).label === l.value)}
          onPick={(l) => set("object", filters.object.some((o) => parseObject(o).label === l.value)
            ? filters.object.filter((o) => parseObject(o).label !== l.value) : [...filters.object, l.value])} />
      </Section>

      <Section title="People">
        <ul className="chips">
          {filters.person.map((p) => (
            <li key={p}><button type="button" aria-label={`Remove ${personName(p)}`} onClick={() => set("person", filters.person.filter((x) => x !== p))}>{personName(p)} ✕</button></li>
          ))}
        </ul>
        <FacetList items={f?.people} label={(p) => p.name || `Person ${p.id}`} count={(p) => p.count}
          active={(p) => filters.person.includes(p.id)} onPick={(p) => set("person", toggleIn(filters.person, p.id))} />
      </Section>

      <Section title="Camera" open={false}>
        <div className="two">
          <label>Make <CommitInput value={filters.make} onCommit={(v) => set("make", v)} /></label>
          <label>Model <CommitInput value={filters.model} onCommit={(v) => set("model", v)} /></label>
        </div>
        <FacetList items={f?.cameras} label={(c) => cameraName(c.make, c.model) || "Unknown"}
          count={(c) => c.count} active={(c) => filters.make === (c.make ?? "") && filters.model === (c.model ?? "")}
          onPick={(c) => onChange({ ...filters, make: c.make ?? "", model: c.model ?? "" })} />
      </Section>

      <Section title="Search by image" open={false}>
        <ImageSearch />
      </Section>

      <Section title="More" open={false}>
        <label className="check"><input type="checkbox" checked={filters.favourite}
          onChange={(e) => set("favourite", e.target.checked)} /> Favourites only</label>
        <fieldset className="chips" aria-label="Text in the item">
          <legend className="small">Text (OCR or speech)</legend>
          {([null, true, false] as const).map((v) => (
            <button key={String(v)} type="button" aria-pressed={filters.has_text === v} onClick={() => set("has_text", v)}>
              {v === null ? "Any" : v ? "Has text" : "No text"}
            </button>
          ))}
        </fieldset>
        {shown("album") && (
          <label className="row">Album
            <select value={filters.album ?? ""} onChange={(e) => set("album", e.target.value ? Number(e.target.value) : null)}>
              <option value="">Any</option>
              {albums.data?.map((a) => <option key={a.id} value={a.id}>{a.name} ({a.count})</option>)}
            </select>
          </label>
        )}
        <label className="row">Source <CommitInput value={filters.source} list={`${id}-sources`}
          onCommit={(v) => set("source", v)} /></label>
        <datalist id={`${id}-sources`}>{f?.sources?.map((s) => <option key={s.value} value={s.value} />)}</datalist>
        <FacetList items={f?.sources} label={(s) => s.value} count={(s) => s.count}
          active={(s) => filters.source === s.value} onPick={(s) => set("source", filters.source === s.value ? "" : s.value)} />
      </Section>
    </aside>
  );
}
