// A search (filters), its result grid and the bulk actions on what is selected: the gallery, an
// album and the timeline are all this with a different frame.
import { useState, type ReactNode } from "react";
import type { BulkPatch } from "../api/types";
import { filtersKey, type Filters } from "../lib/filters";
import { plural } from "../lib/format";
import { mediaLists, mediaPager, usePager } from "../lib/hooks";
import { emptySelection, selectAll, type Selection } from "../lib/selection";
import { BulkBar } from "./BulkBar";
import { Grid } from "./Grid";
import { SearchPanel } from "./SearchPanel";

interface Props {
  filters: Filters;
  onFilters(f: Filters, opts?: { replace?: boolean }): void;
  panel?: boolean;
  hide?: (keyof Filters)[];
  header?: ReactNode;
  bulkExtra?(ids: number[], done: (message: string) => void): ReactNode;
  label?: string;
}

export function MediaBrowser({ filters, onFilters, panel = true, hide, header, bulkExtra, label = "Photos and videos" }: Props) {
  const pager = mediaPager(filters);
  const snapshot = usePager(pager);
  const key = filtersKey(filters);
  const [selection, setSelection] = useState<Selection>(emptySelection);
  const [notice, setNotice] = useState<string | null>(null);
  const [showPanel, setShowPanel] = useState(false);
  // Selections belong to one list.
  const [selectionKey, setSelectionKey] = useState(key);
  if (selectionKey !== key) {
    setSelectionKey(key);
    setSelection(emptySelection);
  }

  const ids = [...selection.ids];

  function done(change: Partial<BulkPatch>, message: string) {
    setNotice(message);
    if (typeof change.favourite === "boolean") {
      const favourite = change.favourite;
      for (const id of ids) pager.update(id, { favourite });
    } else {
      // Dates and positions change the order and the matches: load the list anew.
      mediaLists.clear();
      setSelection(emptySelection);
      onFilters({ ...filters }, { replace: true });
    }
  }

  return (
    <div className={`browser${panel ? "" : " no-panel"}`}>
      {panel && (
        <>
          <button type="button" className="panel-toggle" aria-expanded={showPanel} aria-controls="search-panel"
            onClick={() => setShowPanel((s) => !s)}>Filters</button>
          <div id="search-panel" className={`panel-wrap${showPanel ? " open" : ""}`}>
            <SearchPanel filters={filters} onChange={onFilters} hide={hide} />
          </div>
        </>
      )}
      <section className="results" aria-label="Results">
        {header}
        <div className="results-head">
          <span role="status" aria-live="polite">
            {snapshot.total !== null ? plural(snapshot.total, "item") : `${snapshot.length.toLocaleString("en")} loaded`}
            {snapshot.total !== null && snapshot.length < snapshot.total ? ` (${snapshot.length.toLocaleString("en")} loaded)` : ""}
          </span>
          {notice && <span className="notice" role="status">{notice} <button type="button" aria-label="Dismiss" onClick={() => setNotice(null)}>✕</button></span>}
        </div>
        {ids.length > 0 && (
          <BulkBar ids={ids} onDone={done} onClear={() => setSelection(emptySelection)}
            onSelectAll={() => setSelection(selectAll(pager.items.map((i) => i.id)))}
            extra={bulkExtra?.(ids, (m) => { setNotice(m); mediaLists.clear(); setSelection(emptySelection); onFilters({ ...filters }, { replace: true }); })} />
        )}
        <Grid pager={pager} snapshot={snapshot} listKey={key} selection={selection} onSelection={setSelection} label={label} />
      </section>
    </div>
  );
}
