// Cursor paging for lists that can grow to 100,000 items: items are appended in place (no copy of the
// whole list per page) and a small snapshot object changes on every change, for useSyncExternalStore.
import type { Page } from "../api/types";

export type Fetcher<T> = (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>;

export interface PagerSnapshot {
  version: number;
  length: number;
  loading: boolean;
  done: boolean;
  error: string | null;
  total: number | null;
}

export class CursorPager<T extends { id: number }> {
  readonly items: T[] = [];
  private readonly index = new Map<number, number>();
  private cursor: string | null = null;
  private started = false;
  private inflight: AbortController | null = null;
  private listeners = new Set<() => void>();
  private snapshot: PagerSnapshot = { version: 0, length: 0, loading: false, done: false, error: null, total: null };

  constructor(private readonly fetcher: Fetcher<T>) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): PagerSnapshot => this.snapshot;

  private emit(change: Partial<PagerSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change, version: this.snapshot.version + 1, length: this.items.length };
    for (const listener of this.listeners) listener();
  }

  get done(): boolean {
    return this.snapshot.done;
  }

  /** Fetches the next page unless one is on its way or the list is complete. */
  async loadMore(): Promise<void> {
    if (this.inflight || this.snapshot.done || this.snapshot.error) return;
    if (this.started && this.cursor === null) return;
    const controller = new AbortController();
    this.inflight = controller;
    this.emit({ loading: true });
    try {
      const page = await this.fetcher(this.started ? this.cursor : null, controller.signal);
      if (controller.signal.aborted) return;
      this.started = true;
      for (const item of page.items) {
        // An item can move between pages when the library changes under a cursor: keep the first.
        if (this.index.has(item.id)) continue;
        this.index.set(item.id, this.items.length);
        this.items.push(item);
      }
      this.cursor = page.next_cursor;
      const total = page.total ?? this.snapshot.total;
      this.emit({ loading: false, done: page.next_cursor === null, total: total ?? null });
    } catch (error) {
      if (controller.signal.aborted) return;
      this.emit({ loading: false, error: error instanceof Error ? error.message : String(error) });
    } finally {
      if (this.inflight === controller) this.inflight = null;
    }
  }

  /** Loads more when the view has come within `margin` items of the end. */
  ensure(lastVisibleIndex: number, margin = 200): void {
    if (lastVisibleIndex >= this.items.length - margin) void this.loadMore();
  }

  /** After an error: try the same page again. */
  retry(): Promise<void> {
    this.emit({ error: null });
    return this.loadMore();
  }

  indexOf(id: number): number {
    return this.index.get(id) ?? -1;
  }

  get(id: number): T | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.items[i];
  }

  /** Changes one item in place (a favourite toggled in the grid, a date set in bulk). */
  update(id: number, change: Partial<T>): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    this.items[i] = { ...this.items[i]!, ...change };
    this.emit({});
  }

  /** Stops whatever is loading; the pager is not used again. */
  dispose(): void {
    this.inflight?.abort();
    this.inflight = null;
    this.listeners.clear();
  }
}

/** The last few lists by key (the filters' address), so the detail page finds its neighbours and the
 * gallery comes back where it was. */
export class PagerCache<T extends { id: number }> {
  private readonly entries = new Map<string, CursorPager<T>>();
  constructor(private readonly capacity = 4) {}

  get(key: string, make: () => CursorPager<T>): CursorPager<T> {
    let pager = this.entries.get(key);
    if (pager) {
      this.entries.delete(key);
    } else {
      pager = make();
    }
    this.entries.set(key, pager);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.get(oldest)?.dispose();
      this.entries.delete(oldest);
    }
    return pager;
  }

  peek(key: string): CursorPager<T> | undefined {
    return this.entries.get(key);
  }

  clear(): void {
    for (const pager of this.entries.values()) pager.dispose();
    this.entries.clear();
  }
}

/** The items before and after one id in a loaded list (arrow keys on the detail page). */
export function neighbours<T extends { id: number }>(pager: CursorPager<T>, id: number):
  { prev: T | null; next: T | null; index: number } {
  const i = pager.indexOf(id);
  if (i < 0) return { prev: null, next: null, index: -1 };
  return { prev: pager.items[i - 1] ?? null, next: pager.items[i + 1] ?? null, index: i };
}
