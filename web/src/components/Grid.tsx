// The virtualised grid: only the rows on screen (and a few more) exist in the page, so 100,000 items
// scroll like 100. Pages load as the view nears the end of what is loaded.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useRef, type KeyboardEvent, type MouseEvent } from "react";
import { Link, useLocation } from "react-router";
import type { MediaSummary } from "../api/types";
import { useSize } from "../lib/hooks";
import { itemHref } from "../lib/nav";
import type { CursorPager, PagerSnapshot } from "../lib/pager";
import { selectRange, toggleOne, type Selection } from "../lib/selection";
import { Thumb } from "./Thumb";

const MIN_CELL = 150;
const offsets = new Map<string, number>(); // scroll position per list, for coming back from an item

export function columnsFor(width: number): number {
  return Math.max(2, Math.floor(width / MIN_CELL));
}

interface Props {
  pager: CursorPager<MediaSummary>;
  snapshot: PagerSnapshot;
  listKey: string;
  selection: Selection;
  onSelection(s: Selection): void;
  label: string;
}

export function Grid({ pager, snapshot, listKey, selection, onSelection, label }: Props) {
  const scroller = useRef<HTMLDivElement | null>(null);
  const [measure, size] = useSize<HTMLDivElement>();
  const cols = columnsFor(size.width || 800);
  const cell = (size.width || 800) / cols;
  const rows = Math.ceil(snapshot.length / cols);
  const focusIndex = useRef(0);
  const location = useLocation();
  const from = location.pathname + location.search; // where "Back" on the item returns to
  // A stable ref callback: a new one per render would make React detach and attach it every time.
  const setScroller = useCallback((el: HTMLDivElement | null) => {
    scroller.current = el;
    measure(el);
  }, [measure]);

  const virtualizer = useVirtualizer({
    count: rows,
    getScrollElement: () => scroller.current,
    estimateSize: () => cell,
    overscan: 4,
    initialOffset: () => offsets.get(listKey) ?? 0,
  });
  useEffect(() => {
    virtualizer.measure();
  }, [cell, virtualizer]);

  const virtualRows = virtualizer.getVirtualItems();
  const slots = Math.max(64, virtualRows.length);
  const lastRow = virtualRows.length ? virtualRows[virtualRows.length - 1]!.index : 0;
  useEffect(() => {
    pager.ensure((lastRow + 1) * cols, cols * 12);
  }, [lastRow, cols, pager, snapshot.length]);

  const selecting = selection.ids.size > 0;

  function click(e: MouseEvent, item: MediaSummary, index: number) {
    if (e.shiftKey) {
      e.preventDefault();
      onSelection(selectRange(selection, (i) => pager.items[i]?.id, index));
    } else if (e.ctrlKey || e.metaKey || selecting) {
      e.preventDefault();
      onSelection(toggleOne(selection, item.id, index));
    }
  }

  function focusAt(index: number) {
    const i = Math.max(0, Math.min(snapshot.length - 1, index));
    focusIndex.current = i;
    virtualizer.scrollToIndex(Math.floor(i / cols), { align: "auto" });
    requestAnimationFrame(() => {
      scroller.current?.querySelector<HTMLElement>(`[data-index="${i}"] a`)?.focus();
    });
  }

  function keys(e: KeyboardEvent) {
    if (!(e.target as HTMLElement).closest("[data-index]")) return;
    // The logical focus: a key pressed before the browser moved focus to the last target still counts.
    const index = focusIndex.current;
    const item = pager.items[index];
    const move: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols,
      PageDown: cols * 4, PageUp: -cols * 4 };
    if (e.key in move) {
      e.preventDefault();
      focusAt(index + move[e.key]!);
    } else if (e.key === "Home") {
      e.preventDefault();
      focusAt(0);
    } else if (e.key === "End") {
      e.preventDefault();
      focusAt(snapshot.length - 1);
    } else if (e.key === " " && item) {
      e.preventDefault();
      onSelection(e.shiftKey ? selectRange(selection, (i) => pager.items[i]?.id, index) : toggleOne(selection, item.id, index));
    }
  }

  return (
    <div className="grid-scroller" ref={setScroller}
      onScroll={(e) => offsets.set(listKey, e.currentTarget.scrollTop)}
      role="grid" aria-label={label} aria-rowcount={rows} aria-multiselectable="true"
      aria-busy={snapshot.loading || snapshot.version === 0} data-list={listKey}
      onKeyDown={keys}>
      <div style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}>
        {virtualRows.map((row) => (
          // Rows are keyed by their slot, not their index: scrolling reuses the same elements and only
          // changes what they show, instead of tearing down and building 60 cells a frame.
          <div key={row.index % slots} role="row" aria-rowindex={row.index + 1} className="grid-row"
            style={{ transform: `translateY(${row.start}px)`, height: cell }}>
            {Array.from({ length: cols }, (_, c) => {
              const index = row.index * cols + c;
              const item = pager.items[index];
              if (!item) return null;
              const selected = selection.ids.has(item.id);
              return (
                <div key={c} role="gridcell" aria-selected={selected} data-index={index}
                  className={`cell${selected ? " selected" : ""}`} style={{ width: cell, height: cell }}>
                  <Link to={itemHref(item.id, listKey)} state={{ from }} onClick={(e) => click(e, item, index)}
                    tabIndex={index === focusIndex.current ? 0 : -1}
                    onFocus={() => { focusIndex.current = index; }}
                    aria-label={`${item.name}${item.kind === "video" ? ", video" : ""}${item.taken_at_local ? `, ${item.taken_at_local.slice(0, 10)}` : ""}`}>
                    <Thumb item={item} eager />
                  </Link>
                  <label className={`pick${selecting ? " on" : ""}`}>
                    <input type="checkbox" checked={selected} tabIndex={-1}
                      onChange={() => onSelection(toggleOne(selection, item.id, index))}
                      onClick={(e) => {
                        if (e.shiftKey) {
                          e.preventDefault();
                          onSelection(selectRange(selection, (i) => pager.items[i]?.id, index));
                        }
                      }} />
                    <span className="sr-only">Select {item.name}</span>
                  </label>
                </div>
              );
            })}
          </div>
        ))}
      </div>
      {snapshot.loading && <p className="status grid-status" role="status">Loading…</p>}
      {snapshot.error && (
        <p className="error grid-status" role="alert">
          {snapshot.error} <button type="button" onClick={() => void pager.retry()}>Try again</button>
        </p>
      )}
      {snapshot.done && snapshot.length === 0 && <p className="status grid-status">Nothing matches.</p>}
    </div>
  );
}
