import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "./config";

describe("page config", () => {
  it("takes the defaults for a missing or broken file", () => {
    expect(parseConfig(null)).toEqual(DEFAULT_CONFIG);
    expect(parseConfig({ tileUrl: 5, tileMaxZoom: 99 })).toEqual(DEFAULT_CONFIG);
  });

  it("keeps an empty tile URL: a map without tiles", () => {
    expect(parseConfig({ tileUrl: "" }).tileUrl).toBe("");
    expect(parseConfig({ tileUrl: " https://tiles.example/{z}/{x}/{y}.png ", tileMaxZoom: 17 }))
      .toMatchObject({ tileUrl: "https://tiles.example/{z}/{x}/{y}.png", tileMaxZoom: 17 });
  });
});
