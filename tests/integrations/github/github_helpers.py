"""Helpers of the GitHub integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test token, the repository the fake
starts with, a PyGithub client on a fake, and ``World``: one test's FakeGitHub (on the test
clock), GitHub integration, client, clock and database. Importing it also puts tests/core on
the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from github import Auth
from integration_world import RunsJobs
from runio_github._sdk import ThreadSafeGithub, new_client
from runio_github.testing import FakeGitHub, FakeRepo

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses; and
# tests/server/server_harness.py: a real server in a thread, for the webhook tests.
for _TESTS in ("core", "server"):
    _PATH = str(Path(__file__).resolve().parents[2] / _TESTS)
    if _PATH not in sys.path:
        sys.path.append(_PATH)

TOKEN = "ghp_runioTest0123456789abcdefghijklmnopq"
REPO = "octo/hello"


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
class World(RunsJobs):
    """One test's FakeGitHub, GitHub integration, client, clock and database file."""

    namespace: ClassVar[str] = "github"

    fake: FakeGitHub
    github: Any
    client: runio.Client
    clock: TestClock
    database: Path

    @property
    def repo(self) -> FakeRepo:
        return self.fake.repo(REPO)
