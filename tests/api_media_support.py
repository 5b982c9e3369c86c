"""Helpers for the media, files and album API tests: corpus files ingested by the real pipeline, and
direct database access for what a test sets up or tampers with."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core import db
from core.settings import Settings

GPS_PHOTO = "exif/jpeg_gps/ia_DSCN0010.jpg"  # NIKON COOLPIX P6000 near Arezzo, Italy
NO_GPS_PHOTO = "exif/jpeg_nogps/ia_Canon_40D.jpg"
SPEECH_VIDEO = "speech/video/derived_earth_with_jfk_speech.mp4"


def ingest_corpus(settings: Settings, corpus: Path, rel: str) -> int:
    """Copy one corpus file to the drop folder and ingest it like ``pava ingest``; its media id."""
    from ingest.pipeline import ingest_file

    copy = settings.drop_dir / Path(rel).name
    shutil.copyfile(corpus / rel, copy)
    outcome = ingest_file(settings, copy)
    assert outcome.status == "new", outcome
    assert outcome.media_id is not None
    return int(outcome.media_id)


@contextmanager
def connection(settings: Settings) -> Iterator[db.Connection]:
    with db.connect(settings, autocommit=True) as conn:
        yield conn


def storage_path(settings: Settings, media_id: int) -> Path:
    with connection(settings) as conn:
        row = conn.execute("SELECT storage_path FROM media WHERE id = %s", (media_id,)).fetchone()
    assert row is not None
    return settings.storage_root / row["storage_path"]
