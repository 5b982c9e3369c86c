"""Videos: ffprobe for duration, codecs, frame rate and rotation (which is the validation: a file ffprobe
cannot read, or without a video stream, is rejected), and ffmpeg for a poster frame.

ffmpeg applies the display matrix (rotation) itself when decoding, so the poster frame is upright; the
displayed width and height are the coded ones swapped for a quarter turn.
"""

from __future__ import annotations

import io
import json
import logging
import math
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from PIL import Image

from ingest import outcome
from ingest.outcome import Rejected

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 60.0
POSTER_TIMEOUT = 120.0

# Rotation (degrees clockwise to display upright) as the EXIF orientation that means the same.
ROTATION_TO_ORIENTATION = {0: 1, 90: 6, 180: 3, 270: 8}


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float | None
    width: int  # displayed (rotation applied)
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # clockwise degrees: 0, 90, 180 or 270
    video_codec: str | None
    audio_codec: str | None
    frame_rate: float | None
    container: str | None
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def orientation(self) -> int:
        return ROTATION_TO_ORIENTATION.get(self.rotation, 1)


def _rate(value: Any) -> float | None:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate > 0 else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise display rotation from the display matrix (ffprobe reports it counter-clockwise)."""
    degrees: float | None = None
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            degrees = -float(side["rotation"])
    if degrees is None:
        rotate = (stream.get("tags") or {}).get("rotate")
        degrees = float(rotate) if rotate is not None else 0.0
    return round(degrees / 90.0) * 90 % 360


def probe(path: str) -> VideoInfo:
    """Read a video's structure; raises ``Rejected`` when it is not a playable video."""
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
            capture_output=True, timeout=PROBE_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Rejected(outcome.CORRUPT, f"ffprobe did not finish within {PROBE_TIMEOUT:.0f} s") from exc
    message = result.stderr.decode("utf-8", "replace").strip().splitlines()
    if result.returncode != 0:
        reason = message[-1] if message else "ffprobe failed"
        raise Rejected(outcome.CORRUPT, f"video cannot be read: {reason}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise Rejected(outcome.CORRUPT, "video cannot be read: ffprobe gave no description") from exc
    streams: list[dict[str, Any]] = data.get("streams") or []
    fmt: dict[str, Any] = data.get("format") or {}
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")
                  and int(s.get("width") or 0) > 0), None)
    if video is None:
        raise Rejected(outcome.NO_VIDEO_STREAM, "the container holds no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    rotation = _rotation(video)
    coded_w, coded_h = int(video["width"]), int(video["height"])
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    duration = _float(fmt.get("duration")) or _float(video.get("duration"))
    summary = [
        {k: s.get(k) for k in ("index", "codec_type", "codec_name", "width", "height", "avg_frame_rate",
                               "sample_rate", "channels", "duration") if s.get(k) is not None}
        for s in streams
    ]
    return VideoInfo(
        duration_s=duration, width=width, height=height, coded_width=coded_w, coded_height=coded_h,
        rotation=rotation, video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
        frame_rate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        container=fmt.get("format_name"), streams=summary,
    )


def poster_frame(path: str, info: VideoInfo, max_side: int) -> Image.Image | None:
    """One upright frame, a tenth into the video (the first frames are often black), at most
    ``max_side`` on its long side. None when no frame can be decoded."""
    offsets = [min(1.0, (info.duration_s or 0) * 0.1), 0.0]
    scale = (f"scale='if(gte(iw,ih),min({max_side},iw),-2)':'if(gte(iw,ih),-2,min({max_side},ih))'"
             ":flags=bilinear")
    for offset in dict.fromkeys(offsets):
        try:
            result = subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{offset:.3f}", "-i", path, "-map", "0:v:0",
                 "-frames:v", "1", "-vf", scale, "-f", "image2pipe", "-c:v", "ppm", "-"],
                capture_output=True, timeout=POSTER_TIMEOUT, check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning("poster frame of %s timed out", path)
            return None
        if result.returncode == 0 and result.stdout:
            try:
                frame = Image.open(io.BytesIO(result.stdout), formats=["PPM"])
                frame.load()
                return frame
            except (OSError, ValueError) as exc:
                log.debug("poster frame at %.3f s not decodable: %s", offset, exc)
    return None
