"""The HTTP server of a runio app: the JSON API under ``/api/v1`` and the dashboard.

``create_app(client)`` builds the ASGI app (FastAPI on Starlette); ``serve(client, ...)`` runs it
with uvicorn, alone (``runio serve``) or beside a worker in one event loop (``runio dev``).
"""

from __future__ import annotations

from ._app import create_app
from ._serve import Server, ServerConfig, check_exposure, make_server, serve

__all__ = ["Server", "ServerConfig", "check_exposure", "create_app", "make_server", "serve"]
