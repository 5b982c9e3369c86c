import { describe, expect, it } from "vitest";
import type { MediaDetail } from "../api/types";
import { ocrWords } from "./ocr";

type Ocr = NonNullable<MediaDetail["ocr"]>;

describe("OCR words", () => {
  it("takes each word's box, or the line's when it has no words", () => {
    const ocr = {
      text: "HELLO WORLD\nEXIT", rotation: 0,
      lines: [
        { text: "HELLO WORLD", block: 1, confidence: 90, box: { x: 0.1, y: 0.1, w: 0.5, h: 0.1 },
          words: [{ text: "HELLO", confidence: 90, box: { x: 0.1, y: 0.1, w: 0.2, h: 0.1 } },
            { text: "WORLD", confidence: 90, box: { x: 0.35, y: 0.1, w: 0.25, h: 0.1 } }] },
        { text: "EXIT", block: 2, confidence: 80, box: { x: 0.7, y: 0.8, w: 0.1, h: 0.05 }, words: [] },
      ],
    } as unknown as Ocr;
    expect(ocrWords(ocr).map((w) => w.text)).toEqual(["HELLO", "WORLD", "EXIT"]);
    expect(ocrWords(ocr)[2]!.box).toEqual({ x: 0.7, y: 0.8, w: 0.1, h: 0.05 });
    expect(ocrWords(null)).toEqual([]);
  });
});
