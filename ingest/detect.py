"""Content-based type detection. The name's extension is never consulted: a text file named .jpg or an
HTML error page named .mp4 is what its bytes say it is.

Two witnesses: the magic bytes at the start of the file (cheap, decides whether the bytes are worth
keeping for a decoder), and exiftool's FileType (the authority, it knows every RAW and container brand).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.media import FORMATS, MediaKind
from ingest import outcome
from ingest.outcome import Rejected

HEAD_BYTES = 4096

# ISO base media brands (the ``ftyp`` box) that are still images rather than movies.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
                 b"crx "}

_MIME = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff", "gif": "image/gif",
    "heic": "image/heic", "heif": "image/heif", "avif": "image/avif", "mp4": "video/mp4",
    "mov": "video/quicktime", "m4v": "video/x-m4v", "avi": "video/x-msvideo", "mkv": "video/x-matroska",
    "webm": "video/webm", "3gp": "video/3gpp", "3g2": "video/3gpp2",
}


@dataclass(frozen=True)
class Detected:
    kind: MediaKind
    format: str
    mime_type: str


def sniff(head: bytes) -> MediaKind | None:
    """The kind the first bytes suggest, or None when they look like no photo or video at all."""
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n") or head[:6] in (b"GIF87a",
                                                                                                 b"GIF89a"):
        return MediaKind.PHOTO
    if head[:4] in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIRS", b"IIU\x00") or head.startswith(b"FUJIFILMCCD"):
        return MediaKind.PHOTO  # TIFF and the TIFF-based RAW formats (ORF, RW2), RAF
    if head[6:14] == b"HEAPCCDR":
        return MediaKind.PHOTO  # Canon CRW
    if head[:4] == b"RIFF":
        if head[8:12] == b"WEBP":
            return MediaKind.PHOTO
        if head[8:12] in (b"AVI ", b"AVIX"):
            return MediaKind.VIDEO
        return None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return MediaKind.VIDEO  # Matroska / WebM
    if head[4:8] == b"ftyp":
        return MediaKind.PHOTO if head[8:12] in _IMAGE_BRANDS else MediaKind.VIDEO
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return MediaKind.VIDEO  # QuickTime files older than the ftyp box
    return None


def describe(head: bytes, file_type: str | None) -> str:
    """A short human description of content that is not a photo or video."""
    named = {"TXT": "plain text", "HTML": "an HTML page", "XML": "XML", "JSON": "JSON",
             "PDF": "a PDF document", "ZIP": "a ZIP archive", "FLAC": "FLAC audio", "MP3": "MP3 audio",
             "WAV": "WAV audio", "M4A": "M4A audio", "OGG": "Ogg audio"}
    if file_type:
        return f"content is {named.get(file_type.upper(), file_type + ' data')}"
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return "content is not a known photo or video format"
    if "<html" in text.lower() or "<!doctype html" in text.lower():
        return "content is an HTML page"
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "content is plain text"
    return "content is not a known photo or video format"


def resolve(head: bytes, file_type: str | None, mime_type: str | None, name: str,
            type_extension: str | None = None) -> Detected:
    """Decide the format from exiftool's FileType (itself read from the content, not the name).

    ``type_extension`` is exiftool's FileTypeExtension, the extension the *content* calls for: it
    names variants whose FileType is descriptive ("Extended WEBP" is a WebP with EXIF or alpha).
    ``name`` is only used to say, in the rejection detail, what the name claimed.
    """
    known = FORMATS.get((file_type or "").upper()) or FORMATS.get((type_extension or "").upper())
    if known is None:
        claimed = name.rsplit(".", 1)[-1] if "." in name else ""
        suffix = f" (the name says .{claimed})" if claimed else ""
        raise Rejected(outcome.UNSUPPORTED_TYPE,
                       f"{describe(head, file_type)}, not a supported photo or video{suffix}")
    kind, fmt = known
    mime = mime_type if mime_type and "/" in mime_type else _MIME.get(fmt, "application/octet-stream")
    return Detected(kind, fmt, mime)
