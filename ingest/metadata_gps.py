"""GPS position, validated before it is believed.

exiftool's Composite GPSLatitude/GPSLongitude (with ``-n``) are signed decimal degrees built from the
EXIF values and their N/S/E/W references, or from QuickTime's ISO 6709 GPSCoordinates for phone videos.
A value out of range, or exactly 0/0 (the "null island" that broken GPS stacks write when they have no
fix), is refused: it goes to the item's warnings, never to the position columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_ALTITUDE_M = -12000.0
MAX_ALTITUDE_M = 100000.0


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    alt: float | None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().split()[0]) if value.strip() else math.nan
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _signed(tags: Mapping[str, Any], axis: str) -> float | None:
    """Composite value first; else the EXIF magnitude signed by its reference (S and W are negative)."""
    value = _number(tags.get(f"Composite:GPS{axis}"))
    if value is not None:
        return value
    value = _number(tags.get(f"EXIF:GPS{axis}"))
    ref = tags.get(f"EXIF:GPS{axis}Ref")
    if value is None:
        return None
    if isinstance(ref, str) and ref.strip().upper()[:1] in ("S", "W"):
        return -abs(value)
    return value


def position(tags: Mapping[str, Any]) -> tuple[Position | None, list[dict[str, str]]]:
    """The validated position (or None) and the warnings explaining any refusal."""
    warnings: list[dict[str, str]] = []
    lat = _signed(tags, "Latitude")
    lon = _signed(tags, "Longitude")
    if lat is None and lon is None:
        return None, warnings
    if lat is None or lon is None:
        warnings.append({"code": "gps_incomplete",
                         "detail": f"GPS latitude {lat} / longitude {lon}: one is missing"})
        return None, warnings
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        warnings.append({"code": "gps_out_of_range",
                         "detail": f"GPS {lat}, {lon} is outside the valid range"})
        return None, warnings
    if lat == 0.0 and lon == 0.0:
        warnings.append({"code": "gps_null_island",
                         "detail": "GPS 0, 0 is what devices without a fix write; not stored"})
        return None, warnings
    alt = _number(tags.get("Composite:GPSAltitude"))
    if alt is None:
        alt = _number(tags.get("EXIF:GPSAltitude"))
        if alt is not None and _number(tags.get("EXIF:GPSAltitudeRef")) == 1:
            alt = -abs(alt)
    if alt is not None and not (MIN_ALTITUDE_M <= alt <= MAX_ALTITUDE_M):
        warnings.append({"code": "gps_altitude_out_of_range", "detail": f"GPS altitude {alt} m refused"})
        alt = None
    return Position(lat, lon, alt), warnings
