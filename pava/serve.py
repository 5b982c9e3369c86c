"""The API as uvicorn runs it: the application wired to the ingester for uploads.

``api`` never imports ``ingest`` (DESIGN: the two import only ``core``); this module, part of the
command line that composes the packages, hands the ingester's one-file entry point to the API.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from core.settings import get_settings


def app_factory() -> FastAPI:
    """uvicorn's ``--factory`` target: ``pava.serve:app_factory``."""
    from ingest.pipeline import ingest_file

    return create_app(get_settings(), ingest=ingest_file)
