"""The spine: media, aliases, rejections, jobs, outbox, perceptual hashes.

Revision ID: 0001_spine
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001_spine"
down_revision = None
branch_labels = None
depends_on = None

ANALYSES = ("objects", "faces", "ocr", "speech", "dhash")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE TABLE media (
            id              bigserial PRIMARY KEY,
            sha512          bytea NOT NULL UNIQUE CHECK (length(sha512) = 64),
            -- staged: the row exists and the file is being moved in; ready: fully ingested.
            status          text NOT NULL DEFAULT 'staged' CHECK (status IN ('staged', 'ready')),
            kind            text NOT NULL CHECK (kind IN ('photo', 'video')),
            format          text NOT NULL,
            mime_type       text NOT NULL,
            size_bytes      bigint NOT NULL CHECK (size_bytes > 0),
            storage_path    text NOT NULL UNIQUE,
            original_path   text NOT NULL,
            source          text NOT NULL DEFAULT '',
            file_mtime      timestamptz,
            ingested_at     timestamptz NOT NULL DEFAULT now(),
            taken_at        timestamptz,
            taken_at_local  timestamp,
            taken_at_offset_minutes integer CHECK (taken_at_offset_minutes BETWEEN -1080 AND 1080),
            taken_at_source text CHECK (taken_at_source IN ('exif', 'quicktime', 'xmp', 'file_mtime')),
            make            text,
            model           text,
            lens            text,
            aperture        real,
            exposure_time   real,
            iso             integer,
            focal_length    real,
            gps_lat         double precision CHECK (gps_lat BETWEEN -90 AND 90),
            gps_lon         double precision CHECK (gps_lon BETWEEN -180 AND 180),
            gps_alt         double precision CHECK (gps_alt BETWEEN -12000 AND 100000),
            orientation     smallint CHECK (orientation BETWEEN 1 AND 8),
            width           integer CHECK (width > 0),
            height          integer CHECK (height > 0),
            duration_s      double precision CHECK (duration_s >= 0),
            video_codec     text,
            audio_codec     text,
            frame_rate      double precision,
            place_name      text,
            place_admin1    text,
            place_admin2    text,
            country_code    text,
            country         text,
            metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
            warnings        jsonb NOT NULL DEFAULT '[]'::jsonb,
            CHECK ((gps_lat IS NULL) = (gps_lon IS NULL))
        )
        """
    )
    op.execute("CREATE INDEX media_taken_at ON media (taken_at)")
    op.execute("CREATE INDEX media_gps ON media (gps_lat, gps_lon) WHERE gps_lat IS NOT NULL")
    op.execute("CREATE INDEX media_camera ON media (make, model)")
    op.execute("CREATE INDEX media_kind_format ON media (kind, format)")
    op.execute("CREATE INDEX media_staged ON media (id) WHERE status = 'staged'")

    op.execute(
        """
        CREATE TABLE media_alias (
            id              bigserial PRIMARY KEY,
            media_id        bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            status          text NOT NULL DEFAULT 'staged' CHECK (status IN ('staged', 'ready')),
            original_path   text NOT NULL,
            source          text NOT NULL DEFAULT '',
            duplicate_path  text NOT NULL UNIQUE,
            size_bytes      bigint NOT NULL,
            file_mtime      timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX media_alias_media ON media_alias (media_id)")
    op.execute("CREATE INDEX media_alias_staged ON media_alias (id) WHERE status = 'staged'")

    op.execute(
        """
        CREATE TABLE rejection (
            id              bigserial PRIMARY KEY,
            original_path   text NOT NULL,
            source          text NOT NULL DEFAULT '',
            reason          text NOT NULL,
            detail          text NOT NULL,
            -- staged: the row exists and the file is being moved to quarantine (ingest's crash recovery
            -- finishes or removes it); ready: recorded. A rejection left in place is ready at once.
            status          text NOT NULL DEFAULT 'ready' CHECK (status IN ('staged', 'ready')),
            quarantine_path text UNIQUE,
            sha512          bytea,
            size_bytes      bigint,
            file_mtime      timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX rejection_original_path ON rejection (original_path)")
    op.execute("CREATE INDEX rejection_staged ON rejection (id) WHERE status = 'staged'")

    analyses = ", ".join(f"'{name}'" for name in ANALYSES)
    op.execute(
        f"""
        CREATE TABLE job (
            id               bigserial PRIMARY KEY,
            media_id         bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            analyzer         text NOT NULL CHECK (analyzer IN ({analyses})),
            -- pending: recorded, in the outbox; queued: published; running: a worker has it;
            -- done: results committed; failed: permanent error or attempts exhausted (dead-lettered).
            state            text NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'queued', 'running', 'done', 'failed')),
            attempts         integer NOT NULL DEFAULT 0,
            analyzer_version text,
            error            text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz,
            UNIQUE (media_id, analyzer)
        )
        """
    )
    op.execute("CREATE INDEX job_state ON job (analyzer, state)")
    op.execute("CREATE INDEX job_failed ON job (updated_at DESC) WHERE state = 'failed'")

    op.execute(
        """
        CREATE TABLE outbox (
            id          bigserial PRIMARY KEY,
            job_id      bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
            routing_key text NOT NULL,
            body        jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )

    # 64-bit dHash of a photo (frame_ms NULL) or of a video keyframe (frame_ms = its timestamp).
    # The four 16-bit bands are derived by the database so that no writer can get them wrong; any
    # two hashes within distance T share at least one band within distance floor(T/4) (pigeonhole).
    op.execute(
        """
        CREATE TABLE perceptual_hash (
            id               bigserial PRIMARY KEY,
            media_id         bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            frame_ms         integer CHECK (frame_ms >= 0),
            hash             bigint NOT NULL,
            b0               integer GENERATED ALWAYS AS ((hash >> 48) & 65535) STORED,
            b1               integer GENERATED ALWAYS AS ((hash >> 32) & 65535) STORED,
            b2               integer GENERATED ALWAYS AS ((hash >> 16) & 65535) STORED,
            b3               integer GENERATED ALWAYS AS (hash & 65535) STORED,
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            UNIQUE NULLS NOT DISTINCT (media_id, frame_ms)
        )
        """
    )
    # Covering indexes: the band lookup then reads the hash from the index alone (no heap fetch per
    # candidate), which is what keeps a query at 1M hashes within a few ms (bench/bench_neardup.py).
    for band in range(4):
        op.execute(
            f"CREATE INDEX perceptual_hash_b{band} ON perceptual_hash (b{band})"
            " INCLUDE (hash, media_id, frame_ms)"
        )


def downgrade() -> None:
    for table in ("perceptual_hash", "outbox", "job", "rejection", "media_alias", "media"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
