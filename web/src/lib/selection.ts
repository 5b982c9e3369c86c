// Selecting many items in the grid: click toggles one, shift+click selects the run from the last
// clicked item (the anchor), and a set keeps ids so selection survives more pages arriving.

export interface Selection {
  ids: ReadonlySet<number>;
  anchor: number | null; // index in the list of the last plain click
}

export const emptySelection: Selection = { ids: new Set(), anchor: null };

export function toggleOne(sel: Selection, id: number, index: number): Selection {
  const ids = new Set(sel.ids);
  if (ids.has(id)) ids.delete(id);
  else ids.add(id);
  return { ids, anchor: index };
}

/** Shift+click: adds every item between the anchor and `index` (both included). */
export function selectRange(sel: Selection, idAt: (i: number) => number | undefined, index: number): Selection {
  const from = sel.anchor ?? index;
  const lo = Math.min(from, index);
  const hi = Math.max(from, index);
  const ids = new Set(sel.ids);
  for (let i = lo; i <= hi; i++) {
    const id = idAt(i);
    if (id !== undefined) ids.add(id);
  }
  return { ids, anchor: sel.anchor ?? index };
}

export function selectAll(ids: Iterable<number>): Selection {
  return { ids: new Set(ids), anchor: null };
}
