import { describe, expect, it } from "vitest";
import { boxesAt, containRect, orientBox, orientedSize, placeBox } from "./boxes";

describe("boxes over an image", () => {
  it("letterboxes a wide image in a tall frame (bars above and below)", () => {
    expect(containRect({ width: 400, height: 400 }, { width: 4000, height: 2000 }))
      .toEqual({ left: 0, top: 100, width: 400, height: 200 });
  });

  it("pillarboxes a tall image in a wide frame (bars left and right)", () => {
    expect(containRect({ width: 800, height: 400 }, { width: 1000, height: 2000 }))
      .toEqual({ left: 300, top: 0, width: 200, height: 400 });
  });

  it("places a normalised box inside the letterboxed image", () => {
    const content = containRect({ width: 400, height: 400 }, { width: 4000, height: 2000 });
    expect(placeBox({ x: 0.5, y: 0.5, w: 0.25, h: 0.5 }, content))
      .toEqual({ left: 200, top: 200, width: 100, height: 100 });
  });

  it("clips boxes that reach past the image", () => {
    const content = { left: 10, top: 20, width: 100, height: 50 };
    const got = placeBox({ x: -0.1, y: 0.9, w: 0.3, h: 0.3 }, content);
    const want = { left: 10, top: 65, width: 20, height: 5 };
    for (const k of ["left", "top", "width", "height"] as const) expect(got[k]).toBeCloseTo(want[k], 9);
  });

  it("gives nothing before the image has a size", () => {
    expect(containRect({ width: 400, height: 300 }, { width: 0, height: 0 }).width).toBe(0);
  });

  it("swaps width and height for orientations that turn the image a quarter", () => {
    expect(orientedSize({ width: 4000, height: 3000 }, 6)).toEqual({ width: 3000, height: 4000 });
    expect(orientedSize({ width: 4000, height: 3000 }, 3)).toEqual({ width: 4000, height: 3000 });
    expect(orientedSize({ width: 4000, height: 3000 }, null)).toEqual({ width: 4000, height: 3000 });
  });

  // A box at the stored image's top-left corner (x 0..0.2, y 0..0.1) and where it must land upright.
  const corner = { x: 0, y: 0, w: 0.2, h: 0.1 };
  it.each([
    [1, { x: 0, y: 0, w: 0.2, h: 0.1 }],
    [2, { x: 0.8, y: 0, w: 0.2, h: 0.1 }],
    [3, { x: 0.8, y: 0.9, w: 0.2, h: 0.1 }],
    [4, { x: 0, y: 0.9, w: 0.2, h: 0.1 }],
    [5, { x: 0, y: 0, w: 0.1, h: 0.2 }],
    [6, { x: 0.9, y: 0, w: 0.1, h: 0.2 }], // turned clockwise: top-left goes to top-right
    [7, { x: 0.9, y: 0.8, w: 0.1, h: 0.2 }],
    [8, { x: 0, y: 0.8, w: 0.1, h: 0.2 }], // turned counter-clockwise: top-left goes to bottom-left
  ])("orientation %i moves a corner box to the right corner", (orientation, expected) => {
    const got = orientBox(corner, orientation);
    for (const k of ["x", "y", "w", "h"] as const) expect(got[k]).toBeCloseTo(expected[k], 10);
  });

  it("rotated and letterboxed together: a face on a portrait photo stored sideways", () => {
    // Stored 4000x3000 with orientation 6, shown upright (3000x4000) in a 600x400 frame.
    const natural = orientedSize({ width: 4000, height: 3000 }, 6);
    const content = containRect({ width: 600, height: 400 }, natural);
    expect(content).toEqual({ left: 150, top: 0, width: 300, height: 400 });
    const box = placeBox(orientBox({ x: 0.5, y: 0, w: 0.25, h: 0.5 }, 6), content);
    expect(box).toEqual({ left: 300, top: 200, width: 150, height: 100 });
  });

  it("shows a video's boxes of the keyframe at or before the playhead", () => {
    const items = [{ frame_ms: 0, n: "a" }, { frame_ms: 2000, n: "b" }, { frame_ms: 2000, n: "c" }, { frame_ms: 9000, n: "d" }];
    expect(boxesAt(items, 2500).map((i) => i.n)).toEqual(["b", "c"]);
    expect(boxesAt(items, 100).map((i) => i.n)).toEqual(["a"]);
    expect(boxesAt(items, 8000, 5000).map((i) => i.n)).toEqual([]); // the last keyframe is too far back
    expect(boxesAt([{ frame_ms: null }], null)).toHaveLength(1);
  });
});

describe("box shapes", () => {
  it("reads boxes as objects or as [x, y, w, h] lists", async () => {
    const { toBox } = await import("./boxes");
    expect(toBox({ x: 0.1, y: 0.2, w: 0.3, h: 0.4 })).toEqual({ x: 0.1, y: 0.2, w: 0.3, h: 0.4 });
    expect(toBox([0.1, 0.2, 0.3, 0.4])).toEqual({ x: 0.1, y: 0.2, w: 0.3, h: 0.4 });
    expect(toBox([1, 2])).toBeNull();
    expect(toBox(null)).toBeNull();
    expect(toBox({ x: "1" })).toBeNull();
  });
});
