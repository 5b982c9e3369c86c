import { describe, expect, it } from "vitest";
import { binAt, brushToRange, fillMonths, lastDayOfMonth, rangeToBrush } from "./timeline";

describe("timeline", () => {
  it("fills empty months between the first and the last", () => {
    const bins = fillMonths([{ month: "2024-03", count: 1 }, { month: "2023-11", count: 4 }]);
    expect(bins.map((b) => b.month)).toEqual(["2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]);
    expect(bins.map((b) => b.count)).toEqual([4, 0, 0, 0, 1]);
    expect(fillMonths([])).toEqual([]);
    expect(fillMonths([{ month: "bad", count: 1 }])).toEqual([]);
  });

  it("caps a long span to the most recent months", () => {
    const bins = fillMonths([{ month: "1970-01", count: 1 }, { month: "2024-12", count: 2 }], 24);
    expect(bins).toHaveLength(24);
    expect(bins[0]!.month).toBe("2023-01");
  });

  it("knows month lengths, leap years included", () => {
    expect(lastDayOfMonth("2024-02")).toBe("2024-02-29");
    expect(lastDayOfMonth("2023-02")).toBe("2023-02-28");
    expect(lastDayOfMonth("2024-12")).toBe("2024-12-31");
  });

  it("turns a brush into whole days and back", () => {
    const bins = fillMonths([{ month: "2024-01", count: 1 }, { month: "2024-06", count: 1 }]);
    const range = brushToRange(bins, 4, 1);
    expect(range).toEqual({ taken_from: "2024-02-01", taken_to: "2024-05-31" });
    expect(rangeToBrush(bins, range!.taken_from, range!.taken_to)).toEqual([1, 4]);
    expect(rangeToBrush(bins, "", "")).toBeNull();
    expect(rangeToBrush(bins, "2024-03-15", "")).toEqual([2, 5]);
  });

  it("finds the bar under the pointer", () => {
    expect(binAt(0, 100, 10)).toBe(0);
    expect(binAt(99.9, 100, 10)).toBe(9);
    expect(binAt(150, 100, 10)).toBe(9);
    expect(binAt(-5, 100, 10)).toBe(0);
  });
});
