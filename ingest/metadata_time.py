"""When a photo or video was taken, with its UTC offset when the file says it.

Stored as three values (see core/export.py): ``taken_at`` the instant (UTC), ``taken_at_local`` the
wall-clock time the camera showed, ``taken_at_offset_minutes`` the camera's offset.

- EXIF times are wall-clock times; their offset comes from OffsetTimeOriginal (EXIF 2.31), or from an
  XMP copy of the same time that carries one. Without an offset the instant is unknown: ``taken_at`` is
  then the wall-clock time read as UTC (so that sorting still works) and the offset stays NULL.
- QuickTime CreateDate is UTC by specification (exiftool runs with ``-api QuickTimeUTC``), so it gives
  the instant but not the wall clock; Apple's Keys CreationDate gives both.
- Nothing usable: the file's modification time, recorded with source ``file_mtime`` (a fallback).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_DATETIME = re.compile(
    r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?\s*"
    r"(Z|[+\-]\d{2}:?\d{2})?\s*(?:DST)?\s*$"
)
_OFFSET = re.compile(r"^\s*(Z|([+\-])(\d{2}):?(\d{2}))\s*$")

MAX_OFFSET_MINUTES = 18 * 60
EARLIEST_YEAR = 1826  # the oldest surviving photograph; anything earlier is a zeroed or broken field


@dataclass(frozen=True)
class TakenAt:
    instant: datetime  # timezone-aware, UTC
    local: datetime | None  # naive wall-clock time, None when only the instant is known
    offset_minutes: int | None
    source: str  # exif | xmp | quicktime | file_mtime


def parse_offset(value: Any) -> int | None:
    """``+03:00``, ``-0500`` or ``Z`` as minutes east of UTC; None when absent or out of range."""
    if not isinstance(value, str):
        return None
    match = _OFFSET.match(value)
    if not match:
        return None
    if match.group(1) == "Z":
        return 0
    minutes = int(match.group(3)) * 60 + int(match.group(4))
    if minutes > MAX_OFFSET_MINUTES or int(match.group(4)) >= 60:
        return None
    return -minutes if match.group(2) == "-" else minutes


def parse_datetime(value: Any) -> tuple[datetime, int | None] | None:
    """An exiftool date-time string as (naive wall-clock time, offset minutes or None)."""
    if not isinstance(value, str):
        return None
    match = _DATETIME.match(value)
    if not match:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = match.group(7) or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if year < EARLIEST_YEAR:
        return None
    try:
        naive = datetime(year, month, day, hour, minute, min(second, 59), micro)
    except ValueError:
        return None
    offset = parse_offset(match.group(8)) if match.group(8) else None
    return naive, offset


def _with_subsec(naive: datetime, subsec: Any) -> datetime:
    """Add EXIF SubSecTime digits ("054" is 54 ms; exiftool -n may give them as a number)."""
    if naive.microsecond or subsec is None:
        return naive
    digits = str(subsec).strip()
    if not digits.isdigit():
        return naive
    return naive.replace(microsecond=int((digits + "000000")[:6]))


def _plausible(instant: datetime, now: datetime) -> bool:
    return instant.year >= EARLIEST_YEAR and instant <= now + timedelta(days=2)


def _instant(naive: datetime, offset: int | None) -> datetime:
    tz = timezone(timedelta(minutes=offset)) if offset is not None else UTC
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _xmp_offset(tags: Mapping[str, Any], naive: datetime) -> int | None:
    """The offset of an XMP time equal to ``naive`` to the second (Adobe tools write one)."""
    for key in ("XMP:DateTimeOriginal", "XMP:CreateDate", "XMP:DateCreated"):
        parsed = parse_datetime(tags.get(key))
        same_second = parsed is not None and parsed[0].replace(microsecond=0) == naive.replace(microsecond=0)
        if parsed is not None and parsed[1] is not None and same_second:
            return parsed[1]
    return None


def _exif(tags: Mapping[str, Any], now: datetime) -> TakenAt | None:
    for key, subsec_key, offset_key in (
        ("EXIF:DateTimeOriginal", "EXIF:SubSecTimeOriginal", "EXIF:OffsetTimeOriginal"),
        ("EXIF:CreateDate", "EXIF:SubSecTimeDigitized", "EXIF:OffsetTimeDigitized"),
    ):
        parsed = parse_datetime(tags.get(key))
        if parsed is None:
            continue
        naive = _with_subsec(parsed[0], tags.get(subsec_key))
        offset = parse_offset(tags.get(offset_key))
        if offset is None:
            offset = parsed[1] if parsed[1] is not None else _xmp_offset(tags, naive)
        instant = _instant(naive, offset)
        if _plausible(instant, now):
            return TakenAt(instant, naive, offset, "exif")
    return None


def _xmp(tags: Mapping[str, Any], now: datetime) -> TakenAt | None:
    for key in ("XMP:DateTimeOriginal", "XMP:CreateDate", "XMP:DateCreated"):
        parsed = parse_datetime(tags.get(key))
        if parsed is None:
            continue
        instant = _instant(parsed[0], parsed[1])
        if _plausible(instant, now):
            return TakenAt(instant, parsed[0], parsed[1], "xmp")
    return None


def _quicktime(tags: Mapping[str, Any], now: datetime) -> TakenAt | None:
    # Apple's Keys/UserData CreationDate carries the local time and its offset.
    parsed = parse_datetime(tags.get("QuickTime:CreationDate"))
    if parsed is not None and parsed[1] is not None:
        instant = _instant(parsed[0], parsed[1])
        if _plausible(instant, now):
            return TakenAt(instant, parsed[0], parsed[1], "quicktime")
    for key in ("QuickTime:CreateDate", "QuickTime:MediaCreateDate", "QuickTime:TrackCreateDate"):
        parsed = parse_datetime(tags.get(key))
        if parsed is None:
            continue
        # UTC by the QuickTime specification; with -api QuickTimeUTC exiftool prints it with an offset.
        instant = _instant(parsed[0], parsed[1] if parsed[1] is not None else 0)
        # 1904-01-01 (the QuickTime epoch) and 1970-01-01 are what an unset field reads as.
        if instant.year <= 1904 or instant == datetime(1970, 1, 1, tzinfo=UTC):
            continue
        if _plausible(instant, now):
            return TakenAt(instant, None, None, "quicktime")
    return None


def taken_at(tags: Mapping[str, Any], *, video: bool, file_mtime: datetime,
             now: datetime | None = None) -> TakenAt:
    """The best time the tags give, in the order a photo or a video makes trustworthy."""
    now = now or datetime.now(UTC)
    readers = (_quicktime, _exif, _xmp) if video else (_exif, _xmp, _quicktime)
    for reader in readers:
        found = reader(tags, now)
        if found is not None:
            return found
    return TakenAt(file_mtime.astimezone(UTC), None, None, "file_mtime")
