"""The facet deltas kept by triggers (migration 0010, read by ``api/facets.py`` for the whole library):
after any insert, update or delete of media and object scans, from one connection or from two at once,
folded or not, their sums equal a count of the rows themselves, and the whole library's facets read from
them equal the facets counted from the rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from api import facets
from api.filters import Filters, filter_sql
from core import db
from core.settings import Settings
from tests.api_data import Taken, add_labels, add_media, settings_without_broker

GROUPS = "ready, make, model, kind, format, country_code, country, source, month"
# What the deltas must sum to: the same groups counted from the rows (the backfill's own query).
TRUTH_MEDIA = f"""
    SELECT m.status = 'ready' AS ready, m.make, m.model, m.kind, m.format, m.country_code, m.country,
           m.source,
           date_trunc('month', COALESCE(m.manual_taken_at_local, m.taken_at_local,
                                        m.effective_taken_at AT TIME ZONE 'UTC')) AS month,
           count(*) AS n, sum(m.size_bytes) AS bytes
      FROM media m GROUP BY {", ".join(str(i) for i in range(1, 10))}"""
SUMMED_MEDIA = f"""
    SELECT {GROUPS}, sum(n) AS n, sum(bytes) AS bytes FROM media_facet_delta
     GROUP BY {GROUPS} HAVING sum(n) <> 0 OR sum(bytes) <> 0"""
TRUTH_LABELS = ("SELECT k AS label, count(*) AS n FROM object_scan, jsonb_object_keys(label_counts) k"
                " GROUP BY k")
SUMMED_LABELS = "SELECT label, sum(n) AS n FROM object_label_delta GROUP BY label HAVING sum(n) <> 0"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return settings_without_broker(tmp_path, database_url)


@pytest.fixture
def conn(settings: Settings) -> Iterator[db.Connection]:
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _rows(conn: db.Connection, query: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(row.values()) for row in conn.execute(query)), key=repr)


def assert_exact(conn: db.Connection) -> None:
    """The deltas sum to the counts of the rows, and the API's facets over the whole library (read from
    them) equal the facets counted from the rows."""
    assert _rows(conn, SUMMED_MEDIA) == _rows(conn, TRUTH_MEDIA)
    assert _rows(conn, SUMMED_LABELS) == _rows(conn, TRUTH_LABELS)
    whole = filter_sql(Filters())
    counted = dataclasses.replace(whole, unfiltered=False)  # the same condition, taken as a filter
    assert whole.unfiltered
    assert (facets.column_facets(conn, whole, facets.FACETS)
            == facets.column_facets(conn, counted, facets.FACETS))
    assert facets.label_facet(conn, whole) == facets.label_facet(conn, counted)


def deltas(conn: db.Connection) -> int:
    row = conn.execute("SELECT (SELECT count(*) FROM media_facet_delta)"
                       " + (SELECT count(*) FROM object_label_delta) AS n").fetchone()
    assert row is not None
    return int(row["n"])


def test_inserts_updates_and_deletes(conn: db.Connection) -> None:
    assert_exact(conn)
    first = add_media(conn, "2019/a.jpg", taken=Taken("2019-07-14 08:00", "2019-07-14 10:00"), make="Apple",
                      model="iPhone X", country_code="FR", country="France", source="phone",
                      labels={"dog": 1, "person": 2}, size_bytes=1000)
    second = add_media(conn, "2019/b.jpg", taken=Taken("2019-07-14 09:00", "2019-07-14 11:00"), make="Apple",
                       model="iPhone X", labels={"person": 3}, size_bytes=2000)
    undated = add_media(conn, "scans/c.png", format="png")
    staged = add_media(conn, "staged/d.jpg", status="staged", make="Canon", labels={"cat": 1})
    assert_exact(conn)
    labels = {label.value: label.count for label in facets.label_facet(conn, filter_sql(Filters()))}
    assert labels == {"person": 2, "dog": 1}  # the staged item's cat left out

    before = deltas(conn)
    conn.execute("UPDATE media SET favourite = true, place_name = 'Paris' WHERE id = %s", (first,))
    assert deltas(conn) == before  # no facet changed: nothing written
    conn.execute("UPDATE media SET make = 'Canon', size_bytes = 1500 WHERE id = %s", (first,))
    conn.execute("UPDATE media SET size_bytes = 2500 WHERE id = %s", (second,))  # the bytes alone
    conn.execute("UPDATE media SET manual_taken_at = '2001-02-03 04:05+00',"
                 " manual_taken_at_local = '2001-02-03 05:05' WHERE id = %s", (undated,))
    conn.execute("UPDATE media SET status = 'ready' WHERE id = %s", (staged,))
    conn.execute("UPDATE media SET status = 'staged' WHERE id = %s", (second,))
    assert_exact(conn)

    # The objects worker's upsert: a label gone, one added, one count changed.
    conn.execute("UPDATE object_scan SET label_counts = %s WHERE media_id = %s",
                 (Jsonb({"person": 5, "bus": 1}), first))
    conn.execute("DELETE FROM object_scan WHERE media_id = %s", (staged,))
    add_labels(conn, undated, {})
    assert_exact(conn)

    conn.execute("DELETE FROM media WHERE id = %s", (first,))  # cascades to its object scan
    assert_exact(conn)
    conn.execute("DELETE FROM media")
    assert_exact(conn)
    assert facets.label_facet(conn, filter_sql(Filters())) == []
    assert facets.column_facets(conn, filter_sql(Filters()), facets.FACETS).total == 0


def test_folding_keeps_the_sums(conn: db.Connection) -> None:
    ids = [add_media(conn, f"2020/{n}.jpg", make="Apple" if n % 2 else "Canon", labels={"dog": 1, "cat": n},
                     taken=Taken("2020-01-05 00:00", "2020-01-05 12:00")) for n in range(1, 7)]
    conn.execute("UPDATE media SET make = 'Sony' WHERE id = %s", (ids[0],))
    many = deltas(conn)
    conn.execute("SELECT pava_fold_facet_deltas()")
    assert deltas(conn) < many
    assert deltas(conn) == 3 + 2  # (Apple, Canon, Sony) x the same month; dog and cat
    assert_exact(conn)
    # Every FOLD_EVERY-th delta, the writer that draws it folds.
    conn.execute("UPDATE media SET make = 'Canon' WHERE id = %s", (ids[2],))
    assert deltas(conn) == 3 + 2 + 2
    conn.execute("SELECT setval('facet_delta_seq', 4095)")
    conn.execute("UPDATE media SET make = 'Apple' WHERE id = %s", (ids[0],))  # draws 4096
    assert deltas(conn) == 2 + 2  # no Sony left: its group summed to 0 and went
    assert_exact(conn)


def test_folding_is_left_to_read_committed_writers(conn: db.Connection, settings: Settings) -> None:
    add_media(conn, "a.jpg", make="Apple")
    add_media(conn, "b.jpg", make="Apple")
    before = deltas(conn)
    with db.connect(settings) as other:
        other.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with other.transaction():
            other.execute("SELECT pava_fold_facet_deltas()")
            assert deltas(other) == before
    conn.execute("SELECT pava_fold_facet_deltas()")
    assert deltas(conn) == 1
    assert_exact(conn)


def test_concurrent_writers_of_the_same_values_never_wait(conn: db.Connection, settings: Settings) -> None:
    # Two transactions write the same camera, month, format and label at once: with counter rows, the
    # second would wait for the first to commit (and two such writers could deadlock); deltas never wait.
    with db.connect(settings) as one, db.connect(settings) as two:
        for writer in (one, two):
            writer.execute("SET lock_timeout = '2s'")
        written = []
        for n, writer in enumerate((one, two, one, two)):
            written.append(add_media(writer, f"same/{n}.jpg", make="Apple", model="iPhone X",
                                     taken=Taken("2021-03-01 18:00", "2021-03-01 19:00"),
                                     labels={"person": n + 1}))
        # A fold in the middle (of the rows committed before it) leaves both open transactions' rows.
        conn.execute("SELECT pava_fold_facet_deltas()")
        two.execute("UPDATE object_scan SET label_counts = %s WHERE media_id = %s",
                    (Jsonb({"person": 1, "dog": 1}), written[1]))
        one.commit()
        assert_exact(conn)  # the first's changes counted, the second's not yet
        conn.execute("SELECT pava_fold_facet_deltas()")
        two.commit()
    assert_exact(conn)
    labels = {label.value: label.count for label in facets.label_facet(conn, filter_sql(Filters()))}
    assert labels == {"person": 4, "dog": 1}


def test_a_label_written_by_two_connections_at_once(conn: db.Connection, settings: Settings) -> None:
    items = [add_media(conn, f"race/{n}.jpg") for n in range(2)]
    with db.connect(settings) as one, db.connect(settings) as two:
        for writer, media_id in zip((one, two), items, strict=True):
            writer.execute("SET lock_timeout = '2s'")
            add_labels(writer, media_id, {"dog": 1})
        two.commit()
        one.rollback()  # a rolled-back scan leaves no delta
    assert_exact(conn)
    assert [(label.value, label.count) for label in facets.label_facet(conn, filter_sql(Filters()))] == [
        ("dog", 1)]


def test_truncate_rebuilds(conn: db.Connection) -> None:
    add_media(conn, "a.jpg", make="Apple", labels={"dog": 1})
    conn.execute("TRUNCATE object_scan")
    assert_exact(conn)
    conn.execute("TRUNCATE media CASCADE")
    assert_exact(conn)
    assert deltas(conn) == 0


def test_downgrade_and_upgrade_backfill(conn: db.Connection, settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    add_media(conn, "2019/a.jpg", make="Apple", labels={"dog": 2},
              taken=Taken("2019-07-14 08:00", "2019-07-14 10:00"))
    add_media(conn, "staged.jpg", status="staged", labels={"cat": 1})
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    config.attributes["database_url"] = settings.require_database_url()
    command.downgrade(config, "0009_search_indexes")
    found = conn.execute("SELECT to_regclass('media_facet_delta') AS t,"
                         " to_regclass('object_label_delta') AS l").fetchone()
    assert found == {"t": None, "l": None}
    add_media(conn, "2020/b.jpg", make="Canon", labels={"dog": 1, "bus": 1})  # written with no trigger
    db.migrate(settings)
    assert_exact(conn)
