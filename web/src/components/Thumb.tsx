import type { MediaSummary } from "../api/types";
import { formatDuration } from "../lib/format";

export function Thumb({ item, size }: { item: MediaSummary; size?: "grid" | "preview" }) {
  const src = size === "preview" ? `${item.thumbnail_url}?size=preview` : item.thumbnail_url;
  return (
    <span className="thumb">
      <img src={src} alt="" loading="lazy" decoding="async" draggable={false} />
      {item.kind === "video" && <span className="badge video" aria-hidden="true">▶ {formatDuration(item.duration_s)}</span>}
      {item.favourite && <span className="badge fav" aria-hidden="true">★</span>}
    </span>
  );
}
