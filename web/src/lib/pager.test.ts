import { describe, expect, it } from "vitest";
import type { Page } from "../api/types";
import { CursorPager, PagerCache, neighbours } from "./pager";

type Item = { id: number };

/** A fake list of `n` items served `size` at a time, the cursor being the next offset. */
function serve(n: number, size: number, calls: (string | null)[] = []) {
  return async (cursor: string | null, _signal?: AbortSignal): Promise<Page<Item>> => {
    calls.push(cursor);
    const start = cursor ? Number(cursor) : 0;
    const items = Array.from({ length: Math.max(0, Math.min(size, n - start)) }, (_, i) => ({ id: start + i + 1 }));
    const next = start + size < n ? String(start + size) : null;
    return { items, next_cursor: next, total: n };
  };
}

describe("cursor pager", () => {
  it("pages with the cursor it was given until next_cursor is null", async () => {
    const calls: (string | null)[] = [];
    const pager = new CursorPager<Item>(serve(250, 100, calls));
    await pager.loadMore();
    await pager.loadMore();
    await pager.loadMore();
    await pager.loadMore(); // done: no fourth request
    expect(calls).toEqual([null, "100", "200"]);
    expect(pager.items.length).toBe(250);
    expect(pager.getSnapshot()).toMatchObject({ done: true, loading: false, length: 250, total: 250 });
  });

  it("asks for one page at a time however often it is asked", async () => {
    const calls: (string | null)[] = [];
    const pager = new CursorPager<Item>(serve(1000, 100, calls));
    await Promise.all([pager.loadMore(), pager.loadMore(), pager.loadMore()]);
    expect(calls).toEqual([null]);
  });

  it("loads more only when the view nears the end", async () => {
    const calls: (string | null)[] = [];
    const pager = new CursorPager<Item>(serve(1000, 100, calls));
    await pager.loadMore();
    pager.ensure(10, 50);
    expect(calls.length).toBe(1);
    pager.ensure(60, 50);
    await Promise.resolve();
    expect(calls.length).toBe(2);
  });

  it("keeps the first copy of an item that shows up again on a later page", async () => {
    const pages: Page<Item>[] = [
      { items: [{ id: 1 }, { id: 2 }], next_cursor: "a" },
      { items: [{ id: 2 }, { id: 3 }], next_cursor: null },
    ];
    const pager = new CursorPager<Item>(async () => pages.shift()!);
    await pager.loadMore();
    await pager.loadMore();
    expect(pager.items.map((i) => i.id)).toEqual([1, 2, 3]);
    expect(pager.indexOf(3)).toBe(2);
  });

  it("stops on an error and tries the same page again on retry", async () => {
    let fail = true;
    const calls: (string | null)[] = [];
    const inner = serve(300, 100, calls);
    const pager = new CursorPager<Item>(async (cursor, signal) => {
      if (cursor === "100" && fail) {
        fail = false;
        throw new Error("503 unavailable");
      }
      return inner(cursor, signal);
    });
    await pager.loadMore();
    await pager.loadMore();
    expect(pager.getSnapshot().error).toBe("503 unavailable");
    await pager.loadMore(); // no request while in error
    await pager.retry();
    expect(pager.items.length).toBe(200);
    expect(calls).toEqual([null, "100"]);
  });

  it("notifies subscribers with a new snapshot on each change and updates items in place", async () => {
    const pager = new CursorPager<Item & { favourite?: boolean }>(serve(10, 5));
    const seen: number[] = [];
    pager.subscribe(() => seen.push(pager.getSnapshot().version));
    await pager.loadMore();
    const before = pager.getSnapshot();
    pager.update(3, { favourite: true });
    expect(pager.get(3)).toEqual({ id: 3, favourite: true });
    expect(pager.getSnapshot()).not.toBe(before);
    expect(seen).toEqual([1, 2, 3]);
  });

  it("holds 100,000 items and finds neighbours without copying the list", async () => {
    const pager = new CursorPager<Item>(serve(100_000, 500));
    const t0 = performance.now();
    while (!pager.done) await pager.loadMore();
    const elapsed = performance.now() - t0;
    expect(pager.items.length).toBe(100_000);
    expect(neighbours(pager, 50_000)).toMatchObject({ prev: { id: 49_999 }, next: { id: 50_001 }, index: 49_999 });
    expect(neighbours(pager, 1).prev).toBeNull();
    expect(neighbours(pager, 100_000).next).toBeNull();
    expect(elapsed).toBeLessThan(2000);
  });

  it("does not let a disposed pager's late answer land", async () => {
    let release: (p: Page<Item>) => void = () => undefined;
    const pager = new CursorPager<Item>((_c, signal) => new Promise((resolve, reject) => {
      release = resolve;
      signal.addEventListener("abort", () => reject(new Error("aborted")));
    }));
    const loading = pager.loadMore();
    pager.dispose();
    release({ items: [{ id: 1 }], next_cursor: null });
    await loading;
    expect(pager.items.length).toBe(0);
  });
});

describe("pager cache", () => {
  it("keeps the most recent lists and disposes the oldest", () => {
    const cache = new PagerCache<Item>(2);
    const a = cache.get("a", () => new CursorPager(serve(1, 1)));
    cache.get("b", () => new CursorPager(serve(1, 1)));
    expect(cache.get("a", () => new CursorPager(serve(1, 1)))).toBe(a);
    cache.get("c", () => new CursorPager(serve(1, 1)));
    expect(cache.peek("b")).toBeUndefined();
    expect(cache.peek("a")).toBe(a);
  });
});
