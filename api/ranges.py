"""HTTP byte ranges (RFC 9110, section 14): which parts of a file a ``Range`` header asks for.

Pure functions, no I/O. Ranges come back as half-open ``(start, end)`` pairs within the file, sorted, with
overlapping and adjacent ones merged. What the RFC lets a server ignore is ignored (the whole file is then
sent with 200): a unit other than ``bytes``, a header that does not parse, and requests for more pieces
than a media player ever asks for (which is also how "many small overlapping ranges" attacks are defused).
"""

from __future__ import annotations

import re

# Browsers and players ask for one range; a download manager for a few. More is ignored (RFC 9110
# allows it), so a request cannot make the server write thousands of multipart headers.
MAX_RANGES = 16

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(Exception):
    """No requested range overlaps the file: answered with 416 and ``Content-Range: bytes */size``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no requested range lies within the {size} bytes of the file")
        self.size = size


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable ranges of ``header`` for a file of ``size`` bytes, or None to send the whole file.

    Raises ``RangeNotSatisfiable`` when the header is valid but none of its ranges overlaps the file.
    """
    if header is None:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    pieces = specs.split(",")
    if len(pieces) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for piece in pieces:
        match = _SPEC.match(piece)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            start = int(first)
            if last and int(last) < start:
                return None  # "5-2" is invalid, and one invalid spec makes the whole header invalid
            if start >= size:
                continue  # unsatisfiable on its own; the others may still be served
            end = min(int(last) + 1, size) if last else size
        elif last:
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            start, end = max(0, size - suffix), size
        else:
            return None  # "-" alone
        ranges.append((start, end))
    if not ranges:
        raise RangeNotSatisfiable(size)
    return merge(ranges)


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching ranges joined (RFC 9110 lets a server coalesce them)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
