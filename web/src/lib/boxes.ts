// Drawing boxes over an image: the API gives boxes normalised (0..1) to the displayed (upright) image;
// the image is shown with object-fit: contain, so it may be letterboxed inside its frame.
import type { Box } from "../api/types";

export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where an image of `natural` size lands inside `frame` with object-fit: contain. */
export function containRect(frame: Size, natural: Size): Rect {
  if (natural.width <= 0 || natural.height <= 0 || frame.width <= 0 || frame.height <= 0) {
    return { left: 0, top: 0, width: 0, height: 0 };
  }
  const scale = Math.min(frame.width / natural.width, frame.height / natural.height);
  const width = natural.width * scale;
  const height = natural.height * scale;
  return { left: (frame.width - width) / 2, top: (frame.height - height) / 2, width, height };
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** A normalised box clipped to the image, in frame pixels. */
export function placeBox(box: Box, content: Rect): Rect {
  const x0 = clamp01(box.x);
  const y0 = clamp01(box.y);
  const x1 = clamp01(box.x + box.w);
  const y1 = clamp01(box.y + box.h);
  return {
    left: content.left + x0 * content.width,
    top: content.top + y0 * content.height,
    width: (x1 - x0) * content.width,
    height: (y1 - y0) * content.height,
  };
}

/** The displayed size of an image whose pixels are stored with EXIF `orientation` (5..8 swap axes). */
export function orientedSize(stored: Size, orientation: number | null | undefined): Size {
  return orientation && orientation >= 5 && orientation <= 8
    ? { width: stored.height, height: stored.width }
    : stored;
}

/**
 * A box normalised to the stored pixel grid, turned into one normalised to the upright image that
 * EXIF `orientation` (1..8) describes. For a reader that reports boxes before rotation; boxes the API
 * already gives upright need none of this.
 */
export function orientBox(box: Box, orientation: number | null | undefined): Box {
  const { x, y, w, h } = box;
  switch (orientation) {
    case 2: return { x: 1 - x - w, y, w, h }; // mirrored
    case 3: return { x: 1 - x - w, y: 1 - y - h, w, h }; // 180°
    case 4: return { x, y: 1 - y - h, w, h }; // mirrored vertically
    case 5: return { x: y, y: x, w: h, h: w }; // transposed
    case 6: return { x: 1 - y - h, y: x, w: h, h: w }; // 90° clockwise
    case 7: return { x: 1 - y - h, y: 1 - x - w, w: h, h: w }; // transverse
    case 8: return { x: y, y: 1 - x - w, w: h, h: w }; // 90° counter-clockwise
    default: return box;
  }
}

/**
 * For a video: the boxes of the keyframe shown at `ms` (the latest keyframe at or before it, within
 * `window` ms); photos have frame_ms null and always show.
 */
export function boxesAt<T extends { frame_ms: number | null }>(items: T[], ms: number | null, window = 5000): T[] {
  if (ms === null) return items.filter((i) => i.frame_ms === null || i.frame_ms === 0);
  let best: number | null = null;
  for (const item of items) {
    const f = item.frame_ms;
    if (f === null || f > ms + 1 || ms - f > window) continue;
    if (best === null || f > best) best = f;
  }
  return items.filter((i) => i.frame_ms === null || i.frame_ms === best);
}

/** A box from the API as an object, or as the [x, y, w, h] list the analyzers store; null if neither. */
export function toBox(value: unknown): Box | null {
  if (Array.isArray(value) && value.length === 4 && value.every((v) => typeof v === "number")) {
    const [x, y, w, h] = value as [number, number, number, number];
    return { x, y, w, h };
  }
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    if (["x", "y", "w", "h"].every((k) => typeof v[k] === "number")) {
      return { x: v.x as number, y: v.y as number, w: v.w as number, h: v.h as number };
    }
  }
  return null;
}
