"""One ranked full-text document per media item: file name and place (weight A), comments, OCR text and
object labels (B), speech transcript (C).

The document is kept by triggers on every table it reads, so that the ingester, the workers and the API
never have to remember it, and a free-text search is one GIN index lookup plus a rank.

Revision ID: 0007_search
Revises: 0006_library
Create Date: 2026-12-03
"""

from alembic import op

revision = "0007_search"
down_revision = "0006_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE search_doc (
            media_id    bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
            doc         tsvector NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX search_doc_gin ON search_doc USING gin (doc)")
    # 'simple': no stemming and no stop words (the language of a photo's text is not known; see 0004).
    # File names are split on anything that is not a letter or digit: "Paris/IMG_2041.JPG" gives
    # "paris", "img", "2041", "jpg".
    op.execute(
        """
        CREATE FUNCTION pava_search_document(mid bigint) RETURNS tsvector
        LANGUAGE sql STABLE AS $$
            SELECT
                setweight(to_tsvector('simple'::regconfig,
                    regexp_replace(m.original_path, '[^[:alnum:]]+', ' ', 'g')), 'A')
             || setweight(to_tsvector('simple'::regconfig,
                    concat_ws(' ', m.place_name, m.place_admin1, m.place_admin2, m.country)), 'A')
             || setweight(to_tsvector('simple'::regconfig, coalesce(
                    (SELECT string_agg(c.body, ' ') FROM media_comment c WHERE c.media_id = mid), '')), 'B')
             || setweight(coalesce(
                    (SELECT o.text_tsv FROM ocr_result o WHERE o.media_id = mid), ''::tsvector), 'B')
             || setweight(to_tsvector('simple'::regconfig, coalesce(
                    (SELECT string_agg(k, ' ') FROM object_scan s, jsonb_object_keys(s.label_counts) k
                      WHERE s.media_id = mid), '')), 'B')
             || setweight(coalesce(
                    (SELECT r.text_tsv FROM speech_result r WHERE r.media_id = mid), ''::tsvector), 'C')
            FROM media m WHERE m.id = mid
        $$
        """
    )
    # Two writers of one item (the OCR and the objects worker finishing together) must not leave a
    # document built from a snapshot that misses the other's row: the row lock is taken first, so the
    # statement that rebuilds the document starts (and takes its snapshot) after the other has committed.
    op.execute(
        """
        CREATE FUNCTION pava_refresh_search_doc(mid bigint) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            IF mid IS NULL OR NOT EXISTS (SELECT 1 FROM media WHERE id = mid) THEN
                RETURN;
            END IF;
            INSERT INTO search_doc (media_id, doc) VALUES (mid, ''::tsvector) ON CONFLICT DO NOTHING;
            PERFORM 1 FROM search_doc WHERE media_id = mid FOR UPDATE;
            UPDATE search_doc SET doc = coalesce(pava_search_document(mid), ''::tsvector), updated_at = now()
             WHERE media_id = mid;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION pava_search_doc_trigger() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'media' THEN
                PERFORM pava_refresh_search_doc(NEW.id);
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM pava_refresh_search_doc(OLD.media_id);
            ELSE
                PERFORM pava_refresh_search_doc(NEW.media_id);
                IF TG_OP = 'UPDATE' AND OLD.media_id IS DISTINCT FROM NEW.media_id THEN
                    PERFORM pava_refresh_search_doc(OLD.media_id);
                END IF;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER media_search_doc
            AFTER INSERT OR UPDATE OF original_path, place_name, place_admin1, place_admin2, country
            ON media FOR EACH ROW EXECUTE FUNCTION pava_search_doc_trigger()
        """
    )
    for table in ("media_comment", "ocr_result", "speech_result", "object_scan"):
        op.execute(
            f"""
            CREATE TRIGGER {table}_search_doc AFTER INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION pava_search_doc_trigger()
            """
        )
    op.execute("SELECT pava_refresh_search_doc(id) FROM media")


def downgrade() -> None:
    for table in ("media", "media_comment", "ocr_result", "speech_result", "object_scan"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_search_doc ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pava_search_doc_trigger()")
    op.execute("DROP FUNCTION IF EXISTS pava_refresh_search_doc(bigint)")
    op.execute("DROP FUNCTION IF EXISTS pava_search_document(bigint)")
    op.execute("DROP TABLE IF EXISTS search_doc")
