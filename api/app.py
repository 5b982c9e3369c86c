"""The FastAPI application: ``create_app(settings, ingest=...)``.

Everything is under ``/api/`` (nginx passes that prefix through unchanged). Every router is included
behind the session check, except ``public`` (login and health), so a route added later cannot forget
authentication. The OpenAPI document and its page (``/api/docs``, served from the ``swagger-ui-bundle``
package: no CDN), its script and styles need a session too; the browser's cookie is enough.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from api import errors
from api.auth import Viewer, require, secret_key
from api.db import open_pool
from api.errors import ApiError
from api.routes import (
    admin,
    albums,
    auth,
    comments,
    files,
    health,
    media,
    people,
    search,
    similar,
    stats,
    upload,
)
from core.settings import Settings, get_settings
from core.users import Role

log = logging.getLogger(__name__)

# ingest(settings, path, *, relpath, source) -> ingest.outcome.Outcome. The API never imports the
# ingester (DESIGN: api imports core only); the `pava` command line hands it over.
IngestFunction = Callable[..., Any]
# video_hashes(settings, path) -> [(frame_ms, dHash)] of a video's keyframes, for search by a video; the
# keyframe code lives with the workers, so it is handed over the same way.
VideoHasher = Callable[..., Any]

PROTECTED = (auth.router, search.router, media.router, files.router, people.router, albums.router,
             comments.router, upload.router, similar.router, stats.router, admin.router)


def _swagger_assets() -> Path | None:
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def create_app(settings: Settings | None = None, *, ingest: IngestFunction | None = None,
               video_hashes: VideoHasher | None = None) -> FastAPI:
    """The application. Refuses to be built without a usable secret key outside development."""
    settings = settings or get_settings()
    key = secret_key(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = open_pool(settings)
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(
        title="pava",
        version="1",
        summary="Search and organise a self-hosted photo and video library.",
        docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.secret_key = key
    app.state.ingest = ingest
    app.state.video_hashes = video_hashes
    errors.install(app)

    app.include_router(health.public)
    app.include_router(auth.public)
    signed_in = [Depends(require(Role.VIEWER))]
    for router in PROTECTED:
        app.include_router(router, dependencies=signed_in)
    app.include_router(_docs_router(app))
    return app


# The page's files, by name: nothing else of the package's folder is served.
DOCS_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


def _docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets = _swagger_assets()

    @router.get("/api/openapi.json")
    def openapi(principal: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/api/docs/assets/{name}")
    def docs_asset(name: str, principal: Viewer) -> FileResponse:
        # A route, not a static mount: like every route but login and health, it needs a session.
        if assets is None or name not in DOCS_ASSETS:
            raise ApiError(404, "no such file")
        return FileResponse(assets / name, headers={"Cache-Control": "private, max-age=86400"})

    @router.get("/api/docs")
    def docs(principal: Viewer) -> HTMLResponse:
        if assets is None:
            return HTMLResponse("<p>Install swagger-ui-bundle for this page; the document is at "
                                "<a href='/api/openapi.json'>/api/openapi.json</a>.</p>")
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json", title="pava API",
            swagger_js_url="/api/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/assets/swagger-ui.css",
            swagger_favicon_url="/api/docs/assets/favicon-32x32.png",
        )

    return router
