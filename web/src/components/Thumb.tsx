import type { MediaSummary } from "../api/types";
import { formatDuration } from "../lib/format";

/** `eager`: the virtualised grid only renders what is on screen, so lazy loading would only add work. */
export function Thumb({ item, size, eager }: { item: MediaSummary; size?: "grid" | "preview"; eager?: boolean }) {
  const src = size === "preview" ? `${item.thumbnail_url}?size=preview` : item.thumbnail_url;
  return (
    <span className="thumb">
      <img src={src} alt="" loading={eager ? "eager" : "lazy"} decoding="async" draggable={false} />
      {item.kind === "video" && <span className="badge video" aria-hidden="true">▶ {formatDuration(item.duration_s)}</span>}
      {item.favourite && <span className="badge fav" aria-hidden="true">★</span>}
    </span>
  );
}
