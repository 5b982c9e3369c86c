import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatExposure, formatLocal, placeName, plural, toInputLocal } from "./format";

describe("formatting", () => {
  it("writes exposure times as photographers do", () => {
    expect(formatExposure(0.013333334)).toBe("1/75 s");
    expect(formatExposure("0.004")).toBe("1/250 s");
    expect(formatExposure(2.5)).toBe("2.5 s");
    expect(formatExposure(null)).toBe("");
    expect(formatExposure("1/60")).toBe("1/60");
  });

  it("writes sizes, durations, times and places", () => {
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(0)).toBe("0 B");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(11.4)).toBe("0:11");
    expect(formatLocal("2024-05-01T12:34:56")).toBe("2024-05-01 12:34");
    expect(toInputLocal("2024-05-01T12:34:56")).toBe("2024-05-01T12:34");
    expect(placeName({ name: "Arezzo", country: "Italy" })).toBe("Arezzo, Italy");
    expect(plural(1, "item")).toBe("1 item");
    expect(plural(1200, "person", "people")).toBe("1,200 people");
  });
});

describe("camera names", () => {
  it("does not repeat the make", async () => {
    const { cameraName } = await import("./format");
    expect(cameraName("Canon", "Canon EOS 40D")).toBe("Canon EOS 40D");
    expect(cameraName("NIKON CORPORATION", "NIKON D70")).toBe("NIKON D70");
    expect(cameraName("Apple", "iPhone 11 Pro")).toBe("Apple iPhone 11 Pro");
    expect(cameraName(null, "X100")).toBe("X100");
    expect(cameraName("Fujifilm", null)).toBe("Fujifilm");
  });
});
