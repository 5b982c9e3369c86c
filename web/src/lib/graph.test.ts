import { describe, expect, it } from "vitest";
import type { MediaSummary } from "../api/types";
import { edgeWidth, toGraph } from "./graph";

const m = (id: number) => ({ id, name: `${id}.jpg`, thumbnail_url: `/api/media/${id}/thumbnail` }) as MediaSummary;

describe("near-duplicate graph", () => {
  it("draws closer matches thicker", () => {
    expect(edgeWidth(0, 8)).toBe(8);
    expect(edgeWidth(8, 8)).toBe(1);
    expect(edgeWidth(2, 8)).toBeGreaterThan(edgeWidth(6, 8));
    expect(edgeWidth(20, 8)).toBe(1);
  });

  it("makes one node per item and one edge per pair", () => {
    const g = toGraph([
      { members: [m(1), m(2), m(3)], edges: [{ a: 1, b: 2, distance: 1 }, { a: 2, b: 1, distance: 1 }, { a: 2, b: 3, distance: 5 }] },
      { members: [m(4), m(5)], edges: [{ a: 4, b: 5, distance: 0 }] },
    ], 8);
    expect(g.nodes.map((n) => [n.id, n.group])).toEqual([[1, "g0"], [2, "g0"], [3, "g0"], [4, "g1"], [5, "g1"]]);
    expect(g.edges.map((e) => e.id)).toEqual(["1-2", "2-3", "4-5"]);
  });
});
