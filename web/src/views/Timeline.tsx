import { useMemo } from "react";
import type { Facets } from "../api/types";
import { Histogram } from "../components/Histogram";
import { MediaBrowser } from "../components/MediaBrowser";
import { filterParams } from "../lib/filters";
import { useApi, useFilters } from "../lib/hooks";
import { brushToRange, fillMonths, rangeToBrush } from "../lib/timeline";

export function TimelinePage() {
  const [filters, setFilters] = useFilters();
  // The bars count the search without its own date range, so the brush can move anywhere.
  const query = filterParams({ ...filters, taken_from: "", taken_to: "" });
  query.set("facet", "months");
  const months = useApi<Facets>("/api/facets", query);
  const bins = useMemo(() => fillMonths(months.data?.months ?? []), [months.data]);
  const selected = rangeToBrush(bins, filters.taken_from, filters.taken_to);

  const header = (
    <section className="timeline" aria-labelledby="timeline-title">
      <div className="toolbar">
        <h1 id="timeline-title">Timeline</h1>
        <span className="small">{filters.taken_from || filters.taken_to ? `${filters.taken_from || "…"} to ${filters.taken_to || "…"}` : "All dates"}</span>
        {(filters.taken_from || filters.taken_to) && (
          <button type="button" onClick={() => setFilters({ ...filters, taken_from: "", taken_to: "" })}>All dates</button>
        )}
      </div>
      {months.error && <p className="error" role="alert">{months.error}</p>}
      {months.data && <Histogram bins={bins} selected={selected} onBrush={([a, b]) => {
        const r = brushToRange(bins, a, b);
        if (r) setFilters({ ...filters, ...r, no_date: false });
      }} />}
    </section>
  );
  return <MediaBrowser filters={filters} onFilters={setFilters} header={header} label="Items in the chosen months" />;
}
