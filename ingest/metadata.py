"""Reading metadata with exiftool, the field's reference reader, kept running: one persistent process per
ingest thread (``-stay_open``), so a file costs a round trip of a few milliseconds, not a Perl start.

Options: ``-G`` (group-qualified names, so EXIF, XMP and QuickTime values are told apart), ``-n`` (numbers,
not printed forms: signed decimal GPS, numeric orientation) and ``-api QuickTimeUTC`` (QuickTime times
are UTC by specification).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

COMMON_ARGS = ["-G", "-n", "-api", "QuickTimeUTC=1", "-api", "LargeFileSupport=1"]

# Groups whose tags are kept in media.metadata (maker notes are huge and vendor-specific: left out).
_KEPT_GROUPS = ("EXIF", "XMP", "IPTC", "QuickTime", "Composite", "File", "PNG", "GIF", "RIFF", "Matroska",
                "H264", "JFIF", "ICC_Profile")
_DROPPED_TAGS = {"ThumbnailImage", "PreviewImage", "JpgFromRaw", "ThumbnailTIFF", "OtherImage",
                 "FileName", "Directory", "FileAccessDate", "FileInodeChangeDate", "FilePermissions",
                 "FileModifyDate", "SourceFile", "StripOffsets", "StripByteCounts", "ThumbnailOffset",
                 "ThumbnailLength", "MediaDataOffset", "MediaDataSize"}
_MAX_VALUE_CHARS = 512


class ExifToolFailed(Exception):
    """exiftool itself could not run or answer (not: the file is bad)."""


class ExifSession:
    """One exiftool process, started on first use. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self._helper: Any = None

    def _alive(self) -> bool:
        # pyexiftool's ``running`` property warns when the process died; poll the process directly.
        process = getattr(self._helper, "_process", None)
        return process is not None and process.poll() is None

    def start(self) -> None:
        """Start the process now. A batch starts them all from its main thread: pyexiftool asks the
        kernel to stop exiftool when the thread that started it ends (PR_SET_PDEATHSIG), so a process
        started by a pool thread would die with the pool, and forking before the pool exists avoids
        ``preexec_fn`` running while other threads hold locks."""
        if self._helper is not None and self._alive():
            return
        self.close()
        import exiftool  # heavy-ish import kept off the API's import path

        helper = exiftool.ExifToolHelper(common_args=COMMON_ARGS, check_execute=False)
        helper.run()
        self._helper = helper

    def read(self, path: str) -> dict[str, Any]:
        """All tags of one file. Unknown or broken files give ``ExifTool:Error`` rather than raising."""
        self.start()
        try:
            result = self._helper.get_metadata(path)
        except Exception as exc:
            # A dead or confused process: start a fresh one for the next file.
            self.close()
            raise ExifToolFailed(f"exiftool failed: {exc}") from exc
        if not result:
            return {}
        tags: dict[str, Any] = result[0]
        return tags

    def close(self) -> None:
        helper, self._helper = self._helper, None
        if helper is None:
            return
        try:
            process = getattr(helper, "_process", None)
            if process is not None and process.poll() is None:
                helper.terminate()
            else:
                # Already gone: only forget it, so that its destructor does not try to stop it again.
                helper._flag_running_false()
        except Exception:
            log.debug("exiftool did not terminate cleanly", exc_info=True)


def first(tags: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = tags.get(key)
        if value is not None and value != "":
            return value
    return None


def text(value: Any, limit: int = 200) -> str | None:
    """A clean display string: NULs and padding removed (cameras pad Make/Model), None when empty."""
    if value is None:
        return None
    cleaned = str(value).replace("\x00", "").strip()
    return cleaned[:limit] or None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) and result > 0 else None


@dataclass(frozen=True)
class Camera:
    make: str | None
    model: str | None
    lens: str | None
    aperture: float | None
    exposure_time: float | None
    iso: int | None
    focal_length: float | None


def camera(tags: Mapping[str, Any]) -> Camera:
    iso = number(first(tags, "EXIF:ISO", "EXIF:ISOSpeed", "EXIF:RecommendedExposureIndex", "Composite:ISO"))
    return Camera(
        make=text(first(tags, "EXIF:Make", "QuickTime:Make", "XMP:Make", "QuickTime:AndroidMake")),
        model=text(first(tags, "EXIF:Model", "QuickTime:Model", "XMP:Model", "QuickTime:AndroidModel")),
        lens=text(first(tags, "EXIF:LensModel", "Composite:LensID", "XMP:Lens", "XMP:LensModel",
                        "QuickTime:CameraLensModel")),
        aperture=number(first(tags, "EXIF:FNumber", "Composite:Aperture", "EXIF:ApertureValue")),
        exposure_time=number(first(tags, "EXIF:ExposureTime", "Composite:ShutterSpeed")),
        iso=int(iso) if iso is not None and iso < 2**31 else None,
        focal_length=number(first(tags, "EXIF:FocalLength", "XMP:FocalLength")),
    )


def orientation(tags: Mapping[str, Any]) -> int | None:
    """EXIF Orientation 1-8 (0 and other values, which broken writers produce, mean unknown)."""
    value = first(tags, "EXIF:Orientation", "XMP:Orientation")
    try:
        result = int(value)
    except (TypeError, ValueError):
        return None
    return result if 1 <= result <= 8 else None


def _clean(value: Any) -> Any:
    """A JSON value Postgres accepts (no NUL characters) and of bounded size."""
    if isinstance(value, str):
        return value.replace("\x00", "")[:_MAX_VALUE_CHARS]
    if isinstance(value, list):
        return [_clean(v) for v in value[:64]]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def curated(tags: Mapping[str, Any]) -> dict[str, Any]:
    """The tags worth keeping in media.metadata: standard groups, no binary blobs or file-system noise."""
    kept: dict[str, Any] = {}
    for key, value in tags.items():
        group, _, name = key.partition(":")
        if not name or group not in _KEPT_GROUPS or name in _DROPPED_TAGS:
            continue
        if isinstance(value, str) and value.startswith("(Binary data"):
            continue
        kept[key] = _clean(value)
    return kept


def exiftool_warnings(tags: Mapping[str, Any]) -> list[dict[str, str]]:
    warning = tags.get("ExifTool:Warning")
    if not warning:
        return []
    return [{"code": "exiftool", "detail": str(warning)[:300]}]
