"""What a browser plays as it is, decided from ffprobe alone (no decoding), and the rendition's frame size.

Playable as it is (the ``<video>`` element of current Chrome, Firefox and Safari, without plugins):

    container   video                                          audio (first stream; none is fine)
    mp4, m4v    h264 (8-bit 4:2:0, Baseline/Main/High), vp9, av1  aac (LC, HE, HEv2), mp3, opus
    mov         h264 as above                                   aac, mp3, opus
    webm        vp8, vp9, av1                                   opus, vorbis

and the video progressive. Everything else gets a rendition: HEVC (Chrome and Firefox decode it only
where the platform has a hardware decoder), MPEG-2/MPEG-4 Part 2/H.263/ProRes/DNxHD/WMV/MJPEG, H.264 High
10 or 4:2:2 (no browser decodes them), interlaced video (browsers show the combing), 3GP/3G2, AVI, ASF,
MPEG-PS/TS, FLV, MXF, Matroska that is not WebM, and soundtracks in PCM, AC-3/E-AC-3, DTS, AMR, ALAC, FLAC
or WMA (Chrome's ``<video>`` refuses PCM and AC-3 in MP4/MOV).

A MOV with H.264 and AAC is the same ISO base media file as an MP4 for a browser's demuxer; it plays when
served as ``video/mp4`` (``video/quicktime`` is refused by Chrome and Firefox), which is why the
``mime_type`` of a ``not_needed`` row is the type to serve the original with, not the file's own type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from workers.analyzer import PermanentError
from workers.ffprobe import probe_json

PROBE_TIMEOUT = 120.0  # seconds; ffprobe reads headers only, so this is generous

_H264_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
_H264_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
_AAC_PROFILES = frozenset({"LC", "HE-AAC", "HE-AACv2"})
# Container -> (video codecs, audio codecs) browsers play in it.
_PLAYABLE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "mp4": (frozenset({"h264", "vp9", "av1"}), frozenset({"aac", "mp3", "opus"})),
    "mov": (frozenset({"h264"}), frozenset({"aac", "mp3", "opus"})),
    "webm": (frozenset({"vp8", "vp9", "av1"}), frozenset({"opus", "vorbis"})),
}
_BROWSER_TYPE = {"mp4": "video/mp4", "mov": "video/mp4", "webm": "video/webm"}
_PROGRESSIVE = frozenset({"", "progressive", "unknown"})
# Containers from which ffmpeg copies an H.264 stream into MP4 reliably. AVI is left out: its H.264 often
# lacks timestamps (packed B-frames), which makes the copy fail or stutter; it is re-encoded instead.
_COPY_FROM = frozenset({"mp4", "mov", "3gp", "3g2", "mkv", "webm", "mpegts"})


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    tag: str  # codec_tag_string, e.g. hvc1 or hev1
    profile: str
    pix_fmt: str
    width: int  # coded, before rotation and pixel aspect
    height: int
    sample_aspect: Fraction  # 1 when unknown
    rotation: int  # display rotation in degrees, 0/90/180/270
    field_order: str

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: square pixels, rotation applied."""
        width = round(self.width * self.sample_aspect)
        if self.rotation % 180 == 90:
            return self.height, width
        return width, self.height

    @property
    def progressive(self) -> bool:
        return self.field_order in _PROGRESSIVE


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    profile: str
    channels: int | None


@dataclass(frozen=True)
class SourceProbe:
    """The facts the decision rests on."""

    container: str  # mp4, mov, 3gp, 3g2, webm, mkv, avi, asf, mpegts, ...
    duration_s: float | None
    video: VideoStream
    audio: AudioStream | None

    def describe(self) -> str:
        audio = self.audio.codec if self.audio else "no audio"
        return f"{self.video.codec}/{audio} in {self.container}"


@dataclass(frozen=True)
class Decision:
    """Playable as it is (``reasons`` empty), or why not and what can be kept."""

    reasons: tuple[str, ...]
    browser_type: str | None  # the type to serve the original with, when it plays as it is
    video_copyable: bool  # the video stream may go into the MP4 unchanged
    audio_copyable: bool

    @property
    def playable(self) -> bool:
        return not self.reasons


def probe(path: Path) -> SourceProbe:
    """ffprobe the file. PermanentError when it is not a video ffprobe can read."""
    data = probe_json(path, timeout=PROBE_TIMEOUT)
    return parse_probe(data, path)


def parse_probe(data: dict[str, Any], path: Path) -> SourceProbe:
    """A ``SourceProbe`` from ffprobe's JSON (``-show_format -show_streams``)."""
    fmt = data.get("format") or {}
    streams: list[dict[str, Any]] = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    if video is None:
        raise PermanentError(f"{path.name} has no video stream")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise PermanentError(f"ffprobe finds no frame size in {path.name}'s video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return SourceProbe(
        container=_container(str(fmt.get("format_name") or ""), fmt.get("tags") or {}, path),
        duration_s=_float(fmt.get("duration")) or _float(video.get("duration")),
        video=VideoStream(
            index=int(video["index"]), codec=str(video.get("codec_name") or "unknown"),
            tag=str(video.get("codec_tag_string") or ""), profile=str(video.get("profile") or ""),
            pix_fmt=str(video.get("pix_fmt") or ""), width=width, height=height,
            sample_aspect=_aspect(video.get("sample_aspect_ratio")), rotation=_rotation(video),
            field_order=str(video.get("field_order") or ""),
        ),
        audio=None if audio is None else AudioStream(
            index=int(audio["index"]), codec=str(audio.get("codec_name") or "unknown"),
            profile=str(audio.get("profile") or ""), channels=_int(audio.get("channels")),
        ),
    )


def decide(source: SourceProbe, *, max_height: int) -> Decision:
    """Whether browsers play ``source`` as it is; if not, every reason, and which streams can be kept."""
    reasons: list[str] = []
    videos, audios = _PLAYABLE.get(source.container, (frozenset(), frozenset()))
    if source.container not in _PLAYABLE:
        reasons.append(f"container {source.container}")
    video = source.video
    video_ok = _video_decodable(video)
    if not video_ok:
        reasons.append(_video_problem(video))
    elif video.codec not in videos and source.container in _PLAYABLE:
        reasons.append(f"video codec {video.codec} in {source.container}")
    if not video.progressive:
        reasons.append(f"interlaced video ({video.field_order})")
    audio = source.audio
    audio_ok = audio is None or _audio_decodable(audio)
    if audio is not None and not audio_ok:
        reasons.append(f"audio codec {audio.codec}" + (f" ({audio.profile})" if audio.profile else ""))
    elif audio is not None and audio.codec not in audios and source.container in _PLAYABLE:
        reasons.append(f"audio codec {audio.codec} in {source.container}")
    width, height = video.display_size
    return Decision(
        reasons=tuple(reasons),
        browser_type=None if reasons else _BROWSER_TYPE[source.container],
        # Copying keeps the original quality at no CPU cost, but only an H.264 stream that needs no
        # change at all: progressive, upright, square pixels, even size, within max_height.
        video_copyable=(video.codec == "h264" and video_ok and video.progressive and video.rotation == 0
                        and video.sample_aspect == 1 and width % 2 == 0 and height % 2 == 0
                        and min(width, height) <= max_height and source.container in _COPY_FROM),
        # AAC and MP3 go into MP4 unchanged; Opus and Vorbis are re-encoded for Safari's sake.
        audio_copyable=audio is not None and audio.codec in ("aac", "mp3") and audio_ok,
    )


def target_size(video: VideoStream, max_height: int) -> tuple[int, int]:
    """The rendition's frame size: as displayed, shorter side at most ``max_height``, both sides even
    (4:2:0 chroma needs them so), never enlarged."""
    width = video.width * float(video.sample_aspect)  # unrounded: rounding twice can lose a pixel pair
    height = float(video.height)
    if video.rotation % 180 == 90:
        width, height = height, width
    scale = min(1.0, max_height / min(width, height))
    return _even(width * scale), _even(height * scale)


def _video_decodable(video: VideoStream) -> bool:
    """Could a browser decode this video stream in some container?"""
    if video.codec == "h264":
        return video.profile in _H264_PROFILES and video.pix_fmt in _H264_PIX_FMTS
    if video.codec == "vp8":
        return video.pix_fmt in ("yuv420p", "yuva420p")
    if video.codec in ("vp9", "av1"):
        # 10-bit 4:2:0 (VP9 profile 2, AV1 Main) plays in Chrome and Firefox; 4:4:4 and 12-bit do not.
        return video.pix_fmt in ("yuv420p", "yuva420p", "yuv420p10le")
    return False


def _video_problem(video: VideoStream) -> str:
    if video.codec == "h264":
        return f"video codec h264 {video.profile or 'unknown profile'} {video.pix_fmt}".rstrip()
    if video.codec in ("vp8", "vp9", "av1"):
        return f"video codec {video.codec} {video.pix_fmt}"
    tag = f" ({video.tag})" if video.tag and video.tag != "[0][0][0][0]" else ""
    return f"video codec {video.codec}{tag}"


def _audio_decodable(audio: AudioStream) -> bool:
    if audio.codec == "aac":
        # ffprobe leaves the profile empty for some AAC streams: LC is what they nearly always are.
        return audio.profile in _AAC_PROFILES or not audio.profile
    return audio.codec in ("mp3", "opus", "vorbis")


def _container(format_name: str, tags: dict[str, Any], path: Path) -> str:
    """A short container name. ffprobe names the ISO/QuickTime and the Matroska families one demuxer each,
    so the brand (ftyp) and the EBML DocType tell their members apart."""
    if format_name.startswith("mov,mp4"):
        brand = str(tags.get("major_brand") or "").strip().lower()
        if brand.startswith("3g2"):
            return "3g2"
        if brand.startswith("3g"):
            return "3gp"
        if brand in ("qt", ""):
            return "mov"  # an old QuickTime file has no ftyp box at all
        return "mp4"
    if format_name.startswith("matroska"):
        return "webm" if matroska_doctype(path) == "webm" else "mkv"
    return format_name.split(",", 1)[0] or "unknown"


def matroska_doctype(path: Path) -> str | None:
    """The DocType of a Matroska/WebM file's EBML header ("webm" or "matroska"), None if unreadable.

    ffprobe reports both as ``matroska,webm``; a browser's WebM demuxer wants the webm DocType.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    header = _vint(head, 4, keep_marker=False)
    if header is None:
        return None
    size, position = header
    end = min(len(head), position + size)
    while position < end:
        element = _vint(head, position, keep_marker=True)
        if element is None:
            return None
        element_id, position = element
        length = _vint(head, position, keep_marker=False)
        if length is None:
            return None
        size, position = length
        if element_id == 0x4282:  # DocType
            return head[position:position + size].rstrip(b"\x00").decode("ascii", "replace")
        position += size
    return None


def _vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``position``: (value, position after it)."""
    if position >= len(data) or data[position] == 0:
        return None
    first = data[position]
    length = 8 - first.bit_length() + 1
    if position + length > len(data):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[position + 1:position + length]:
        value = (value << 8) | byte
    return value, position + length


def _rotation(stream: dict[str, Any]) -> int:
    """Display rotation, clockwise degrees in 0/90/180/270, from the display matrix (counter-clockwise
    there) or the older ``rotate`` tag (clockwise). Only its parity matters for the frame size."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return -round(float(side["rotation"])) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    try:
        return round(float(tag)) % 360 if tag is not None else 0
    except ValueError:
        return 0


def _aspect(value: Any) -> Fraction:
    try:
        num, den = (int(part) for part in str(value).split(":"))
    except ValueError:
        return Fraction(1)
    return Fraction(num, den) if num > 0 and den > 0 else Fraction(1)


def _even(value: float) -> int:
    # Half up, not Python's half to even: 321 px becomes 322 like 323 becomes 324.
    return max(2, 2 * math.floor(value / 2 + 0.5))


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
