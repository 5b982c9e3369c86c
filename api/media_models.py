"""The shapes of one media item's detail (``GET /api/media/{id}``) and of its comments, so that the
OpenAPI document describes every field a client reads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.summaries import MediaSummary, PlaceShort


class Box(BaseModel):
    """A rectangle normalised (0..1) to the displayed image (orientation applied): top-left corner, size."""

    x: float
    y: float
    w: float
    h: float


class Camera(BaseModel):
    make: str | None
    model: str | None
    lens: str | None
    aperture: float | None
    exposure_time: float | None = Field(description="seconds")
    iso: int | None
    focal_length: float | None = Field(description="millimetres")


class ExifGps(BaseModel):
    """The position the file records."""

    lat: float
    lon: float
    alt: float | None = Field(description="metres above sea level")


class ManualGps(BaseModel):
    """A position set by hand; it wins over the file's."""

    lat: float
    lon: float
    set_at: datetime | None
    set_by: str | None = Field(description="name of the user who set it (null once that user is deleted)")


class FileTime(BaseModel):
    """When the file says it was taken."""

    taken_at: datetime = Field(description="UTC")
    taken_at_local: datetime | None = Field(description="the camera's wall-clock time, without offset")
    offset_minutes: int | None = Field(description="the camera's UTC offset, when the file records it")
    source: Literal["exif", "quicktime", "xmp", "file_mtime"] | None


class ManualTime(BaseModel):
    """A time set by hand; it wins over the file's."""

    taken_at: datetime = Field(description="UTC: the local time minus the offset (no offset: read as UTC)")
    taken_at_local: datetime
    offset_minutes: int | None
    set_at: datetime | None
    set_by: str | None = Field(description="name of the user who set it (null once that user is deleted)")


class TimeInfo(BaseModel):
    exif: FileTime | None = Field(description="the file's own time (from EXIF, QuickTime, XMP or the file)")
    manual: ManualTime | None


class Place(PlaceShort):
    admin1: str | None = Field(description="region (state, province)")
    admin2: str | None = Field(description="sub-region (county, district)")


class VideoInfo(BaseModel):
    duration_s: float | None
    video_codec: str | None
    audio_codec: str | None
    frame_rate: float | None


class Alias(BaseModel):
    """An exact duplicate (same SHA-512) found later and kept aside."""

    original_path: str
    source: str
    duplicate_path: str
    created_at: datetime


class DetectedObject(BaseModel):
    label: str
    confidence: float
    frame_ms: int | None = Field(description="the video keyframe's time; null for a photo")
    box: Box


class Objects(BaseModel):
    backend: str
    model: str
    counts: dict[str, int] = Field(description="label -> most seen at once (in the photo, or one keyframe)")
    items: list[DetectedObject] = Field(description="best first within each frame")


class Face(BaseModel):
    id: int
    frame_ms: int | None
    box: Box
    person_id: int | None
    person_name: str | None
    chip_url: str


class OcrWord(BaseModel):
    text: str
    confidence: float = Field(description="0..100")
    box: Box


class OcrLine(BaseModel):
    text: str
    confidence: float = Field(description="0..100, the mean of its words")
    block: int = Field(description="Tesseract's block number: lines of one block belong together")
    box: Box
    words: list[OcrWord]


class Ocr(BaseModel):
    text: str
    rotation: int = Field(description="degrees the photo was turned to read it: 0, 90, 180 or 270")
    lines: list[OcrLine]


class SpeechSegment(BaseModel):
    start_s: float
    end_s: float
    text: str


class Speech(BaseModel):
    status: Literal["transcribed", "no_audio", "silent", "no_speech"]
    language: str | None
    text: str
    segments: list[SpeechSegment]
    subtitles_url: str | None


class Keyframe(BaseModel):
    ms: int
    hash: str = Field(description="64-bit dHash, 16 hex digits")


class NearDuplicate(MediaSummary):
    distance: int = Field(description="Hamming distance between the closest pair of dHashes")
    frame_ms: int | None = Field(description="the matching keyframe of a video; null for a photo")


class Comment(BaseModel):
    id: int
    media_id: int
    author: str = Field(description="the name of the user who wrote it, as it was then")
    user_id: int | None = Field(description="null once that user is deleted")
    body: str = Field(description="plain text exactly as written: render it as text, never as HTML")
    created_at: datetime


class AlbumRef(BaseModel):
    id: int
    name: str


class JobInfo(BaseModel):
    state: Literal["pending", "queued", "running", "done", "failed"]
    error: str | None


PlaybackStatus = Literal["transcoded", "not_needed", "pending", "failed", "unknown"]


class Playback(BaseModel):
    url: str
    mime_type: str = Field(description="the type the playback URL is served with")
    status: PlaybackStatus = Field(
        description="transcoded: an H.264/AAC rendition is served; not_needed: the original plays in "
        "browsers; pending or failed: the rendition is being made or could not be, the original is "
        "served meanwhile; unknown: no transcode analysis is recorded, the original is served")


class Urls(BaseModel):
    original: str
    download: str
    thumbnail: str
    preview: str


class MediaDetail(MediaSummary):
    """Everything about one item: the summary fields, the file's metadata beside what was set by hand,
    every analysis result, and what users added."""

    sha512: str = Field(description="128 lowercase hex digits")
    size_bytes: int
    source: str = Field(description="the ingest's --source label ('' when none)")
    storage_path: str = Field(description="relative to the storage root")
    camera: Camera
    exif_gps: ExifGps | None
    manual_gps: ManualGps | None
    time: TimeInfo
    place: Place | None = Field(description="the summary's place, with its regions")
    video: VideoInfo | None
    orientation: int | None = Field(description="EXIF orientation 1..8")
    aliases: list[Alias]
    objects: Objects | None = Field(description="null until the objects analysis is done")
    faces: list[Face]
    ocr: Ocr | None
    speech: Speech | None
    keyframes: list[Keyframe] = Field(description="a video's dHash keyframes in time order")
    dhash: str | None = Field(description="the item's dHash (a video: its first keyframe's)")
    near_duplicates: list[NearDuplicate] = Field(description="items within the near-duplicate threshold")
    comments: list[Comment] = Field(description="oldest first")
    albums: list[AlbumRef]
    jobs: dict[str, JobInfo] = Field(description="analysis name -> its job")
    playback: Playback | None = Field(description="for videos only")
    urls: Urls
