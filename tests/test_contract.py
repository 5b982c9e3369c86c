"""The contract every registered analyzer keeps, checked over the whole registry with its real model:
a queue and a requirements file of its own, the kinds it accepts, a version on every result, a bad file
refused as a permanent error, and a store that writes nothing twice when a job is delivered again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from core import db
from core.analyses import ANALYSES, APPLIES_TO
from core.media import MediaKind
from core.settings import PROJECT_ROOT, Settings
from core.topology import Topology
from tests.support import stage_job
from workers.analyzer import MediaItem, PermanentError
from workers.registry import REGISTRY, Registration

# A real file per kind, from the corpus, and a broken one per kind (both with manifest entries).
SAMPLE = {
    MediaKind.PHOTO: "objects/ul_bus.jpg",
    MediaKind.VIDEO: "speech/video/derived_earth_with_jfk_speech.mp4",
}
BROKEN = {MediaKind.PHOTO: "bad/truncated_half_DSCN0027.jpg", MediaKind.VIDEO: "bad/html_error_page.mp4"}

NAMES = sorted(REGISTRY)


def test_every_analysis_is_registered() -> None:
    assert set(REGISTRY) == set(ANALYSES)


@pytest.mark.parametrize("name", NAMES)
def test_registration_is_complete(name: str, settings: Settings) -> None:
    registration = REGISTRY[name]
    assert registration.name == name
    requirements = PROJECT_ROOT / registration.requirements
    assert requirements.is_file(), f"{name}: no requirements file {requirements}"
    assert "-r core.txt" in requirements.read_text(), f"{name}: its requirements must include core.txt"
    assert Topology(settings.broker).queue(name) == f"pava.{name}"
    analyzer = registration.create(settings)
    assert analyzer.name == name
    assert analyzer.version, f"{name}: empty version"
    assert analyzer.kinds == APPLIES_TO[name], f"{name}: kinds differ from core.analyses"
    assert callable(registration.store_function())
    assert registration.export_function() is not None, f"{name}: no export hook for `pava export`"


def _item(settings: Settings, conn: db.Connection, source: Path, kind: MediaKind, name: str) -> MediaItem:
    """The file placed in storage with its media and job rows, as the ingester leaves them."""
    job = stage_job(settings, source, analyzer=name, kind=kind, conn=conn)
    return MediaItem(media_id=job.media_id, job_id=job.job_id, kind=kind,
                     path=settings.storage_root / job.path, rel_path=job.path, sha512=job.sha512,
                     storage_root=settings.storage_root)


def _rows_of(conn: db.Connection, media_id: int) -> dict[str, int]:
    """Rows that refer to one media item, per table (every table with a media_id column but the job's)."""
    tables = [r["table_name"] for r in conn.execute(
        """SELECT table_name FROM information_schema.columns
           WHERE column_name = 'media_id' AND table_schema = 'public'
             AND table_name NOT IN ('job', 'media_alias')"""
    )]
    counts: dict[str, int] = {}
    for table in tables:
        # Table names come from the catalogue, not from input; sql.Identifier quotes them anyway.
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE media_id = %s").format(sql.Identifier(table))
        row = conn.execute(query, (media_id,)).fetchone()
        counts[table] = int(row["n"]) if row else 0
    return counts


def _kind_for(registration: Registration, settings: Settings) -> MediaKind:
    kinds = registration.create(settings).kinds
    return MediaKind.PHOTO if MediaKind.PHOTO in kinds else MediaKind.VIDEO


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES)
def test_store_twice_writes_nothing_twice(name: str, settings: Settings, corpus: Path) -> None:
    registration = REGISTRY[name]
    analyzer = registration.create(settings)
    kind = _kind_for(registration, settings)
    store = registration.store_function()
    export = registration.export_function()
    assert export is not None
    with db.connect(settings) as conn:
        item = _item(settings, conn, corpus / SAMPLE[kind], kind, name)
        assert analyzer.accepts(item)
        result = analyzer.analyze(item)
        meta = analyzer.meta()
        assert (meta.analyzer, meta.version) == (name, analyzer.version)
        with conn.transaction():
            store(conn, item, result, meta)
        first_rows = _rows_of(conn, item.media_id)
        first_export: Any = export(conn, [item.media_id])
        assert sum(first_rows.values()) > 0, f"{name}: the store wrote nothing for {SAMPLE[kind]}"
        # The job is delivered again (a worker died after commit, before its ack): same rows, same export.
        with conn.transaction():
            store(conn, item, analyzer.analyze(item), meta)
        assert _rows_of(conn, item.media_id) == first_rows
        assert export(conn, [item.media_id]) == first_export


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES)
def test_broken_file_is_a_permanent_error(name: str, settings: Settings, corpus: Path) -> None:
    registration = REGISTRY[name]
    analyzer = registration.create(settings)
    kind = _kind_for(registration, settings)
    with db.connect(settings) as conn:
        item = _item(settings, conn, corpus / BROKEN[kind], kind, name)
    with pytest.raises(PermanentError):
        analyzer.analyze(item)
