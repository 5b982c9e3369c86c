"""Indexes for search, the map and stats (api/filters.py, api/ordering.py, api/routes/stats.py).

The expressions are the exact ones the API writes, because Postgres matches an expression index only to
the same expression: change them together.

Revision ID: 0009_search_indexes
Revises: 0008_transcode
Create Date: 2026-12-04
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
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
