import { describe, expect, it } from "vitest";
import { emptySelection, selectAll, selectRange, toggleOne } from "./selection";

const ids = [10, 11, 12, 13, 14, 15];
const idAt = (i: number) => ids[i];

describe("selection", () => {
  it("toggles one item and remembers it as the anchor", () => {
    let s = toggleOne(emptySelection, 12, 2);
    expect([...s.ids]).toEqual([12]);
    expect(s.anchor).toBe(2);
    s = toggleOne(s, 12, 2);
    expect(s.ids.size).toBe(0);
  });

  it("selects a run with shift from the anchor, either way", () => {
    let s = toggleOne(emptySelection, 11, 1);
    s = selectRange(s, idAt, 4);
    expect([...s.ids].sort()).toEqual([11, 12, 13, 14]);
    s = selectRange(toggleOne(emptySelection, 15, 5), idAt, 3);
    expect([...s.ids].sort()).toEqual([13, 14, 15]);
  });

  it("selects all loaded items", () => {
    expect(selectAll(ids).ids.size).toBe(6);
  });
});
