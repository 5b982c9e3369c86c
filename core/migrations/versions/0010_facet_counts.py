"""Facet counts of the whole library kept by triggers, as append-only deltas (api/facets.py).

Counting the whole library's facets from its rows costs a scan of every media row and the expansion of
every object scan's labels (250 ms at 100,000 items on 2 cores), and the snapshot cache cannot answer
while anything is being written. So every change to a media row or an object scan also writes what it
changes in the counts: ``media_facet_delta`` gets a -1 row for the old values and a +1 row for the new
ones, ``object_label_delta`` a -1 or +1 per label of the item. Readers sum the rows (a few thousand).

Why deltas rather than one counter row per value: writers only ever INSERT, so concurrent ingests and
workers never wait for each other or deadlock on a hot counter row (every photo of a month would update
the same one), and a delta commits or rolls back with the change it describes, so the sums are exact
under any snapshot, with no race to reason about: each trigger reads nothing but its own OLD and NEW.
This is also why the labels carry no item status (the status lives on media, another row that another
transaction may be changing): readers subtract the labels of the few staged items instead.

Folding keeps the tables small: every ``FOLD_EVERY`` deltas, the writer that draws the number replaces
the committed rows by their sums (one per group). Readers under an older snapshot still see the old rows
and not the new sums, so every snapshot's sums stay the same; an advisory lock lets one folder at a time.

Revision ID: 0010_facet_counts
Revises: 0009_search_indexes
Create Date: 2026-12-04
"""

from alembic import op

revision = "0010_facet_counts"
down_revision = "0009_search_indexes"
branch_labels = None
depends_on = None

FOLD_EVERY = 4096

# The grouped columns of media_facet_delta, and how each is computed from a media row ({row}: OLD, NEW
# or a table alias). The month is api/filters.py LOCAL_TAKEN truncated, as api/facets.py groups it.
COLUMNS = {
    "ready": "{row}.status = 'ready'",
    "make": "{row}.make",
    "model": "{row}.model",
    "kind": "{row}.kind",
    "format": "{row}.format",
    "country_code": "{row}.country_code",
    "country": "{row}.country",
    "source": "{row}.source",
    "month": "date_trunc('month', COALESCE({row}.manual_taken_at_local, {row}.taken_at_local,"
             " {row}.effective_taken_at AT TIME ZONE 'UTC'))",
}
# The media columns the values above read (effective_taken_at is generated from these).
BASE_COLUMNS = ("status", "make", "model", "kind", "format", "country_code", "country", "source",
                "size_bytes", "manual_taken_at_local", "taken_at_local", "manual_taken_at", "taken_at")


def _values(row: str) -> str:
    return ", ".join(expression.format(row=row) for expression in COLUMNS.values())


def upgrade() -> None:
    names = ", ".join(COLUMNS)
    op.execute(
        """
        CREATE TABLE media_facet_delta (
            ready        boolean NOT NULL,
            make         text,
            model        text,
            kind         text NOT NULL,
            format       text NOT NULL,
            country_code text,
            country      text,
            source       text NOT NULL,
            month        timestamp,
            n            integer NOT NULL,
            bytes        bigint NOT NULL
        )
        """
    )
    op.execute("CREATE TABLE object_label_delta (label text NOT NULL, n integer NOT NULL)")
    # Numbers the deltas written, so that one writer in FOLD_EVERY folds; a sequence is not transactional
    # and never makes writers wait for each other.
    op.execute("CREATE SEQUENCE facet_delta_seq")

    # Only READ COMMITTED: its DELETE takes a snapshot after the lock is held, so it never meets a row
    # that the previous folder deleted (under REPEATABLE READ that is a serialization failure, which would
    # abort the writer's own change). A writer at another level leaves the fold to the next one.
    op.execute(
        f"""
        CREATE FUNCTION pava_fold_facet_deltas() RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('transaction_isolation') <> 'read committed'
               OR NOT pg_try_advisory_xact_lock(hashtextextended('pava_fold_facet_deltas', 0)) THEN
                RETURN;
            END IF;
            WITH gone AS (DELETE FROM media_facet_delta RETURNING *)
            INSERT INTO media_facet_delta ({names}, n, bytes)
            SELECT {names}, sum(n), sum(bytes) FROM gone
             GROUP BY {names}
            HAVING sum(n) <> 0 OR sum(bytes) <> 0;
            WITH gone AS (DELETE FROM object_label_delta RETURNING *)
            INSERT INTO object_label_delta (label, n)
            SELECT label, sum(n) FROM gone GROUP BY label HAVING sum(n) <> 0;
        END
        $$
        """  # noqa: S608 (built from this module's constants only)
    )
    op.execute(
        f"""
        CREATE FUNCTION pava_maybe_fold_facet_deltas() RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('facet_delta_seq') % {FOLD_EVERY} = 0 THEN
                PERFORM pava_fold_facet_deltas();
            END IF;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION pava_media_facet_delta() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                INSERT INTO media_facet_delta ({names}, n, bytes)
                VALUES ({_values("OLD")}, -1, -OLD.size_bytes);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO media_facet_delta ({names}, n, bytes)
                VALUES ({_values("NEW")}, 1, NEW.size_bytes);
            END IF;
            PERFORM pava_maybe_fold_facet_deltas();
            RETURN NULL;
        END
        $$
        """  # noqa: S608 (built from this module's constants only)
    )
    op.execute(
        """
        CREATE TRIGGER media_facet_delta AFTER INSERT OR DELETE ON media
            FOR EACH ROW EXECUTE FUNCTION pava_media_facet_delta()
        """
    )
    # Most updates (favourites, positions, edits of the text) change no facet: they write nothing.
    op.execute(
        f"""
        CREATE TRIGGER media_facet_delta_update AFTER UPDATE OF {", ".join(BASE_COLUMNS)} ON media
            FOR EACH ROW
            WHEN (({_values("OLD")}, OLD.size_bytes) IS DISTINCT FROM ({_values("NEW")}, NEW.size_bytes))
            EXECUTE FUNCTION pava_media_facet_delta()
        """
    )
    # An update of one item's scan (a redelivered job) writes only the labels that came or went.
    op.execute(
        """
        CREATE FUNCTION pava_object_label_delta() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO object_label_delta (label, n)
                SELECT k, 1 FROM jsonb_object_keys(NEW.label_counts) k;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO object_label_delta (label, n)
                SELECT k, -1 FROM jsonb_object_keys(OLD.label_counts) k;
            ELSE
                INSERT INTO object_label_delta (label, n)
                SELECT k, -1 FROM jsonb_object_keys(OLD.label_counts) k WHERE NOT NEW.label_counts ? k
                UNION ALL
                SELECT k, 1 FROM jsonb_object_keys(NEW.label_counts) k WHERE NOT OLD.label_counts ? k;
            END IF;
            PERFORM pava_maybe_fold_facet_deltas();
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER object_scan_label_delta AFTER INSERT OR DELETE OR UPDATE OF label_counts ON object_scan
            FOR EACH ROW EXECUTE FUNCTION pava_object_label_delta()
        """
    )
    # TRUNCATE fires no row trigger: the deltas are made again from what is left (nothing, for the
    # truncated table).
    op.execute(
        """
        CREATE FUNCTION pava_rebuild_facet_deltas() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pava_fill_facet_deltas();
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION pava_fill_facet_deltas() RETURNS void
        LANGUAGE sql AS $$
            DELETE FROM media_facet_delta;
            DELETE FROM object_label_delta;
            INSERT INTO media_facet_delta ({names}, n, bytes)
            SELECT {_values("m")}, count(*), sum(m.size_bytes) FROM media m
             GROUP BY {", ".join(str(position) for position in range(1, len(COLUMNS) + 1))};
            INSERT INTO object_label_delta (label, n)
            SELECT k, count(*) FROM object_scan s, jsonb_object_keys(s.label_counts) k GROUP BY k;
        $$
        """  # noqa: S608 (built from this module's constants only)
    )
    for table in ("media", "object_scan"):
        op.execute(
            f"""
            CREATE TRIGGER {table}_facet_truncate AFTER TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION pava_rebuild_facet_deltas()
            """
        )
    # The backfill, after the triggers: creating them locked out writers until this transaction commits.
    op.execute("SELECT pava_fill_facet_deltas()")
    op.execute("ANALYZE media_facet_delta, object_label_delta")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS media_facet_delta ON media")
    op.execute("DROP TRIGGER IF EXISTS media_facet_delta_update ON media")
    op.execute("DROP TRIGGER IF EXISTS object_scan_label_delta ON object_scan")
    for table in ("media", "object_scan"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_facet_truncate ON {table}")
    for function in ("pava_rebuild_facet_deltas()", "pava_fill_facet_deltas()",
                     "pava_object_label_delta()", "pava_media_facet_delta()",
                     "pava_maybe_fold_facet_deltas()", "pava_fold_facet_deltas()"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP SEQUENCE IF EXISTS facet_delta_seq")
    op.execute("DROP TABLE IF EXISTS object_label_delta")
    op.execute("DROP TABLE IF EXISTS media_facet_delta")
