// Boxes over a photo or a video frame: objects, faces (linked to the person) and OCR words (the text
// shows on hover and focus). The media is shown with object-fit: contain; the boxes follow its
// letterboxing through containRect.
import { Link } from "react-router";
import type { FaceHit, MediaDetail, ObjectHit } from "../api/types";
import { boxesAt, containRect, placeBox, toBox, type Rect, type Size } from "../lib/boxes";
import { ocrWords } from "../lib/ocr";

export { ocrWords };

export interface Layers {
  objects: boolean;
  faces: boolean;
  text: boolean;
}

function style(r: Rect) {
  return { left: r.left, top: r.top, width: r.width, height: r.height };
}

interface Props {
  frame: Size;
  natural: Size;
  item: MediaDetail;
  layers: Layers;
  timeMs: number | null;
}

export function Overlay({ frame, natural, item, layers, timeMs }: Props) {
  const content = containRect(frame, natural);
  if (content.width === 0) return null;
  const objects: ObjectHit[] = layers.objects ? boxesAt(item.objects?.items ?? [], timeMs) : [];
  const faces: FaceHit[] = layers.faces ? boxesAt(item.faces ?? [], timeMs) : [];
  const words = layers.text && item.kind === "photo" ? ocrWords(item.ocr) : [];
  return (
    <div className="overlay" aria-label="Boxes over the image">
      {objects.map((o, i) => {
        const box = toBox(o.box);
        if (!box) return null;
        return (
          <div key={`o${i}`} className="box object" style={style(placeBox(box, content))}
            title={`${o.label} ${(o.confidence * 100).toFixed(0)}%`}>
            <span className="box-label">{o.label} {(o.confidence * 100).toFixed(0)}%</span>
          </div>
        );
      })}
      {faces.map((f) => {
        const box = toBox(f.box);
        if (!box) return null;
        const name = f.person_name || (f.person_id ? `Person ${f.person_id}` : "Unknown");
        return f.person_id ? (
          <Link key={`f${f.id}`} to={`/people/${f.person_id}`} className="box face" style={style(placeBox(box, content))}
            aria-label={`Face: ${name}`}>
            <span className="box-label">{name}</span>
          </Link>
        ) : (
          <div key={`f${f.id}`} className="box face" style={style(placeBox(box, content))} title={name}>
            <span className="box-label">{name}</span>
          </div>
        );
      })}
      {words.map((w, i) => (
        <span key={`w${i}`} className="box word" style={style(placeBox(w.box, content))} tabIndex={0}
          aria-label={`Text: ${w.text}`} data-text={w.text} />
      ))}
    </div>
  );
}
