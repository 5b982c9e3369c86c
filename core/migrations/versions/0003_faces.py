"""Faces and people: one row per detected face with its 128-d encoding (pgvector), persons, scans.

Revision ID: 0003_faces
Revises: 0002_objects
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003_faces"
down_revision = "0002_objects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    # A person is a group of faces. ``name`` empty means unnamed. ``hidden`` hides it from people lists
    # (and, with a name, freezes its faces during a re-cluster: see core/people.py).
    op.execute(
        """
        CREATE TABLE person (
            id              bigserial PRIMARY KEY,
            name            text NOT NULL DEFAULT '',
            hidden          boolean NOT NULL DEFAULT false,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX person_name ON person (lower(name)) WHERE name <> ''")

    # One row per analysed media item, also when it has no face: says which analyzer, version,
    # backend and model looked at it, and how many frames it scanned.
    op.execute(
        """
        CREATE TABLE face_scan (
            media_id         bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            face_count       integer NOT NULL CHECK (face_count >= 0),
            frames           integer NOT NULL CHECK (frames >= 0),
            width            integer,
            height           integer,
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            backend          text NOT NULL,
            model            text NOT NULL,
            params           jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at       timestamptz NOT NULL DEFAULT now()
        )
        """
    )

    # Boxes are normalised to the displayed image (EXIF orientation or video rotation applied):
    # x, y of the top-left corner and w, h, all in 0..1. frame_ms is NULL for photos, the keyframe's
    # time for videos. ``face_index`` numbers the faces of one item (the chip file is <face_index>.jpg),
    # which is what makes a redelivered job overwrite rather than add.
    # assigned_by: 'auto' (incremental grouping or re-cluster) or 'user' (merged, split off, moved, or
    # taken out of a person by hand): a re-cluster never changes a 'user' face's person (or its absence).
    op.execute(
        """
        CREATE TABLE face (
            id               bigserial PRIMARY KEY,
            media_id         bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
            face_index       integer NOT NULL CHECK (face_index >= 0),
            frame_ms         integer CHECK (frame_ms >= 0),
            box_x            real NOT NULL CHECK (box_x BETWEEN 0 AND 1),
            box_y            real NOT NULL CHECK (box_y BETWEEN 0 AND 1),
            box_w            real NOT NULL CHECK (box_w > 0 AND box_w <= 1),
            box_h            real NOT NULL CHECK (box_h > 0 AND box_h <= 1),
            score            real,
            encoding         vector(128) NOT NULL,
            chip_path        text NOT NULL,
            person_id        bigint REFERENCES person (id) ON DELETE SET NULL,
            assigned_by      text NOT NULL DEFAULT 'auto' CHECK (assigned_by IN ('auto', 'user')),
            analyzer         text NOT NULL,
            analyzer_version text NOT NULL,
            backend          text NOT NULL,
            model            text NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now(),
            UNIQUE (media_id, face_index)
        )
        """
    )
    # k-NN by euclidean distance (dlib's metric): `ORDER BY encoding <-> $1 LIMIT k` uses this index.
    op.execute("CREATE INDEX face_encoding_hnsw ON face USING hnsw (encoding vector_l2_ops)")
    op.execute("CREATE INDEX face_person ON face (person_id)")
    op.execute("CREATE INDEX face_unassigned ON face (id) WHERE person_id IS NULL")


def downgrade() -> None:
    for table in ("face", "face_scan", "person"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
