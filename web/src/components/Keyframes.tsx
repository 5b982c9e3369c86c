// The keyframes strip of a video: each keyframe the analyses looked at, as a picture drawn from the
// video itself in a hidden player (the API lists keyframe times, not images), and a button that seeks.
import { useEffect, useState } from "react";
import { formatDuration } from "../lib/format";

const MAX_FRAMES = 40;

export function Keyframes({ src, keyframes, current, onSeek }: {
  src: string; keyframes: { ms: number }[]; current: number; onSeek(seconds: number): void;
}) {
  const [images, setImages] = useState<Record<number, string>>({});
  const frames = keyframes.slice(0, MAX_FRAMES);

  useEffect(() => {
    if (frames.length === 0) return;
    let stopped = false;
    const video = document.createElement("video");
    video.muted = true;
    video.preload = "auto";
    video.src = src;
    const canvas = document.createElement("canvas");
    const grab = async () => {
      await new Promise<void>((resolve, reject) => {
        video.addEventListener("loadeddata", () => resolve(), { once: true });
        video.addEventListener("error", () => reject(new Error("no video")), { once: true });
      });
      for (const k of frames) {
        if (stopped) return;
        await new Promise<void>((resolve) => {
          video.addEventListener("seeked", () => resolve(), { once: true });
          video.currentTime = Math.min(k.ms / 1000, Math.max(0, (video.duration || 0) - 0.05));
        });
        const w = 160;
        const h = Math.round((video.videoHeight / Math.max(1, video.videoWidth)) * w) || 90;
        canvas.width = w;
        canvas.height = h;
        canvas.getContext("2d")?.drawImage(video, 0, 0, w, h);
        const url = canvas.toDataURL("image/jpeg", 0.7);
        if (!stopped) setImages((prev) => ({ ...prev, [k.ms]: url }));
      }
    };
    grab().catch(() => undefined); // the strip keeps its time buttons without pictures
    return () => {
      stopped = true;
      video.removeAttribute("src");
      video.load();
    };
  }, [src, keyframes.length]);

  if (frames.length === 0) return null;
  return (
    <section aria-label="Keyframes" className="keyframes">
      <h3>Keyframes</h3>
      <ol>
        {frames.map((k, i) => {
          const next = frames[i + 1]?.ms ?? Infinity;
          const active = current * 1000 >= k.ms && current * 1000 < next;
          return (
            <li key={k.ms}>
              <button type="button" onClick={() => onSeek(k.ms / 1000)} aria-current={active ? "true" : undefined}
                aria-label={`Go to keyframe at ${formatDuration(k.ms / 1000)}`}>
                {images[k.ms] ? <img src={images[k.ms]} alt="" /> : <span className="kf-empty" />}
                <span className="small">{formatDuration(k.ms / 1000)}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
