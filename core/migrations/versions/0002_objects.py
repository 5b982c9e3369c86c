"""Objects: one row per detected object (photo, or video keyframe), and one scan row per analysed item.

Revision ID: 0002_objects
Revises: 0001_spine
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002_objects"
down_revision = "0001_spine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per analysed item, even when nothing was found: it records which backend and model looked
    # at the item (an empty result is a result), and it is the row a writer locks first so that two
    # deliveries of the same job cannot interleave their replace of the detections (see the store).
    # label_counts: {label: n} where n is the largest number of that label seen at once (in the photo,
    # or in any one keyframe of a video), so "at least 3 persons" is one indexed predicate.
    op.execute(
        """
        CREATE TABLE object_scan (
            media_id         bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            backend          text NOT NULL,
            model            text NOT NULL,
            min_confidence   real NOT NULL CHECK (min_confidence BETWEEN 0 AND 1),
            frames           integer NOT NULL CHECK (frames >= 0),
            detections       integer NOT NULL CHECK (detections >= 0),
            label_counts     jsonb NOT NULL DEFAULT '{}'::jsonb,
            analyzed_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX object_scan_labels ON object_scan USING gin (label_counts)")

    # Boxes are normalised to the displayed (orientation-applied) image: x, y the top-left corner,
    # w, h the size, all in 0..1, so they stay valid whatever size a thumbnail is drawn at.
    op.execute(
        """
        CREATE TABLE object_detection (
            id               bigserial PRIMARY KEY,
            media_id         bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            frame_ms         integer CHECK (frame_ms >= 0),
            label            text NOT NULL CHECK (label <> ''),
            confidence       real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            x                real NOT NULL CHECK (x BETWEEN 0 AND 1),
            y                real NOT NULL CHECK (y BETWEEN 0 AND 1),
            w                real NOT NULL CHECK (w BETWEEN 0 AND 1),
            h                real NOT NULL CHECK (h BETWEEN 0 AND 1),
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            backend          text NOT NULL,
            model            text NOT NULL,
            CHECK (x + w <= 1.0001 AND y + h <= 1.0001)
        )
        """
    )
    # Search by label, best first; the media_id column makes "items with a dog" an index-only scan.
    op.execute("CREATE INDEX object_detection_label ON object_detection (label, confidence DESC, media_id)")
    # Replace-per-item deletes, per-item listing in time order, and counts per label per item.
    op.execute("CREATE INDEX object_detection_media ON object_detection (media_id, label, frame_ms)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS object_detection")
    op.execute("DROP TABLE IF EXISTS object_scan")
