// A bar per month; drag across bars (or use the arrow keys with Shift) to choose a range of months.
import { useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import { binAt, type MonthBin } from "../lib/timeline";

interface Props {
  bins: MonthBin[];
  selected: [number, number] | null;
  onBrush(range: [number, number]): void;
}

const HEIGHT = 140;

export function Histogram({ bins, selected, onBrush }: Props) {
  const svg = useRef<SVGSVGElement | null>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const [cursor, setCursor] = useState(bins.length - 1);
  const max = Math.max(1, ...bins.map((b) => b.count));
  const range = drag ?? selected;
  const n = bins.length;

  function at(e: PointerEvent): number {
    const rect = svg.current!.getBoundingClientRect();
    return binAt(e.clientX - rect.left, rect.width, n);
  }

  function key(e: KeyboardEvent) {
    let c = cursor;
    if (e.key === "ArrowLeft") c = Math.max(0, cursor - 1);
    else if (e.key === "ArrowRight") c = Math.min(n - 1, cursor + 1);
    else if (e.key === "Home") c = 0;
    else if (e.key === "End") c = n - 1;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onBrush(range ?? [cursor, cursor]);
      return;
    } else return;
    e.preventDefault();
    setCursor(c);
    if (e.shiftKey) setDrag([range ? range[0] : cursor, c]);
    else setDrag([c, c]);
  }

  if (n === 0) return <p className="muted">No dated items.</p>;
  const years = bins.map((b, i) => ({ i, year: b.month.slice(0, 4), first: b.month.endsWith("-01") || i === 0 })).filter((y) => y.first);
  const lo = range ? Math.min(range[0], range[1]) : -1;
  const hi = range ? Math.max(range[0], range[1]) : -1;
  const current = bins[cursor];

  return (
    <div className="histogram">
      <svg ref={svg} viewBox={`0 0 ${n} ${HEIGHT}`} preserveAspectRatio="none" role="slider" tabIndex={0}
        aria-label="Items per month; drag or use arrow keys (Shift to extend, Enter to apply) to choose months"
        aria-valuemin={0} aria-valuemax={n - 1} aria-valuenow={cursor}
        aria-valuetext={current ? `${current.month}: ${current.count} items` : ""}
        onKeyDown={key}
        onPointerDown={(e) => { svg.current?.setPointerCapture(e.pointerId); const i = at(e); setDrag([i, i]); }}
        onPointerMove={(e) => { if (drag && e.buttons) setDrag([drag[0], at(e)]); }}
        onPointerUp={(e) => { if (drag) { const r: [number, number] = [drag[0], at(e)]; setDrag(null); onBrush(r); } }}>
        {range && <rect x={lo} y={0} width={hi - lo + 1} height={HEIGHT} className="brush" />}
        {bins.map((b, i) => {
          const h = b.count === 0 ? 0 : Math.max(2, (b.count / max) * (HEIGHT - 4));
          return (
            <rect key={b.month} x={i + 0.1} width={0.8} y={HEIGHT - h} height={h}
              className={`bar${i >= lo && i <= hi ? " in" : ""}${i === cursor ? " cursor" : ""}`}>
              <title>{`${b.month}: ${b.count}`}</title>
            </rect>
          );
        })}
      </svg>
      <div className="axis" aria-hidden="true">
        {years.filter((_, k) => years.length < 16 || k % Math.ceil(years.length / 12) === 0).map((y) => (
          <span key={y.i} style={{ left: `${(y.i / n) * 100}%` }}>{y.year}</span>
        ))}
      </div>
    </div>
  );
}
