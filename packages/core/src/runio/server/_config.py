"""``ServerConfig``: how to serve (address, port, password, allowed hosts). Light to import:
the command line reads it without loading the web framework."""

from __future__ import annotations

from dataclasses import dataclass

PASSWORD_ENV = "RUNIO_SERVER_PASSWORD"


@dataclass(kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """The address to listen on; anything but loopback needs auth configured."""
    port: int = 8080
    """0 picks a free port (``server.url`` tells which)."""
    password: str | None = None
    """A dashboard login password (default: ``RUNIO_SERVER_PASSWORD``); API keys work too."""
    allowed_hosts: set[str] | None = None
    """Host names requests may use (default: loopback names on loopback, any elsewhere)."""
    poll_interval: float = 1.0
    """Seconds between live updates of an open run page."""
    log_level: str = "warning"
