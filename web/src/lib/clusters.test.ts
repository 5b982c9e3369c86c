import { describe, expect, it } from "vitest";
import type { MapCluster } from "../api/types";
import { bboxCenter, clickAction, clusterSize, markerFor, shortCount, viewToBbox } from "./clusters";

const single = (source: "exif" | "manual" | null): MapCluster =>
  ({ lat: 1, lon: 2, count: 1, bbox: [2, 1, 2, 1], media_id: 9, position_source: source });

describe("map clusters", () => {
  it("draws one item as a pin that tells where its position came from", () => {
    expect(markerFor(single("exif"))).toMatchObject({ kind: "pin", source: "exif", mediaId: 9 });
    expect(markerFor(single("manual"))).toMatchObject({ kind: "pin", source: "manual" });
    expect(markerFor(single("manual")).label).toContain("set by hand");
  });

  it("draws many as a bubble sized by count with a short label", () => {
    const m = markerFor({ lat: 0, lon: 0, count: 12_345, bbox: [0, 0, 1, 1], media_id: null, position_source: null });
    expect(m).toMatchObject({ kind: "cluster", text: "12k", count: 12_345 });
    expect(clusterSize(2)).toBe(28);
    expect(clusterSize(100_000)).toBe(64);
    expect(clusterSize(50)).toBeGreaterThan(clusterSize(5));
    expect(clusterSize(10_000_000)).toBe(64);
  });

  it("shortens counts", () => {
    expect([0, 999, 1000, 1250, 9999, 12_345, 999_999, 1_250_000].map(shortCount))
      .toEqual(["0", "999", "1k", "1.2k", "9.9k", "12k", "999k", "1.2M"]);
  });

  it("opens a pin, zooms into a cluster, lists a cluster that zooming cannot split", () => {
    expect(clickAction(markerFor(single("exif")), 5, 18)).toEqual({ type: "open", mediaId: 9 });
    const spread = markerFor({ lat: 0, lon: 0, count: 5, bbox: [0, 0, 1, 1], media_id: null, position_source: null });
    expect(clickAction(spread, 5, 18)).toEqual({ type: "zoom", bbox: [0, 0, 1, 1] });
    expect(clickAction(spread, 18, 18).type).toBe("search");
    const stacked = markerFor({ lat: 3, lon: 4, count: 7, bbox: [4, 3, 4, 3], media_id: null, position_source: null });
    const action = clickAction(stacked, 3, 18);
    expect(action.type).toBe("search");
    if (action.type === "search") {
      expect(action.bbox[0]).toBeLessThan(4);
      expect(action.bbox[2]).toBeGreaterThan(4);
    }
  });

  it("turns a wrapped Leaflet view into the API's bbox", () => {
    expect(viewToBbox(-10, 40, 10, 50)).toEqual([-10, 40, 10, 50]);
    expect(viewToBbox(170, -10, 190, 10)).toEqual([170, -10, -170, 10]); // across the antimeridian
    expect(viewToBbox(-500, -100, 500, 100)).toEqual([-180, -90, 180, 90]);
    expect(viewToBbox(350, 0, 370, 1)).toEqual([-10, 0, 10, 1]);
    expect(bboxCenter([170, -10, -170, 10])).toEqual([0, 180]);
  });
});
