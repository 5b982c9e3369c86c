"""What a media item is: its kind, and the formats pava accepts (named by content, not extension)."""

from __future__ import annotations

from enum import StrEnum


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


# exiftool's content-based FileType -> (kind, our format name). RAW formats are photos read through
# their embedded preview.
FORMATS: dict[str, tuple[MediaKind, str]] = {
    "JPEG": (MediaKind.PHOTO, "jpeg"),
    "PNG": (MediaKind.PHOTO, "png"),
    "WEBP": (MediaKind.PHOTO, "webp"),
    "TIFF": (MediaKind.PHOTO, "tiff"),
    "GIF": (MediaKind.PHOTO, "gif"),
    "HEIC": (MediaKind.PHOTO, "heic"),
    "HEIF": (MediaKind.PHOTO, "heif"),
    "AVIF": (MediaKind.PHOTO, "avif"),
    "CR2": (MediaKind.PHOTO, "cr2"),
    "CR3": (MediaKind.PHOTO, "cr3"),
    "CRW": (MediaKind.PHOTO, "crw"),
    "NEF": (MediaKind.PHOTO, "nef"),
    "NRW": (MediaKind.PHOTO, "nrw"),
    "ARW": (MediaKind.PHOTO, "arw"),
    "SR2": (MediaKind.PHOTO, "sr2"),
    "DNG": (MediaKind.PHOTO, "dng"),
    "ORF": (MediaKind.PHOTO, "orf"),
    "RW2": (MediaKind.PHOTO, "rw2"),
    "RAF": (MediaKind.PHOTO, "raf"),
    "PEF": (MediaKind.PHOTO, "pef"),
    "SRW": (MediaKind.PHOTO, "srw"),
    "MP4": (MediaKind.VIDEO, "mp4"),
    "MOV": (MediaKind.VIDEO, "mov"),
    "M4V": (MediaKind.VIDEO, "m4v"),
    "AVI": (MediaKind.VIDEO, "avi"),
    "MKV": (MediaKind.VIDEO, "mkv"),
    "WEBM": (MediaKind.VIDEO, "webm"),
    "3GP": (MediaKind.VIDEO, "3gp"),
    "3G2": (MediaKind.VIDEO, "3g2"),
}

RAW_FORMATS = frozenset(
    {"cr2", "cr3", "crw", "nef", "nrw", "arw", "sr2", "dng", "orf", "rw2", "raf", "pef", "srw"}
)
