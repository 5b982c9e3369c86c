import { describe, expect, it } from "vitest";
import type { UploadOutcome } from "../api/types";
import { fileKey, nextToStart, summarise, uploadReducer, type UploadEntry } from "./upload";

const outcome = (status: UploadOutcome["status"], extra: Partial<UploadOutcome> = {}): UploadOutcome =>
  ({ name: "a.jpg", status, media_id: 1, duplicate_of: null, reason: null, detail: null, ...extra });

function queueOf(n: number): UploadEntry[] {
  return uploadReducer([], {
    type: "add",
    files: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, name: `f${i}.jpg`, path: `dir/f${i}.jpg`, size: 100 })),
  });
}

describe("upload queue", () => {
  it("queues files once, however often they are dropped", () => {
    let q = queueOf(3);
    q = uploadReducer(q, { type: "add", files: [{ key: "k1", name: "f1.jpg", path: "dir/f1.jpg", size: 100 }] });
    expect(q.map((e) => e.state)).toEqual(["queued", "queued", "queued"]);
    expect(fileKey("a/b.jpg", 10, 5)).not.toBe(fileKey("b.jpg", 10, 5));
  });

  it("starts at most `concurrency` at a time, in order", () => {
    let q = queueOf(5);
    expect(nextToStart(q, 2)).toEqual(["k0", "k1"]);
    q = uploadReducer(q, { type: "start", key: "k0" });
    expect(nextToStart(q, 2)).toEqual(["k1"]);
    q = uploadReducer(q, { type: "start", key: "k1" });
    expect(nextToStart(q, 2)).toEqual([]);
  });

  it("tracks progress, never backwards nor past the size", () => {
    let q = uploadReducer(queueOf(1), { type: "start", key: "k0" });
    q = uploadReducer(q, { type: "progress", key: "k0", loaded: 60 });
    q = uploadReducer(q, { type: "progress", key: "k0", loaded: 40 });
    expect(q[0]!.loaded).toBe(60);
    q = uploadReducer(q, { type: "progress", key: "k0", loaded: 500 });
    expect(q[0]!.loaded).toBe(100);
  });

  it("records each file's outcome: new, duplicate, rejected, error, or a failed request", () => {
    let q = queueOf(5);
    for (const e of q) q = uploadReducer(q, { type: "start", key: e.key });
    q = uploadReducer(q, { type: "finish", key: "k0", outcome: outcome("new") });
    q = uploadReducer(q, { type: "finish", key: "k1", outcome: outcome("duplicate", { duplicate_of: 7 }) });
    q = uploadReducer(q, { type: "finish", key: "k2", outcome: outcome("rejected", { reason: "unsupported" }) });
    q = uploadReducer(q, { type: "finish", key: "k3", outcome: outcome("error", { detail: "disk full" }) });
    q = uploadReducer(q, { type: "fail", key: "k4", error: "413 too large" });
    expect(q.map((e) => e.state)).toEqual(["done", "done", "done", "failed", "failed"]);
    expect(q[3]!.error).toBe("disk full");
    expect(summarise(q)).toMatchObject({ files: 5, new: 1, duplicate: 1, rejected: 1, failed: 2, queued: 0 });
  });

  it("retries a failed file and clears finished ones", () => {
    let q = uploadReducer(queueOf(2), { type: "start", key: "k0" });
    q = uploadReducer(q, { type: "fail", key: "k0", error: "network error" });
    q = uploadReducer(q, { type: "retry", key: "k0" });
    expect(q[0]).toMatchObject({ state: "queued", error: null, loaded: 0 });
    q = uploadReducer(q, { type: "start", key: "k0" });
    q = uploadReducer(q, { type: "finish", key: "k0", outcome: outcome("new") });
    q = uploadReducer(q, { type: "clear" });
    expect(q.map((e) => e.key)).toEqual(["k1"]);
  });
});

describe("dropped folders", () => {
  it("leaves hidden files out", async () => {
    const { wanted } = await import("./dropped");
    expect(wanted("trip/a.jpg")).toBe(true);
    expect(wanted("trip/.DS_Store")).toBe(false);
    expect(wanted("trip/._a.jpg")).toBe(false);
    expect(wanted(".git/config")).toBe(false);
  });
});
