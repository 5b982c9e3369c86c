"""Indexes for search, the map, facets and stats (api/filters.py, api/ordering.py, api/clusters.py,
api/facets.py, api/routes/stats.py), and planner statistics for the month a facet groups by.

The expressions are the exact ones the API writes, because Postgres matches an expression index (and
expression statistics) only to the same expression: change them together.

Revision ID: 0009_search_indexes
Revises: 0008_transcode
Create Date: 2026-12-03
"""

from alembic import op

revision = "0009_search_indexes"
down_revision = "0008_transcode"
branch_labels = None
depends_on = None

# The item's wall-clock time (api/filters.py LOCAL_TAKEN).
LOCAL_TAKEN = "COALESCE(manual_taken_at_local, taken_at_local, effective_taken_at AT TIME ZONE 'UTC')"

INDEXES = {
    # The time sorts with items without a date last, as keysets (api/ordering.py): newest first scans
    # the first backwards, oldest first scans the second forwards, and the next page starts with a row
    # comparison on (key, id) inside the index. Partial: only ready items are ever listed.
    "media_taken_desc": "ON media ((COALESCE(effective_taken_at, '-infinity'::timestamptz)), id)"
                        " WHERE status = 'ready'",
    "media_taken_asc": "ON media ((COALESCE(effective_taken_at, 'infinity'::timestamptz)), id)"
                       " WHERE status = 'ready'",
    # taken_from / taken_to as dates: ranges of the wall-clock time.
    "media_taken_local": f"ON media (({LOCAL_TAKEN})) WHERE status = 'ready'",
    # On this day (api/routes/stats.py): a few hundred items out of the library, found in a millisecond
    # instead of a scan of every row.
    "media_taken_day": f"ON media ((date_part('month', {LOCAL_TAKEN})), (date_part('day', {LOCAL_TAKEN})))"
                       " WHERE status = 'ready'",
    # The map: everything a cluster needs, so that the whole world at a low zoom is an index-only scan
    # (half the time of reading the table), and a city is a range of latitudes in it.
    "media_map": "ON media (effective_lat, effective_lon) INCLUDE (id, manual_lat)"
                 " WHERE status = 'ready' AND effective_lat IS NOT NULL",
    # The people facet and the person filter: the items of a person, in order, without reading faces
    # (whose rows carry a 128-d vector each).
    "face_person_media": "ON face (person_id, media_id) WHERE person_id IS NOT NULL",
}

# Without them the planner takes every (month, other facet) pair for distinct, sorts 100,000 rows (on
# disk) instead of hashing a few hundred groups, and the facets take twice as long.
STATISTICS = {
    "media_taken_month": f"ON (date_trunc('month', {LOCAL_TAKEN})) FROM media",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} {definition}")
    for name, definition in STATISTICS.items():
        op.execute(f"CREATE STATISTICS {name} {definition}")
    op.execute("ANALYZE media")


def downgrade() -> None:
    for name in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
