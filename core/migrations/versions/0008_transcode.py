"""Browser renditions: videos whose codec or container a browser cannot play (HEVC, AVI, 3GP...) get an
H.264/AAC MP4 made by the ``transcode`` worker, a queue of its own like the analyses. The original is
never touched; the rendition is a derived file and can be made again.

Revision ID: 0008_transcode
Revises: 0007_search
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008_transcode"
down_revision = "0007_search"
branch_labels = None
depends_on = None

ANALYSES = ("objects", "faces", "ocr", "speech", "dhash", "transcode")


def upgrade() -> None:
    analyses = ", ".join(f"'{name}'" for name in ANALYSES)
    op.execute("ALTER TABLE job DROP CONSTRAINT job_analyzer_check")
    op.execute(f"ALTER TABLE job ADD CONSTRAINT job_analyzer_check CHECK (analyzer IN ({analyses}))")
    # One row per video looked at, also when nothing had to be made (status not_needed: the original
    # plays in browsers as it is). ``reason`` says why a rendition was made (e.g. "video codec hevc").
    op.execute(
        """
        CREATE TABLE rendition (
            media_id         bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            status           text NOT NULL CHECK (status IN ('transcoded', 'not_needed')),
            reason           text NOT NULL DEFAULT '',
            path             text,
            mime_type        text,
            video_codec      text,
            audio_codec      text,
            width            integer CHECK (width > 0),
            height           integer CHECK (height > 0),
            duration_s       double precision CHECK (duration_s >= 0),
            size_bytes       bigint CHECK (size_bytes >= 0),
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            backend          text NOT NULL,
            model            text NOT NULL,
            params           jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at       timestamptz NOT NULL DEFAULT now(),
            CHECK ((status = 'transcoded') = (path IS NOT NULL))
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS rendition")
    op.execute("DELETE FROM job WHERE analyzer = 'transcode'")
    analyses = ", ".join(f"'{name}'" for name in ANALYSES[:-1])
    op.execute("ALTER TABLE job DROP CONSTRAINT job_analyzer_check")
    op.execute(f"ALTER TABLE job ADD CONSTRAINT job_analyzer_check CHECK (analyzer IN ({analyses}))")
