"""Storage: the ``Store`` interface and ``create_store(url)``, which picks the implementation.

Drivers are imported only when their URL is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError
from ._base import Store, alone_in_worker

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Store",
    "alone_in_worker",
    "create_store",
    "database_url_from_env",
]

DEFAULT_DATABASE_URL = "sqlite:///.runio/runio.db"


def database_url_from_env() -> str:
    """``RUNIO_DATABASE_URL``, else SQLite at ``./.runio/runio.db``."""
    return os.environ.get("RUNIO_DATABASE_URL") or DEFAULT_DATABASE_URL


def create_store(url: str) -> Store:
    """Open the store for a database URL (``sqlite:///path.db``, ``sqlite://:memory:``,
    ``postgresql://user:password@host/database``)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(
            "A database URL is required, e.g. sqlite:///.runio/runio.db (set RUNIO_DATABASE_URL)."
        )
    url = url.strip()
    if url.startswith("sqlite://"):
        from ._sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from ._postgres import PostgresStore
        except ImportError as exc:
            raise ConfigurationError(
                f"A PostgreSQL database needs the psycopg driver, which is not installed "
                f'({exc}). Install it with: pip install "runio[postgres]"'
            ) from None
        return PostgresStore(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    hint = ""
    if "://" not in url and (url.endswith((".db", ".sqlite", ".sqlite3")) or Path(url).suffix):
        hint = f" For a SQLite file write sqlite:///{url}."
    raise ConfigurationError(
        f"Unsupported database URL scheme {scheme!r} in {url!r}. runio understands sqlite:/// "
        f"and postgresql:// URLs.{hint}"
    )
