"""Names in storage: the drop folder's relative path, kept; on a collision, a suffix from the content hash.

``photos/a.jpg`` collides with an existing, different ``originals/photos/a.jpg``: the newcomer becomes
``originals/photos/a~1f2e3d4c.jpg`` (first 8 hex digits of its SHA-512), deterministic for a given
content, so a rerun after a crash picks the same name. Longer hash prefixes follow if that is taken too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import PurePosixPath

from core.storage import safe_relative

NAME_MAX = 255  # bytes, on every common Linux file system
_EXT_MAX = 12


def split_name(name: str) -> tuple[str, str]:
    """("IMG_1", ".JPG") for "IMG_1.JPG"; a leading dot or an implausible extension is part of the stem."""
    dot = name.rfind(".")
    if dot <= 0 or len(name) - dot > _EXT_MAX:
        return name, ""
    return name[:dot], name[dot:]


def _with_suffix(rel: PurePosixPath, suffix: str) -> str:
    stem, ext = split_name(rel.name)
    budget = NAME_MAX - len((suffix + ext).encode())
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", "ignore")
    name = f"{stem}{suffix}{ext}"
    return str(rel.with_name(name)) if rel.parent != PurePosixPath(".") else name


def candidates(area: str, rel: str, sha512_hex: str | None) -> Iterator[str]:
    """Storage-relative names to try in order, for a file found at ``rel`` (relative to the drop folder)."""
    path = safe_relative(rel)
    yield f"{area}/{path}"
    if sha512_hex:
        for length in (8, 16, 128):
            yield f"{area}/{_with_suffix(path, '~' + sha512_hex[:length])}"
        # The same content dropped again under the same name (a duplicate or a rejection seen twice).
        for n in itertools.count(2):
            yield f"{area}/{_with_suffix(path, f'~{sha512_hex[:8]}~{n}')}"
    else:
        for n in itertools.count(2):
            yield f"{area}/{_with_suffix(path, f'~{n}')}"
