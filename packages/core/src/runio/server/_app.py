"""``create_app``: the ASGI app of one runio app: JSON API, dashboard, static files, security."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from .._client import Client
from ..errors import RunioError, StoreError
from . import _api, _dashboard, _webhooks
from ._security import Guard

log = logging.getLogger("runio.server")
_HERE = Path(__file__).parent


def create_app(
    client: Client,
    *,
    host: str = "127.0.0.1",
    password: str | None = None,
    allowed_hosts: set[str] | None = None,
    poll_interval: float = 1.0,
) -> FastAPI:
    """The server of ``client``'s app.

    ``host``: the address it is served on (auth is on by default beyond loopback, and requests
    must name a loopback host on loopback). ``password``: a dashboard login password, besides
    API keys. ``allowed_hosts``: host names requests may use (default: loopback names on
    loopback, any elsewhere). ``poll_interval``: seconds between live updates of a run page.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Jobs are recorded so the API and dashboard list them even with no worker running.
        await client._register_jobs()
        _webhooks.warn_unconfigured(client)
        yield

    app = FastAPI(
        title=f"runio API ({client.id})",
        version=__version__,
        description="Send events, list jobs and runs, and cancel, retry or replay runs.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    guard = Guard(
        client,
        host=host,
        password=password or None,
        allowed_hosts=frozenset(allowed_hosts) if allowed_hosts else None,
    )
    app.state.client = client
    app.state.guard = guard
    app.state.poll_interval = poll_interval
    app.middleware("http")(guard.middleware)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"The database is not available: {exc}"}, status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith(("/api/", "/static/")) or not wants_html:
            return await http_exception_handler(request, exc)
        return await _dashboard.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RunioError)
    async def runio_error(request: Request, exc: RunioError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    app.include_router(_api.router)
    app.include_router(_webhooks.router)
    app.include_router(_dashboard.router)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    return app
