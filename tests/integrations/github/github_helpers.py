"""Helpers of the GitHub integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test token, the repository the fake
starts with, a PyGithub client on a fake, and ``World``: one test's FakeGitHub (on the test
clock), GitHub integration, client, clock and database. Importing it also puts tests/core on
the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from github import Auth
from runio_github._sdk import ThreadSafeGithub, new_client
from runio_github.testing import FakeGitHub, FakeRepo

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

TOKEN = "ghp_runioTest0123456789abcdefghijklmnopq"
REPO = "octo/hello"
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def rsa_key_pair() -> tuple[str, str]:
    """A GitHub App's private key and the public key the fake verifies its JWTs with (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def sdk_client(fake: FakeGitHub, *, token: str = TOKEN, per_page: int = 100) -> ThreadSafeGithub:
    """PyGithub on ``fake``, configured as the integration configures it."""
    return new_client(Auth.Token(token), base_url=fake.url, per_page=per_page)


@dataclass
class World:
    """One test's FakeGitHub, GitHub integration, client, clock and database file."""

    fake: FakeGitHub
    github: Any
    client: runio.Client
    clock: TestClock
    database: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, body: Callable[[Any], Awaitable[Any]], *, integration: Any = None) -> str:
        """Define a job that returns ``await body(io.github)``, send its event, return the run
        id (nothing runs until ``work``/``drive``)."""
        number = next(self._jobs)

        @self.client.define_job(
            id=f"github-{number}",
            trigger=runio.event_trigger(f"github.{number}"),
            integrations={"github": integration or self.github},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            return await body(io.github)

        return self.client.send_event(f"github.{number}", {}).run_ids[0]

    def work(self) -> None:
        self.client.run_worker(until_idle=True)

    def drive(self, run_id: str, *, max_steps: int = 20) -> runio.Run:
        """Run the worker, moving the clock to each wake-up, until the run has finished."""
        for _ in range(max_steps):
            self.work()
            run = self.client.get_run(run_id)
            if run.status in FINISHED:
                return run
            assert run.status == "WAITING", run.status
            assert run.ready_at is not None
            self.clock.advance(seconds=max(0.0, run.ready_at - self.clock.now()))
        raise AssertionError(f"run {run_id} did not finish in {max_steps} steps")

    def run(self, body: Callable[[Any], Awaitable[Any]], **options: Any) -> runio.Run:
        return self.drive(self.start(body, **options))

    @property
    def repo(self) -> FakeRepo:
        return self.fake.repo(REPO)
