// The words of an OCR reading with their boxes, for the text layer over a photo.
import type { MediaDetail } from "../api/types";
import { toBox } from "./boxes";

export interface OcrWordBox {
  text: string;
  box: { x: number; y: number; w: number; h: number };
}

/** Words with boxes from the OCR lines (a line without words is one box). */
export function ocrWords(ocr: MediaDetail["ocr"]): OcrWordBox[] {
  const out: OcrWordBox[] = [];
  for (const line of ocr?.lines ?? []) {
    if (line.words?.length) {
      for (const w of line.words) {
        const box = toBox(w.box);
        if (box && w.text) out.push({ text: w.text, box });
      }
    } else {
      const box = toBox(line.box);
      if (box && line.text) out.push({ text: line.text, box });
    }
  }
  return out;
}
