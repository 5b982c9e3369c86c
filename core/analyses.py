"""The analyses pava runs, and which apply to which kind of media.

This is the contract between the ingester (which records one job per applicable analysis) and the
workers (one process type per analysis). The queue topology is derived from it.
"""

from __future__ import annotations

from core.media import MediaKind

# Order is the order of the README and of `pava status`.
# transcode is not an analysis of the content but a derived file (a browser rendition); it rides the same
# machinery (jobs, a queue, a worker) and so is listed here.
ANALYSES: tuple[str, ...] = ("objects", "faces", "ocr", "speech", "dhash", "transcode")

APPLIES_TO: dict[str, frozenset[MediaKind]] = {
    "objects": frozenset({MediaKind.PHOTO, MediaKind.VIDEO}),  # videos: on keyframes
    "faces": frozenset({MediaKind.PHOTO, MediaKind.VIDEO}),  # videos: on keyframes
    "ocr": frozenset({MediaKind.PHOTO}),
    "speech": frozenset({MediaKind.VIDEO}),
    "dhash": frozenset({MediaKind.PHOTO, MediaKind.VIDEO}),  # videos: keyframes
    "transcode": frozenset({MediaKind.VIDEO}),
}


def analyses_for(kind: MediaKind) -> list[str]:
    """The analyses to queue for a new item of this kind."""
    return [name for name in ANALYSES if kind in APPLIES_TO[name]]
