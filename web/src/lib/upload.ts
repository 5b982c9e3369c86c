// The upload queue: one request per file (so each has its own progress and outcome), a few at a time.
import type { UploadOutcome } from "../api/types";

export type EntryState = "queued" | "uploading" | "done" | "failed";

export interface UploadEntry {
  key: string;
  name: string;
  path: string;
  size: number;
  state: EntryState;
  loaded: number;
  outcome: UploadOutcome | null;
  error: string | null;
}

export type UploadAction =
  | { type: "add"; files: { key: string; name: string; path: string; size: number }[] }
  | { type: "start"; key: string }
  | { type: "progress"; key: string; loaded: number }
  | { type: "finish"; key: string; outcome: UploadOutcome }
  | { type: "fail"; key: string; error: string }
  | { type: "retry"; key: string }
  | { type: "clear" };

function change(queue: UploadEntry[], key: string, f: (e: UploadEntry) => UploadEntry): UploadEntry[] {
  return queue.map((e) => (e.key === key ? f(e) : e));
}

export function uploadReducer(queue: UploadEntry[], action: UploadAction): UploadEntry[] {
  switch (action.type) {
    case "add": {
      const known = new Set(queue.map((e) => e.key));
      const added = action.files.filter((f) => !known.has(f.key)).map((f): UploadEntry => ({
        ...f, state: "queued", loaded: 0, outcome: null, error: null,
      }));
      return [...queue, ...added];
    }
    case "start":
      return change(queue, action.key, (e) => (e.state === "queued" ? { ...e, state: "uploading", loaded: 0 } : e));
    case "progress":
      return change(queue, action.key, (e) =>
        e.state === "uploading" ? { ...e, loaded: Math.min(e.size, Math.max(e.loaded, action.loaded)) } : e);
    case "finish":
      return change(queue, action.key, (e) => ({
        ...e, state: action.outcome.status === "error" ? "failed" : "done", loaded: e.size,
        outcome: action.outcome, error: action.outcome.status === "error" ? action.outcome.detail ?? action.outcome.reason : null,
      }));
    case "fail":
      return change(queue, action.key, (e) => ({ ...e, state: "failed", error: action.error }));
    case "retry":
      return change(queue, action.key, (e) =>
        e.state === "failed" ? { ...e, state: "queued", loaded: 0, error: null, outcome: null } : e);
    case "clear":
      return queue.filter((e) => e.state === "queued" || e.state === "uploading");
  }
}

/** The keys to start now so that at most `concurrency` run at once, in the order they were added. */
export function nextToStart(queue: UploadEntry[], concurrency: number): string[] {
  const running = queue.filter((e) => e.state === "uploading").length;
  const free = Math.max(0, concurrency - running);
  return queue.filter((e) => e.state === "queued").slice(0, free).map((e) => e.key);
}

export interface UploadSummary {
  files: number;
  queued: number;
  uploading: number;
  new: number;
  duplicate: number;
  rejected: number;
  failed: number;
  bytes: number;
  loaded: number;
}

export function summarise(queue: UploadEntry[]): UploadSummary {
  const s: UploadSummary = { files: queue.length, queued: 0, uploading: 0, new: 0, duplicate: 0, rejected: 0,
    failed: 0, bytes: 0, loaded: 0 };
  for (const e of queue) {
    s.bytes += e.size;
    s.loaded += e.loaded;
    if (e.state === "queued") s.queued++;
    else if (e.state === "uploading") s.uploading++;
    else if (e.state === "failed") s.failed++;
    else if (e.outcome?.status === "new") s.new++;
    else if (e.outcome?.status === "duplicate") s.duplicate++;
    else if (e.outcome?.status === "rejected") s.rejected++;
  }
  return s;
}

/** A key for a dropped file: its path in the dropped folder, size and time, so a second drop of the
 * same file is not queued twice. */
export function fileKey(path: string, size: number, lastModified: number): string {
  return `${path}\u0000${size}\u0000${lastModified}`;
}
