"""Acceptance on the shared corpus: the manifest's near-duplicate groups are found at the default T,
and nothing unrelated joins them. Every readable corpus photo and video is hashed by the dHash
analyzer, stored through its store, and grouped by core.neardup, as in production (minus the broker).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from support import insert_media

from core import db
from core.media import MediaKind
from core.neardup import groups, similar_to_media
from core.perceptual import hamming, to_hex
from core.settings import Settings
from workers.analyzer import MediaItem, PermanentError
from workers.analyzers.dhash import DhashAnalyzer, DhashResult
from workers.stores.dhash import store

pytestmark = pytest.mark.corpus

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp"}
SKIPPED_DIRS = ("bad/", "exif/corrupt/")  # expected to be rejected; their handling is tested elsewhere


@pytest.fixture
def conn(database_url: str) -> Iterator[db.Connection]:
    with db.connect(Settings.model_validate({"database_url": database_url}), autocommit=True) as connection:
        yield connection


def hash_corpus(conn: db.Connection, corpus: Path, manifest: dict[str, Any], tmp_path: Path,
                ) -> tuple[dict[str, int], dict[str, DhashResult]]:
    """Hash and store every distinct readable photo and video; return path -> media id, path -> result."""
    settings = Settings.model_validate({"storage_root": corpus, "home": tmp_path})
    analyzer = DhashAnalyzer(settings)
    files: dict[str, Any] = manifest["files"]
    ids: dict[str, int] = {}
    results: dict[str, DhashResult] = {}
    seen: set[bytes] = set()
    for rel in sorted(files):
        path = corpus / rel
        if rel.startswith(SKIPPED_DIRS) or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        digest = hashlib.sha512(data).digest()
        if digest in seen:  # an exact duplicate is one item after ingest (an alias), not two
            continue
        seen.add(digest)
        kind = MediaKind.VIDEO if path.suffix.lower() in VIDEO_SUFFIXES else MediaKind.PHOTO
        if kind is MediaKind.PHOTO and path.suffix.lower() in {".flac", ".wav", ".mp3", ".m4a"}:
            continue
        media_id = insert_media(conn, rel, sha512=digest, kind=kind, format="x", mime_type="x",
                                size_bytes=max(1, len(data)), storage_path=rel)
        item = MediaItem(media_id=media_id, job_id=0, kind=kind, path=path, rel_path=rel,
                         sha512=digest.hex(), storage_root=corpus)
        try:
            result = analyzer.analyze(item)
        except PermanentError as exc:
            pytest.fail(f"{rel}: a corpus file outside bad/ and exif/corrupt/ must hash: {exc}")
        with conn.transaction():
            store(conn, item, result, analyzer.meta())
        ids[rel], results[rel] = item.media_id, result
    return ids, results


def test_manifest_groups_at_default_threshold(conn: db.Connection, corpus: Path, manifest: dict[str, Any],
                                              tmp_path: Path) -> None:
    threshold = Settings.model_validate({}).dhash.near_duplicate_threshold
    ids, results = hash_corpus(conn, corpus, manifest, tmp_path)
    assert sum(1 for r in results.values() if r.keyframes) >= 2, "the corpus videos were hashed too"
    by_id = {media_id: rel for rel, media_id in ids.items()}
    found = {frozenset(by_id[m.media_id] for m in g.members) for g in groups(conn, threshold)}
    photo_hash = {rel: r.hash for rel, r in results.items() if r.hash is not None}

    for expected in manifest["near_duplicate_groups"]:
        members = sorted(expected["members"])
        distances = {f"{a} ~ {b}": hamming(photo_hash[a], photo_hash[b]) for a, b in combinations(members, 2)}
        hashes = {rel: to_hex(photo_hash[rel]) for rel in members}
        report = f"group {expected['group_id']}: pairwise distances {distances}, hashes {hashes}, " \
                 f"T={threshold}"
        all_groups = sorted(map(sorted, found))
        assert frozenset(members) in found, f"not one group: {report}; groups found: {all_groups}"
        # Searching from each member finds exactly the others.
        for rel in members:
            similar = {by_id[s.media_id] for s in similar_to_media(conn, ids[rel], threshold)}
            assert similar == set(members) - {rel}, f"similar to {rel}: {sorted(similar)}; {report}"

    # Nothing else is grouped with anything: report the nearest unrelated pair as the margin.
    expected_groups = {frozenset(g["members"]) for g in manifest["near_duplicate_groups"]}
    unexpected = found - expected_groups
    in_groups = {rel for g in expected_groups for rel in g}
    unrelated = sorted(
        (hamming(photo_hash[a], photo_hash[b]), a, b)
        for a, b in combinations(sorted(photo_hash), 2)
        if not (a in in_groups and b in in_groups and any({a, b} <= g for g in expected_groups))
    )
    assert not unexpected, f"unexpected groups at T={threshold}: {sorted(map(sorted, unexpected))}; " \
                           f"nearest unrelated photo pairs: {unrelated[:5]}"
    assert unrelated[0][0] > threshold, f"nearest unrelated pairs: {unrelated[:5]}"
