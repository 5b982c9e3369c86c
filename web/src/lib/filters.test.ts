import { describe, expect, it } from "vitest";
import {
  activeFilterCount, emptyFilters, filterParams, filtersFromParams, filtersToParams, formatObject, parseBbox,
  parseObject, type Filters,
} from "./filters";

const full: Filters = {
  q: 'obam "red car" -cat', taken_from: "2024-05-01", taken_to: "2024-06-30", no_date: false,
  bbox: [-0.12346, 51.5, 0.2, 51.7], no_gps: false, object: ["person>=2", "dog"], person: [3, 7],
  make: "Canon", model: "EOS 5D", kind: "photo", format: ["jpeg", "heic"], album: 12, favourite: true,
  has_text: false, source: "upload:ann", sort: "taken_at",
};

describe("filters in the address", () => {
  it("round-trips every filter through the URL", () => {
    const params = filtersToParams(full);
    const back = filtersFromParams(new URLSearchParams(params.toString()));
    expect(back).toEqual(full);
  });

  it("leaves defaults out, so an empty search is an empty address", () => {
    expect(filtersToParams(emptyFilters()).toString()).toBe("");
    expect(filtersFromParams(new URLSearchParams(""))).toEqual(emptyFilters());
  });

  it("writes repeatable filters as repeated parameters, in a fixed order", () => {
    const text = filtersToParams(full).toString();
    expect(text).toContain("object=person%3E%3D2&object=dog");
    expect(text).toContain("person=3&person=7");
    expect(text.indexOf("q=")).toBe(0);
    expect(filtersToParams(filtersFromParams(new URLSearchParams(text))).toString()).toBe(text);
  });

  it("drops what it cannot read instead of sending it on", () => {
    const f = filtersFromParams(new URLSearchParams(
      "kind=sound&person=x&person=-1&person=4&album=zero&taken_from=yesterday&has_text=maybe&sort=random&bbox=1,2,3"));
    expect(f.kind).toBe("");
    expect(f.person).toEqual([4]);
    expect(f.album).toBeNull();
    expect(f.taken_from).toBe("");
    expect(f.has_text).toBeNull();
    expect(f.sort).toBe("");
    expect(f.bbox).toBeNull();
  });

  it("keeps has_text=false apart from no filter", () => {
    expect(filtersFromParams(new URLSearchParams("has_text=false")).has_text).toBe(false);
    expect(filtersToParams({ ...emptyFilters(), has_text: false }).toString()).toBe("has_text=false");
  });

  it("rounds a drawn area to about a metre and keeps antimeridian boxes", () => {
    const f = { ...emptyFilters(), bbox: [170.123456789, -10, -170, 10] as [number, number, number, number] };
    expect(filtersToParams(f).get("bbox")).toBe("170.12346,-10,-170,10");
    expect(parseBbox("170,-10,-170,10")).toEqual([170, -10, -170, 10]);
    expect(parseBbox("0,10,1,5")).toBeNull(); // south above north
  });

  it("sends the filters without the sort to facets and the map", () => {
    const p = filterParams(full);
    expect(p.has("sort")).toBe(false);
    expect(p.get("make")).toBe("Canon");
  });

  it("counts active filters besides the text", () => {
    expect(activeFilterCount(emptyFilters())).toBe(0);
    expect(activeFilterCount({ ...emptyFilters(), q: "x", favourite: true, object: ["a", "b"] })).toBe(2);
  });

  it("reads and writes object count conditions", () => {
    expect(parseObject("person>=2")).toEqual({ label: "person", op: ">=", count: 2 });
    expect(parseObject("dog=1")).toEqual({ label: "dog", op: "=", count: 1 });
    expect(parseObject("traffic light")).toEqual({ label: "traffic light", op: "", count: null });
    expect(formatObject(parseObject("person<=3"))).toBe("person<=3");
  });
});
