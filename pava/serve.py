"""The API as uvicorn runs it: the application wired to the ingester for uploads.

``api`` never imports ``ingest`` (DESIGN: the two import only ``core``); this module, part of the
command line that composes the packages, hands the ingester's one-file entry point and the keyframe
hasher to the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings, get_settings


def video_hashes(settings: Settings, path: Path) -> list[tuple[int, int]]:
    """(frame_ms, dHash) of a video's keyframes, as the dHash worker computes them."""
    from workers.keyframes import keyframes_for

    return [(frame.ms, frame.hash) for frame in keyframes_for(path, settings.dhash)]


def app_factory() -> FastAPI:
    """uvicorn's ``--factory`` target: ``pava.serve:app_factory``."""
    from ingest.pipeline import ingest_file

    return create_app(get_settings(), ingest=ingest_file, video_hashes=video_hashes)
