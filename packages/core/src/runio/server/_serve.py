"""Running the server with uvicorn: alone, or in the event loop of a worker (``runio dev``).

Beyond loopback the server refuses to start unless auth is configured (an active API key, or a
password), so an open dashboard is never exposed by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator

import uvicorn

from .._client import Client
from ..errors import ConfigurationError
from ._app import create_app
from ._config import PASSWORD_ENV, ServerConfig
from ._keys import any_active_key
from ._security import is_loopback


class Server(uvicorn.Server):
    """A uvicorn server that knows its URL. With ``handle_signals=False`` it leaves signals to
    its caller (a worker in the same loop), which stops it with ``should_exit = True``."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool = True) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals
        self.socket: socket.socket | None = None
        self.started_event = asyncio.Event()
        """Set once the server accepts connections."""

    async def start(self) -> asyncio.Task[None]:
        """Bind (unless bound), start serving in a task of this loop, and return that task once
        the server accepts connections (or once it ended, having failed to start)."""
        sock = self.socket or self.bind()
        serving = asyncio.ensure_future(self.serve(sockets=[sock]))
        started = asyncio.ensure_future(self.started_event.wait())
        await asyncio.wait([serving, started], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if serving.done():
            serving.result()  # raises what stopped it
            raise ConfigurationError(f"The server on {self.url} stopped while starting.")
        return serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.started_event.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield

    def bind(self) -> socket.socket:
        """Open the listening socket now, so a port in use is a clear error before anything
        starts (``serve(sockets=[...])`` then uses it)."""
        host, port = self.config.host, self.config.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigurationError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}): another program uses "
                "the port, or the address is not this machine's. Pick another with --port "
                "(0 picks a free one) or --host."
            ) from None
        sock.set_inheritable(True)
        self.socket = sock
        return sock

    @property
    def url(self) -> str:
        """``http://host:port`` it listens on (after ``bind``: the port picked for 0)."""
        host, port = self.config.host, self.config.port
        if self.socket is not None:
            host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"


async def check_exposure(client: Client, config: ServerConfig) -> None:
    """Refuse (ConfigurationError) to listen beyond loopback without auth configured."""
    if is_loopback(config.host):
        return
    if _password(config) or await any_active_key(await client._ready()):
        return
    raise ConfigurationError(
        f"Refusing to serve on {config.host}, beyond this machine, without authentication: "
        f"create an API key with `runio keys create NAME` or set {PASSWORD_ENV}, "
        "or serve on 127.0.0.1 (the default)."
    )


def _password(config: ServerConfig) -> str | None:
    return config.password or os.environ.get(PASSWORD_ENV) or None


async def make_server(
    client: Client, config: ServerConfig, *, handle_signals: bool = True
) -> Server:
    """The uvicorn server of ``client``'s app (checked with ``check_exposure``), not started:
    ``await server.serve()`` runs it, ``server.should_exit = True`` stops it."""
    if not 0 <= config.port <= 65535:
        raise ConfigurationError(f"Port {config.port} is not a TCP port (0-65535).")
    await check_exposure(client, config)
    app = create_app(
        client,
        host=config.host,
        password=_password(config),
        allowed_hosts=config.allowed_hosts,
        poll_interval=config.poll_interval,
    )
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return Server(uv_config, handle_signals=handle_signals)


async def serve(client: Client, config: ServerConfig | None = None) -> None:
    """Serve ``client``'s app until the server is told to exit."""
    server = await make_server(client, config or ServerConfig())
    await server.serve(sockets=[server.bind()])
