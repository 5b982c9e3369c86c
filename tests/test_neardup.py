"""Near-duplicate search and groups (core/neardup.py) and the dHash store, on the real Postgres.

The banded query must be exact: property-style, many random queries with neighbours planted at every
distance up to T (including the pigeonhole's worst case, the differences spread evenly over the four
bands), compared with a brute-force scan in Python and with the full-scan query.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import insert_media

from core import db
from core.media import MediaKind
from core.neardup import (
    UnknownMediaError,
    band_masks,
    band_neighbours,
    band_radii,
    groups,
    search,
    search_full_scan,
    similar_to_hashes,
    similar_to_media,
)
from core.perceptual import dhash_file, hamming, to_hex, to_signed
from core.results.dhash import export
from core.settings import PROJECT_ROOT, Settings
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.dhash import DhashResult
from workers.keyframes import Keyframe
from workers.stores.dhash import store

META = ResultMeta(analyzer="dhash", version="1")
THRESHOLDS = (0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 16)


@pytest.fixture
def conn(database_url: str) -> Iterator[db.Connection]:
    with db.connect(Settings.model_validate({"database_url": database_url}), autocommit=True) as connection:
        yield connection


def add_media(conn: db.Connection, name: str, kind: MediaKind = MediaKind.PHOTO) -> int:
    return insert_media(conn, name, sha512=os.urandom(64), kind=kind)


def item_for(media_id: int, kind: MediaKind = MediaKind.PHOTO) -> MediaItem:
    return MediaItem(media_id=media_id, job_id=media_id, kind=kind, path=Path("/nonexistent"), rel_path="x",
                     sha512="00" * 64, storage_root=Path("/nonexistent"))


def store_photo(conn: db.Connection, media_id: int, value: int) -> None:
    with conn.transaction():
        store(conn, item_for(media_id), DhashResult(hash=value), META)


def store_video(conn: db.Connection, media_id: int, frames: list[tuple[int, int]]) -> None:
    keys = tuple(Keyframe(i, ms, value) for i, (ms, value) in enumerate(frames))
    with conn.transaction():
        store(conn, item_for(media_id, MediaKind.VIDEO), DhashResult(keyframes=keys), META)


def flip(value: int, positions: list[int]) -> int:
    for position in positions:
        value ^= 1 << position
    return value


def neighbour(rng: random.Random, value: int, distance: int, *, spread: bool) -> int:
    """A hash exactly ``distance`` bits away. ``spread`` splits the differences over the bands as
    evenly as possible, starting at a random band: the cases where every band is as far from the
    query as the band radii allow (e.g. 2,2,2,2 or 3,2,2,1 ... at T=8)."""
    if not spread:
        return flip(value, rng.sample(range(64), distance))
    positions: list[int] = []
    first = rng.randrange(4)
    for i in range(distance):
        band = (first + i) % 4
        choices = [p for p in range(band * 16, band * 16 + 16) if p not in positions]
        positions.append(rng.choice(choices))
    return flip(value, positions)


def compositions(total: int, parts: int = 4, cap: int = 16) -> list[tuple[int, ...]]:
    """Every way to split ``total`` differing bits over the bands (each band holds 16 bits)."""
    if parts == 1:
        return [(total,)] if total <= cap else []
    return [(first, *rest) for first in range(min(total, cap) + 1)
            for rest in compositions(total - first, parts - 1, cap)]


def split_neighbour(rng: random.Random, value: int, split: tuple[int, ...]) -> int:
    """A hash whose band i differs from ``value``'s in exactly split[i] bits."""
    positions: list[int] = []
    for band, count in enumerate(split):
        positions += rng.sample(range(band * 16, band * 16 + 16), count)
    return flip(value, positions)


# --- unit ----------------------------------------------------------------------------------------


def test_band_enumeration() -> None:
    assert [len(band_masks(r)) for r in range(4)] == [1, 17, 137, 697]
    assert band_radii(8) == (2, 1, 1, 1) and band_radii(4) == (1, 0, 0, 0) and band_radii(7) == (1, 1, 1, 1)
    assert band_radii(0) == (0, -1, -1, -1) and band_radii(2) == (0, 0, 0, -1)
    # Exactness of the generalised pigeonhole: any split of T differences over the four bands has
    # some band within its radius.
    for threshold in range(33):
        radii = band_radii(threshold)
        assert sum(radii) == threshold - 3
        for d0 in range(min(threshold, 16) + 1):
            for d1 in range(min(threshold - d0, 16) + 1):
                for d2 in range(min(threshold - d0 - d1, 16) + 1):
                    d3 = min(threshold - d0 - d1 - d2, 16)
                    assert any(d <= r for d, r in zip((d0, d1, d2, d3), radii, strict=True))
    values = band_neighbours(0xBEEF, 2)
    assert len(values) == len(set(values)) == 137
    assert all(hamming(v, 0xBEEF) <= 2 for v in values) and values == sorted(values)


# --- store ---------------------------------------------------------------------------------------


def test_store_replaces_and_export(conn: db.Connection) -> None:
    photo = add_media(conn, "a.jpg")
    store_photo(conn, photo, 0xFFFF_0000_1234_ABCD)
    store_photo(conn, photo, 0xFFFF_0000_1234_ABCE)  # redelivered, or re-run with a new version
    rows = conn.execute("SELECT frame_ms, hash, b0, b3, analyzer, analyzer_version FROM perceptual_hash "
                        "WHERE media_id = %s", (photo,)).fetchall()
    assert len(rows) == 1
    assert rows[0]["frame_ms"] is None and rows[0]["hash"] == to_signed(0xFFFF_0000_1234_ABCE)
    assert (rows[0]["b0"], rows[0]["b3"]) == (0xFFFF, 0xABCE)  # the database's bands match ours
    assert (rows[0]["analyzer"], rows[0]["analyzer_version"]) == ("dhash", "1")

    video = add_media(conn, "v.mp4", MediaKind.VIDEO)
    store_video(conn, video, [(0, 1), (2000, 2), (4000, 3)])
    store_video(conn, video, [(0, 1), (2000, 2), (4000, 3)])  # redelivery writes nothing twice
    store_video(conn, video, [(0, 1), (2400, 5)])  # re-run with other settings: old frames go
    frames = conn.execute("SELECT frame_ms, hash FROM perceptual_hash WHERE media_id = %s ORDER BY frame_ms",
                          (video,)).fetchall()
    assert [(r["frame_ms"], r["hash"]) for r in frames] == [(0, 1), (2400, 5)]

    silent = add_media(conn, "audio.mp4", MediaKind.VIDEO)
    store_video(conn, silent, [])

    out = export(conn, [photo, video, silent, 999_999])
    assert out == {
        photo: {"hash": "ffff00001234abce", "keyframes": []},
        video: {"hash": to_hex(1),
                "keyframes": [{"ms": 0, "hash": to_hex(1)}, {"ms": 2400, "hash": to_hex(5)}]},
    }
    json.dumps(out)  # plain JSON data


def test_store_runs_inside_the_callers_transaction(conn: db.Connection) -> None:
    photo = add_media(conn, "b.jpg")
    with pytest.raises(RuntimeError), conn.transaction():
        store(conn, item_for(photo), DhashResult(hash=42), META)
        raise RuntimeError("the job failed after the store: nothing may remain")
    assert conn.execute("SELECT count(*) AS n FROM perceptual_hash").fetchone() == {"n": 0}


# --- search: exact against brute force -----------------------------------------------------------


def test_banded_search_is_exact(conn: db.Connection) -> None:
    rng = random.Random(20261122)
    stored: list[tuple[int, int]] = []  # (media_id, unsigned hash)
    queries: list[int] = [rng.getrandbits(64) for _ in range(60)]
    # Random background, plus neighbours of every query planted at each distance 0..16.
    with conn.transaction():
        for n in range(1500):
            media = add_media(conn, f"bg{n}.jpg")
            value = rng.getrandbits(64)
            store(conn, item_for(media), DhashResult(hash=value), META)
            stored.append((media, value))
        for q, query in enumerate(queries):
            planted = [neighbour(rng, query, distance, spread=distance % 2 == 0) for distance in range(17)]
            if q < 8:
                # Every split of these distances over the four bands, independently of how the
                # search picks its band radii: whatever the split, a neighbour within T is found.
                for distance in (4, 8, 9, 12):
                    planted += [split_neighbour(rng, query, split) for split in compositions(distance)]
            for n, value in enumerate(planted):
                media = add_media(conn, f"q{q}_{n}.jpg")
                store(conn, item_for(media), DhashResult(hash=value), META)
                stored.append((media, value))
    conn.execute("ANALYZE perceptual_hash")
    checked = 0
    for threshold in THRESHOLDS:
        for query in queries:
            expected = {(m, hamming(v, query)) for m, v in stored if hamming(v, query) <= threshold}
            got = search(conn, query, threshold)
            assert {(m.media_id, m.distance) for m in got} == expected, f"T={threshold} query={to_hex(query)}"
            assert [m.distance for m in got] == sorted(m.distance for m in got)
            full = search_full_scan(conn, query, threshold)
            assert [(m.media_id, m.distance) for m in full] == [(m.media_id, m.distance) for m in got]
            checked += len(expected)
        # The signed form of a query gives the same answer.
        assert search(conn, to_signed(queries[0]), threshold) == search(conn, queries[0], threshold)
    assert checked > 60 * 9  # every query found its planted neighbours


def test_similar_excludes_self_and_collapses_keyframes(conn: db.Connection) -> None:
    base = 0x0123_4567_89AB_CDEF
    photo = add_media(conn, "p.jpg")
    store_photo(conn, photo, base)
    copy = add_media(conn, "p_small.jpg")
    store_photo(conn, copy, flip(base, [0, 17]))
    far = add_media(conn, "far.jpg")
    store_photo(conn, far, ~base & (2**64 - 1))
    video = add_media(conn, "v.mp4", MediaKind.VIDEO)
    # Two keyframes near the photo (3 and 1 bits away) and one unrelated.
    store_video(conn, video, [(0, flip(base, [1, 2, 3])), (1000, 0), (2200, flip(base, [63]))])

    found = similar_to_media(conn, photo, 8)
    assert [(s.media_id, s.distance, s.frame_ms) for s in found] == [(video, 1, 2200), (copy, 2, None)]
    assert all(s.media_id != photo for s in found)
    assert found[0].storage_path == "originals/v.mp4" and found[0].kind == "video"

    from_video = similar_to_media(conn, video, 8)
    assert [(s.media_id, s.distance, s.query_frame_ms) for s in from_video] == [(photo, 1, 2200),
                                                                                (copy, 3, 2200)]
    # A query that is not stored (an image file) excludes nothing.
    assert {s.media_id for s in similar_to_hashes(conn, [(None, base)], 0)} == {photo}
    with pytest.raises(UnknownMediaError, match="no media"):
        similar_to_media(conn, 987_654, 8)
    nothing = add_media(conn, "pending.jpg")
    with pytest.raises(UnknownMediaError, match="no dHash"):
        similar_to_media(conn, nothing, 8)


# --- groups --------------------------------------------------------------------------------------


def brute_force_groups(rows: list[tuple[int, int]], threshold: int) -> set[frozenset[int]]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for (ma, ha), (mb, hb) in combinations(rows, 2):
        if ma != mb and hamming(ha, hb) <= threshold:
            parent[find(ma)] = find(mb)
    components: dict[int, set[int]] = {}
    for node in list(parent):
        components.setdefault(find(node), set()).add(node)
    return {frozenset(c) for c in components.values() if len(c) > 1}


def test_groups_match_brute_force(conn: db.Connection) -> None:
    rng = random.Random(7)
    rows: list[tuple[int, int]] = []
    with conn.transaction():
        for n in range(400):
            media = add_media(conn, f"r{n}.jpg")
            value = rng.getrandbits(64)
            store(conn, item_for(media), DhashResult(hash=value), META)
            rows.append((media, value))
        # Chains: each link within T, the ends far apart: one group only through connectivity.
        for c in range(12):
            value = rng.getrandbits(64)
            for link in range(4):
                media = add_media(conn, f"chain{c}_{link}.jpg")
                store(conn, item_for(media), DhashResult(hash=value), META)
                rows.append((media, value))
                value = neighbour(rng, value, rng.choice([6, 7, 8]), spread=True)
        # A video whose keyframes are each near a different photo joins their groups.
        photo_a, photo_b = add_media(conn, "ga.jpg"), add_media(conn, "gb.jpg")
        ha, hb = rng.getrandbits(64), rng.getrandbits(64)
        store(conn, item_for(photo_a), DhashResult(hash=ha), META)
        store(conn, item_for(photo_b), DhashResult(hash=hb), META)
        video = add_media(conn, "g.mp4", MediaKind.VIDEO)
        keys = (Keyframe(0, 0, neighbour(rng, ha, 5, spread=False)),
                Keyframe(9, 1800, neighbour(rng, hb, 8, spread=True)))
        store(conn, item_for(video, MediaKind.VIDEO), DhashResult(keyframes=keys), META)
        rows += [(photo_a, ha), (photo_b, hb), (video, keys[0].hash), (video, keys[1].hash)]
    for threshold in (4, 8, 10):
        found = groups(conn, threshold)
        expected = brute_force_groups(rows, threshold)
        assert {frozenset(m.media_id for m in g.members) for g in found} == expected
        for group in found:
            ids = {m.media_id for m in group.members}
            assert all(a in ids and b in ids and a < b and d <= threshold for a, b, d in group.edges)
    at_8 = {frozenset(m.media_id for m in g.members) for g in groups(conn, 8)}
    assert frozenset({photo_a, photo_b, video}) in at_8
    assert sum(1 for g in at_8 if len(g) >= 4) >= 12  # the chains


# --- command line --------------------------------------------------------------------------------


def run_cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    env.update({"PAVA_DATABASE_URL": database_url, "PAVA_HOME": str(tmp_path / "var"),
                "PAVA_STORAGE_ROOT": str(tmp_path / "storage")})
    return subprocess.run([sys.executable, "-m", "pava", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_similar_and_groups(conn: db.Connection, database_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    picture = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8), "RGB").resize(
        (640, 480), Image.Resampling.BICUBIC)
    query = tmp_path / "query.jpg"
    picture.save(query, quality=90)
    value = dhash_file(query)
    original = add_media(conn, "holiday/a.jpg")
    store_photo(conn, original, value)
    copy = add_media(conn, "holiday/a_copy.jpg")
    store_photo(conn, copy, flip(value, [5, 40, 41]))
    other = add_media(conn, "other.jpg")
    store_photo(conn, other, ~value & (2**64 - 1))

    by_path = run_cli(database_url, tmp_path, "similar", str(query), "--json")
    assert by_path.returncode == 0, by_path.stderr
    report = json.loads(by_path.stdout)
    assert report["threshold"] == Settings.model_validate({}).dhash.near_duplicate_threshold
    assert report["query"]["hashes"] == [{"frame_ms": None, "hash": to_hex(value)}]
    assert [(m["media_id"], m["distance"]) for m in report["matches"]] == [(original, 0), (copy, 3)]

    by_id = run_cli(database_url, tmp_path, "similar", str(original), "--threshold", "2", "--json")
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["matches"] == []
    text = run_cli(database_url, tmp_path, "similar", str(original))
    assert text.returncode == 0, text.stderr
    assert "holiday/a_copy.jpg" in text.stdout and "holiday/a.jpg\n" not in text.stdout

    grouped = run_cli(database_url, tmp_path, "neardup-groups", "--json")
    assert grouped.returncode == 0, grouped.stderr
    result = json.loads(grouped.stdout)
    assert [[m["media_id"] for m in g["members"]] for g in result["groups"]] == [[original, copy]]
    assert result["groups"][0]["edges"] == [{"a": original, "b": copy, "distance": 3}]
    assert "group 1 (2 items)" in run_cli(database_url, tmp_path, "neardup-groups").stdout

    missing = run_cli(database_url, tmp_path, "similar", "123456")
    assert missing.returncode != 0 and "no media item" in missing.stderr
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    bad = run_cli(database_url, tmp_path, "similar", str(not_image))
    assert bad.returncode != 0 and "neither an image nor a readable video" in bad.stderr
