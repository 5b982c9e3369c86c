// The timeline: a bar per month from the first to the last month with items (empty months included,
// so gaps show), and a brushed run of bars as a taken_from..taken_to filter.

export interface MonthBin {
  month: string; // "2024-05"
  count: number;
}

function monthIndex(month: string): number | null {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return null;
  const mm = Number(m[2]);
  return mm >= 1 && mm <= 12 ? Number(m[1]) * 12 + (mm - 1) : null;
}

function monthName(index: number): string {
  const year = Math.floor(index / 12);
  return `${String(year).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

/** Every month from the first to the last one given, with zero where none were; capped at `limit`
 * months (the most recent kept) so a stray 1970 date does not make 600 bars of nothing. */
export function fillMonths(months: MonthBin[], limit = 1200): MonthBin[] {
  const counts = new Map<number, number>();
  for (const m of months) {
    const i = monthIndex(m.month);
    if (i !== null) counts.set(i, (counts.get(i) ?? 0) + m.count);
  }
  if (counts.size === 0) return [];
  const keys = [...counts.keys()];
  const last = Math.max(...keys);
  const first = Math.max(Math.min(...keys), last - limit + 1);
  const out: MonthBin[] = [];
  for (let i = first; i <= last; i++) out.push({ month: monthName(i), count: counts.get(i) ?? 0 });
  return out;
}

export function lastDayOfMonth(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const day = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${month}-${String(day).padStart(2, "0")}`;
}

/** Bars a..b (either order) as a whole-day date range, both ends inclusive as the API reads them. */
export function brushToRange(bins: MonthBin[], a: number, b: number): { taken_from: string; taken_to: string } | null {
  if (bins.length === 0) return null;
  const lo = Math.max(0, Math.min(a, b));
  const hi = Math.min(bins.length - 1, Math.max(a, b));
  return { taken_from: `${bins[lo]!.month}-01`, taken_to: lastDayOfMonth(bins[hi]!.month) };
}

/** The bars a date range covers, to draw the brush for a filter that came from an address. */
export function rangeToBrush(bins: MonthBin[], from: string, to: string): [number, number] | null {
  if (bins.length === 0 || (!from && !to)) return null;
  const start = from ? bins.findIndex((b) => b.month >= from.slice(0, 7)) : 0;
  let end = bins.length - 1;
  if (to) {
    const toMonth = to.slice(0, 7);
    end = -1;
    bins.forEach((b, i) => {
      if (b.month <= toMonth) end = i;
    });
  }
  if (start < 0 || end < 0 || end < start) return null;
  return [start, end];
}

/** The bar under an x position in a chart `width` wide. */
export function binAt(x: number, width: number, count: number): number {
  if (count <= 0 || width <= 0) return 0;
  return Math.min(count - 1, Math.max(0, Math.floor((x / width) * count)));
}
