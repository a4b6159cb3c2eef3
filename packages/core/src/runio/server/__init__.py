"""The HTTP server of a runio app: the JSON API under ``/api/v1`` and the dashboard.

``create_app(client)`` builds the ASGI app (FastAPI on Starlette); ``serve(client, ...)`` runs it
with uvicorn, alone (``runio serve``) or beside a worker in one event loop (``runio dev``).

The web framework is imported on first use of anything but ``ServerConfig``, so the ``runio``
command starts fast when it serves nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import ServerConfig

if TYPE_CHECKING:
    from ._app import create_app
    from ._serve import Server, check_exposure, make_server, serve

__all__ = ["Server", "ServerConfig", "check_exposure", "create_app", "make_server", "serve"]

_LAZY = {
    "create_app": "._app",
    "Server": "._serve",
    "check_exposure": "._serve",
    "make_server": "._serve",
    "serve": "._serve",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
