"""Near-duplicate search over the stored dHashes: exact within a Hamming distance T, and fast.

Multi-index hashing on the four 16-bit bands that ``perceptual_hash`` derives (b0 = the most
significant 16 bits ... b3 = the least). If two 64-bit hashes differ in at most T bits, the four bands
share those T differences. The plain pigeonhole says some band differs in at most floor(T/4) bits;
the generalised one (Qin et al., "GPH", 2018) is tighter: with per-band radii r_i = floor((T - i)/4),
which sum to T - 3, some band i differs in at most r_i bits, since otherwise the distance would be at
least sum(r_i + 1) = T + 1. At T=8 the radii are (2, 1, 1, 1) instead of (2, 2, 2, 2): 188 band values
to look up instead of 548, and a third of the candidates. The query asks each band's btree index for
every 16-bit value within that band's radius of the query's band (enumerated here), computes the
exact distance with ``bit_count`` on those candidates only, and unites the four answers. No hash
within T is missed.

Near-duplicate groups use the same candidates as a self-join (each row against the band values
within the radius of its own), then union-find in Python: connected components of media items
linked by any pair of hashes (photo hashes and video keyframes alike) within T. The cost grows with
the number of candidate pairs, about N^2 * (137 + 3 * 17) / 65536 / 2 for uniformly random hashes at
T=8, not N^2.

SQL only, parameterised; nothing here imports Pillow or numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any

from psycopg import sql

from core.db import Connection
from core.perceptual import bands, to_hex, to_signed, to_unsigned

log = logging.getLogger(__name__)

BAND_BITS = 16
BAND_COUNT = 4
BAND_COLUMNS = ("b0", "b1", "b2", "b3")


# --- candidates ----------------------------------------------------------------------------------


def band_radii(threshold: int) -> tuple[int, ...]:
    """Per-band radii that make a search within ``threshold`` exact (generalised pigeonhole): band i
    is searched within ``(threshold - i) // 4`` bits; a negative radius means the band is not needed
    (at T=0 one exactly equal band suffices)."""
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    return tuple((threshold - band) // BAND_COUNT for band in range(BAND_COUNT))


@lru_cache(maxsize=16)
def band_masks(radius: int) -> tuple[int, ...]:
    """Every 16-bit XOR mask with at most ``radius`` bits set (1, 17, 137, 697... values)."""
    if not 0 <= radius <= BAND_BITS:
        raise ValueError(f"radius must be within 0..{BAND_BITS}")
    masks = [0]
    for bits in range(1, radius + 1):
        for positions in combinations(range(BAND_BITS), bits):
            mask = 0
            for position in positions:
                mask |= 1 << position
            masks.append(mask)
    return tuple(masks)


def band_neighbours(value: int, radius: int) -> list[int]:
    """All 16-bit values within Hamming ``radius`` of ``value``, sorted (btree-friendly)."""
    return sorted(value ^ mask for mask in band_masks(radius))


# --- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashMatch:
    """One stored hash within the threshold: a photo (frame_ms None) or a video keyframe."""

    media_id: int
    frame_ms: int | None
    hash: int  # unsigned
    distance: int


# One branch per band, combined with UNION rather than one OR: each branch can then be an index-only
# scan that computes the exact distance from the index alone, when the band indexes cover
# (hash, media_id, frame_ms). With plain band indexes the four candidate sets (about 2,100 rows each
# at T=8 and 1M random hashes) are fetched from the heap instead; bench/README.md has both figures.
# UNION also removes a row found through two bands.
_BRANCH = sql.SQL(
    "SELECT media_id, frame_ms, hash FROM perceptual_hash"
    " WHERE {band} = ANY({values}::integer[]) AND bit_count((hash # %(h)s::bigint)::bit(64)) <= %(t)s"
)
SEARCH_SQL = sql.SQL(
    "SELECT media_id, frame_ms, hash, bit_count((hash # %(h)s::bigint)::bit(64)) AS distance"
    " FROM ({branches}) AS near"
    " WHERE media_id IS DISTINCT FROM %(exclude)s::bigint"
    " ORDER BY distance, media_id, frame_ms NULLS FIRST"
).format(branches=sql.SQL(" UNION ").join(
    _BRANCH.format(band=sql.Identifier(column), values=sql.Placeholder("v" + column[1]))
    for column in BAND_COLUMNS
))

# The reference the banded query must equal: every row's distance, no index. Tests and the
# benchmark compare against it; it is also the fallback when the band radius would cover most of
# the 65,536 values of a band (T >= 28) and the index could not help anyway.
_FULL_SCAN = """
    SELECT media_id, frame_ms, hash, bit_count((hash # %(h)s::bigint)::bit(64)) AS distance
    FROM perceptual_hash
    WHERE bit_count((hash # %(h)s::bigint)::bit(64)) <= %(t)s
      AND media_id IS DISTINCT FROM %(exclude)s::bigint
    ORDER BY distance, media_id, frame_ms NULLS FIRST
"""

_BANDED_MAX_RADIUS = 6  # 14,893 values per band: beyond this a sequential scan is cheaper


def search_params(hash_value: int, threshold: int, exclude_media_id: int | None = None) -> dict[str, Any]:
    """The parameters of the banded query (public for the benchmark's EXPLAIN)."""
    params: dict[str, Any] = {"h": _signed(hash_value), "t": threshold, "exclude": exclude_media_id}
    for column, value, radius in zip(BAND_COLUMNS, bands(hash_value), band_radii(threshold), strict=True):
        # An empty array makes that branch an index probe that finds nothing: one SQL text for all T.
        params["v" + column[1]] = band_neighbours(value, radius) if radius >= 0 else []
    return params


def search(conn: Connection, hash_value: int, threshold: int, *, exclude_media_id: int | None = None,
           ) -> list[HashMatch]:
    """Every stored hash within ``threshold`` bits of ``hash_value`` (signed or unsigned form),
    nearest first; rows of ``exclude_media_id`` left out (searching by an item's own hash)."""
    if max(band_radii(threshold)) > _BANDED_MAX_RADIUS:
        return search_full_scan(conn, hash_value, threshold, exclude_media_id=exclude_media_id)
    rows = conn.execute(SEARCH_SQL, search_params(hash_value, threshold, exclude_media_id)).fetchall()
    return [_match(row) for row in rows]


def search_full_scan(
    conn: Connection, hash_value: int, threshold: int, *, exclude_media_id: int | None = None,
) -> list[HashMatch]:
    """The same answer as ``search`` by computing every row's distance (slow; the reference)."""
    params = {"h": _signed(hash_value), "t": threshold, "exclude": exclude_media_id}
    return [_match(row) for row in conn.execute(_FULL_SCAN, params).fetchall()]


def _match(row: dict[str, Any]) -> HashMatch:
    return HashMatch(
        int(row["media_id"]), row["frame_ms"], to_unsigned(int(row["hash"])), int(row["distance"]),
    )


def _signed(value: int) -> int:
    """Either form of a 64-bit hash, as the bigint column holds it."""
    return value if value < 0 else to_signed(value)


# --- per-item results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Similar:
    """The best match of one media item for a query (an item or an image file)."""

    media_id: int
    kind: str
    storage_path: str
    distance: int
    frame_ms: int | None  # the matching keyframe of a video; None for a photo
    hash: int  # unsigned, of the matching row
    query_frame_ms: int | None = None  # which keyframe of a video query matched

    def as_json(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "kind": self.kind, "storage_path": self.storage_path,
                "distance": self.distance, "frame_ms": self.frame_ms, "hash": to_hex(self.hash),
                "query_frame_ms": self.query_frame_ms}


class UnknownMediaError(LookupError):
    """No media item with this id, or it has no dHash yet."""


def media_hashes(conn: Connection, media_id: int) -> list[tuple[int | None, int]]:
    """(frame_ms, unsigned hash) of one item: one row for a photo, its keyframes for a video."""
    exists = conn.execute("SELECT 1 FROM media WHERE id = %s", (media_id,)).fetchone()
    if exists is None:
        raise UnknownMediaError(f"no media item with id {media_id}")
    rows = conn.execute(
        "SELECT frame_ms, hash FROM perceptual_hash WHERE media_id = %s ORDER BY frame_ms NULLS FIRST",
        (media_id,),
    ).fetchall()
    if not rows:
        raise UnknownMediaError(f"media item {media_id} has no dHash yet (is the dhash job done?)")
    return [(row["frame_ms"], to_unsigned(int(row["hash"]))) for row in rows]


def similar_to_hashes(conn: Connection, hashes: Iterable[tuple[int | None, int]], threshold: int, *,
                      exclude_media_id: int | None = None) -> list[Similar]:
    """Items within ``threshold`` of any of the query hashes, one entry per item (its best match),
    nearest first. A video query passes its keyframes; a photo or a file passes one hash."""
    best: dict[int, tuple[HashMatch, int | None]] = {}
    for query_ms, value in hashes:
        for match in search(conn, value, threshold, exclude_media_id=exclude_media_id):
            current = best.get(match.media_id)
            if current is None or match.distance < current[0].distance:
                best[match.media_id] = (match, query_ms)
    if not best:
        return []
    info = _media_info(conn, best)
    results = [
        Similar(media_id, *info[media_id], match.distance, match.frame_ms, match.hash, query_ms)
        for media_id, (match, query_ms) in best.items() if media_id in info
    ]
    results.sort(key=lambda s: (s.distance, s.media_id))
    return results


def similar_to_media(conn: Connection, media_id: int, threshold: int) -> list[Similar]:
    """Items within ``threshold`` of a stored item (the item itself excluded)."""
    return similar_to_hashes(conn, media_hashes(conn, media_id), threshold, exclude_media_id=media_id)


def _media_info(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    rows = conn.execute(
        "SELECT id, kind, storage_path FROM media WHERE id = ANY(%s::bigint[])", (list(ids),),
    ).fetchall()
    return {int(row["id"]): (row["kind"], row["storage_path"]) for row in rows}


# --- groups --------------------------------------------------------------------------------------


@dataclass
class GroupMember:
    media_id: int
    kind: str
    storage_path: str


@dataclass
class Group:
    """A connected component: items linked by pairs of hashes within the threshold."""

    members: list[GroupMember]
    # (media_id a, media_id b, smallest distance between any of their hashes), a < b
    edges: list[tuple[int, int, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "size": len(self.members),
            "members": [{"media_id": m.media_id, "kind": m.kind, "storage_path": m.storage_path}
                        for m in self.members],
            "edges": [{"a": a, "b": b, "distance": d} for a, b, d in self.edges],
        }


# One band's self-join: each row against the rows whose band value is one of its own XOR a mask.
# The band column is an identifier composed by psycopg.sql, never text from outside.
# The band's masks are that band's radius (band_radii), so the pairs found are exactly those within T.
_PAIRS = """
    SELECT a.media_id AS a, b.media_id AS b, bit_count((a.hash # b.hash)::bit(64)) AS distance
    FROM perceptual_hash AS a
    CROSS JOIN unnest({masks}::integer[]) AS m(mask)
    JOIN perceptual_hash AS b ON b.{band} = (a.{band} # m.mask)
    WHERE a.media_id < b.media_id
      AND bit_count((a.hash # b.hash)::bit(64)) <= %(t)s
"""


def near_pairs(conn: Connection, threshold: int) -> dict[tuple[int, int], int]:
    """Every pair of distinct media items having hashes within ``threshold``, with the smallest distance."""
    params: dict[str, Any] = {"t": threshold}
    branches = []
    for column, radius in zip(BAND_COLUMNS, band_radii(threshold), strict=True):
        if radius < 0:
            continue  # not needed at this threshold (see band_radii)
        params["m" + column[1]] = list(band_masks(min(radius, BAND_BITS)))
        placeholder = sql.Placeholder("m" + column[1])
        branches.append(sql.SQL(_PAIRS).format(band=sql.Identifier(column), masks=placeholder))
    query = sql.SQL("SELECT a, b, min(distance) AS distance FROM ({}) AS pairs GROUP BY a, b").format(
        sql.SQL(" UNION ALL ").join(branches))
    pairs: dict[tuple[int, int], int] = {}
    for row in conn.execute(query, params):
        pairs[(int(row["a"]), int(row["b"]))] = int(row["distance"])
    return pairs


def groups(conn: Connection, threshold: int) -> list[Group]:
    """Near-duplicate groups (two or more items each), largest first."""
    pairs = near_pairs(conn, threshold)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while parent[x] != root:  # path compression keeps later finds O(1)
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    components: dict[int, list[int]] = {}
    for node in parent:
        components.setdefault(find(node), []).append(node)
    info = _media_info(conn, parent)
    edges_of: dict[int, list[tuple[int, int, int]]] = {}
    for (a, b), distance in sorted(pairs.items()):
        edges_of.setdefault(find(a), []).append((a, b, distance))
    result = [
        Group(
            members=[GroupMember(m, *info.get(m, ("?", "?"))) for m in sorted(nodes)],
            edges=edges_of.get(root, []),
        )
        for root, nodes in components.items()
    ]
    result.sort(key=lambda g: (-len(g.members), g.members[0].media_id))
    return result
