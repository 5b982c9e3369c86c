// React glue: the search in the address, lists that page, data that loads.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { useSearchParams } from "react-router";
import { api, messageOf } from "../api/client";
import type { MediaSummary, Page } from "../api/types";
import { filtersFromParams, filtersKey, filtersToParams, type Filters } from "./filters";
import { CursorPager, PagerCache, type PagerSnapshot } from "./pager";

/** The filters are the address: reading them parses it, setting them writes it. */
export function useFilters(): [Filters, (f: Filters, opts?: { replace?: boolean }) => void, string] {
  const [params, setParams] = useSearchParams();
  const text = params.toString();
  const filters = useMemo(() => filtersFromParams(new URLSearchParams(text)), [text]);
  const set = useCallback((f: Filters, opts?: { replace?: boolean }) => {
    setParams(filtersToParams(f), { replace: opts?.replace ?? false });
  }, [setParams]);
  return [filters, set, filtersKey(filters)];
}

export const PAGE_SIZE = 200;

export const mediaLists = new PagerCache<MediaSummary>(4);

export function mediaPager(filters: Filters): CursorPager<MediaSummary> {
  const key = filtersKey(filters);
  return mediaLists.get(key, () => new CursorPager<MediaSummary>((cursor, signal) => {
    const params = filtersToParams(filters);
    params.set("limit", String(PAGE_SIZE));
    if (cursor) params.set("cursor", cursor);
    else params.set("with_total", "true");
    return api.get<Page<MediaSummary>>("/api/media", params, signal);
  }));
}

export function usePager<T extends { id: number }>(pager: CursorPager<T>): PagerSnapshot {
  const snapshot = useSyncExternalStore(pager.subscribe, pager.getSnapshot);
  useEffect(() => {
    if (snapshot.version === 0) void pager.loadMore();
  }, [pager, snapshot.version]);
  return snapshot;
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): void;
  setData(value: T): void;
}

/** GET one thing; `path` null waits. Stale answers (the path changed meanwhile) are dropped. */
export function useApi<T>(path: string | null, query?: URLSearchParams | Record<string, string | number | boolean | undefined>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const queryKey = query instanceof URLSearchParams ? query.toString() : JSON.stringify(query ?? {});
  const queryRef = useRef(query);
  queryRef.current = query;
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    api.get<T>(path, queryRef.current, controller.signal)
      .then((d) => setData(d))
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(e));
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [path, queryKey, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

/** A value that follows `value` after it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return current;
}

/** The size of an element, kept up to date. */
export function useSize<E extends HTMLElement>(): [(el: E | null) => void, { width: number; height: number }] {
  const [size, setSize] = useState({ width: 0, height: 0 });
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback((el: E | null) => {
    observer.current?.disconnect();
    if (!el) return;
    observer.current = new ResizeObserver(([entry]) => {
      if (entry) setSize({ width: entry.contentRect.width, height: entry.contentRect.height });
    });
    observer.current.observe(el);
  }, []);
  return [ref, size];
}
