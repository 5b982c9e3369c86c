"""The library a user organises: favourites, time and position set by hand, comments, albums.

Revision ID: 0006_library
Revises: 0005_users
Create Date: 2026-12-03
"""

from alembic import op

revision = "0006_library"
down_revision = "0005_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What a user sets by hand is kept apart from what the file says (gps_*, taken_at*): the original
    # reading stays visible and a cleared edit falls back to it. The effective_* columns are derived by
    # the database, so that search, sort and map read one indexed column and no writer can forget a case.
    # Without an offset, a hand-set time follows ingest's convention: the wall-clock time read as UTC.
    op.execute(
        """
        ALTER TABLE media
            ADD COLUMN favourite            boolean NOT NULL DEFAULT false,
            ADD COLUMN manual_lat           double precision CHECK (manual_lat BETWEEN -90 AND 90),
            ADD COLUMN manual_lon           double precision CHECK (manual_lon BETWEEN -180 AND 180),
            ADD COLUMN manual_gps_at        timestamptz,
            ADD COLUMN manual_gps_by        bigint REFERENCES app_user (id) ON DELETE SET NULL,
            ADD COLUMN manual_taken_at      timestamptz,
            ADD COLUMN manual_taken_at_local timestamp,
            ADD COLUMN manual_taken_at_offset_minutes integer
                CHECK (manual_taken_at_offset_minutes BETWEEN -1080 AND 1080),
            ADD COLUMN manual_taken_at_by   bigint REFERENCES app_user (id) ON DELETE SET NULL,
            ADD COLUMN manual_taken_at_set_at timestamptz,
            ADD COLUMN effective_lat        double precision
                GENERATED ALWAYS AS (COALESCE(manual_lat, gps_lat)) STORED,
            ADD COLUMN effective_lon        double precision
                GENERATED ALWAYS AS (COALESCE(manual_lon, gps_lon)) STORED,
            ADD COLUMN effective_taken_at   timestamptz
                GENERATED ALWAYS AS (COALESCE(manual_taken_at, taken_at)) STORED,
            ADD CONSTRAINT media_manual_gps_pair CHECK ((manual_lat IS NULL) = (manual_lon IS NULL)),
            ADD CONSTRAINT media_manual_time_pair
                CHECK ((manual_taken_at IS NULL) = (manual_taken_at_local IS NULL))
        """
    )
    # Keyset pagination and range filters: (value, id) so that ties never repeat or skip an item.
    op.execute("CREATE INDEX media_effective_taken_at ON media (effective_taken_at, id)")
    op.execute("CREATE INDEX media_ingested_at ON media (ingested_at, id)")
    op.execute(
        "CREATE INDEX media_effective_position ON media (effective_lat, effective_lon)"
        " WHERE effective_lat IS NOT NULL"
    )
    op.execute("CREATE INDEX media_favourite ON media (id) WHERE favourite")
    op.execute("CREATE INDEX media_source ON media (source)")

    op.execute(
        """
        CREATE TABLE media_comment (
            id              bigserial PRIMARY KEY,
            media_id        bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            user_id         bigint REFERENCES app_user (id) ON DELETE SET NULL,
            author          text NOT NULL,
            body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
            created_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX media_comment_media ON media_comment (media_id, created_at)")

    op.execute(
        """
        CREATE TABLE album (
            id              bigserial PRIMARY KEY,
            name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            description     text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
            created_by      bigint REFERENCES app_user (id) ON DELETE SET NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE album_item (
            album_id        bigint NOT NULL REFERENCES album (id) ON DELETE CASCADE,
            media_id        bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            added_by        bigint REFERENCES app_user (id) ON DELETE SET NULL,
            added_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (album_id, media_id)
        )
        """
    )
    op.execute("CREATE INDEX album_item_media ON album_item (media_id)")


def downgrade() -> None:
    for table in ("album_item", "album", "media_comment"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    for index in ("media_effective_taken_at", "media_ingested_at", "media_effective_position",
                  "media_favourite", "media_source"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute(
        """
        ALTER TABLE media
            DROP COLUMN effective_lat, DROP COLUMN effective_lon, DROP COLUMN effective_taken_at,
            DROP COLUMN favourite, DROP COLUMN manual_lat, DROP COLUMN manual_lon, DROP COLUMN manual_gps_at,
            DROP COLUMN manual_gps_by, DROP COLUMN manual_taken_at, DROP COLUMN manual_taken_at_local,
            DROP COLUMN manual_taken_at_offset_minutes, DROP COLUMN manual_taken_at_by,
            DROP COLUMN manual_taken_at_set_at
        """
    )
