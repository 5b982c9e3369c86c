"""Text: what OCR read in photos and what speech-to-text heard in videos, searchable two ways.

Revision ID: 0004_text
Revises: 0003_faces
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004_text"
down_revision = "0003_faces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per analysed photo, also when no text was found (text = ''): an empty result is a result,
    # so the job is done and never queued again. Lines, with their words, boxes (normalised to the
    # displayed photo) and confidences, are kept as JSON: they are read whole, to draw them, never queried.
    #
    # Search: text_tsv for words (full-text, GIN), a trigram GIN index on text for substrings and typos
    # (ILIKE '%otel%', similarity). The 'simple' configuration: no stemming and no stop words, because
    # the language of a photo's text is not known reliably and a per-row configuration would stop the
    # index from serving a query (the query's configuration must be the column's).
    op.execute(
        """
        CREATE TABLE ocr_result (
            media_id               bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            text                   text NOT NULL DEFAULT '',
            text_tsv               tsvector
                                   GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED,
            word_count             integer NOT NULL CHECK (word_count >= 0),
            mean_confidence        real CHECK (mean_confidence BETWEEN 0 AND 100),
            languages              text NOT NULL,
            rotation               smallint NOT NULL DEFAULT 0 CHECK (rotation IN (0, 90, 180, 270)),
            orientation_confidence real,
            width                  integer,
            height                 integer,
            source                 text NOT NULL DEFAULT 'original' CHECK (source IN ('original', 'preview')),
            lines                  jsonb NOT NULL DEFAULT '[]'::jsonb,
            analyzer               text NOT NULL,
            analyzer_version       text NOT NULL,
            backend                text NOT NULL,
            model                  text NOT NULL,
            params                 jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at             timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ocr_result_tsv ON ocr_result USING gin (text_tsv)")
    op.execute("CREATE INDEX ocr_result_trgm ON ocr_result USING gin (text gin_trgm_ops)")
    op.execute("CREATE INDEX ocr_result_has_text ON ocr_result (media_id) WHERE text <> ''")

    # One row per analysed video, whatever was found: status says why there is no text when there is
    # none (no audio stream, a silent soundtrack, or sound without speech).
    op.execute(
        """
        CREATE TABLE speech_result (
            media_id             bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            status               text NOT NULL
                                 CHECK (status IN ('transcribed', 'no_speech', 'silent', 'no_audio')),
            language             text,
            language_probability real CHECK (language_probability BETWEEN 0 AND 1),
            duration_s           double precision CHECK (duration_s >= 0),
            loudness_max_db      real,
            text                 text NOT NULL DEFAULT '',
            text_tsv             tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED,
            segment_count        integer NOT NULL DEFAULT 0 CHECK (segment_count >= 0),
            subtitles_path       text,
            analyzer             text NOT NULL,
            analyzer_version     text NOT NULL,
            backend              text NOT NULL,
            model                text NOT NULL,
            params               jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at           timestamptz NOT NULL DEFAULT now(),
            CHECK ((status = 'transcribed') = (text <> ''))
        )
        """
    )
    op.execute("CREATE INDEX speech_result_tsv ON speech_result USING gin (text_tsv)")
    op.execute("CREATE INDEX speech_result_trgm ON speech_result USING gin (text gin_trgm_ops)")
    op.execute("CREATE INDEX speech_result_language ON speech_result (language) WHERE language IS NOT NULL")

    # Timed segments, so that a search hit can jump to the moment it was said. (media_id, seq) is the
    # key a redelivered job rewrites; its own tsvector finds the moment once the video is found.
    op.execute(
        """
        CREATE TABLE speech_segment (
            media_id       bigint NOT NULL REFERENCES speech_result (media_id) ON DELETE CASCADE,
            seq            integer NOT NULL CHECK (seq >= 0),
            start_s        double precision NOT NULL CHECK (start_s >= 0),
            end_s          double precision NOT NULL,
            text           text NOT NULL,
            text_tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED,
            avg_logprob    real,
            no_speech_prob real,
            PRIMARY KEY (media_id, seq),
            CHECK (end_s >= start_s)
        )
        """
    )
    op.execute("CREATE INDEX speech_segment_tsv ON speech_segment USING gin (text_tsv)")


def downgrade() -> None:
    for table in ("speech_segment", "speech_result", "ocr_result"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
