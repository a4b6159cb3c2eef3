"""Helpers of the Stripe integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test API key, and ``World``, one test's
FakeStripe, Stripe integration, client, clock and database. Importing it also puts
tests/core on the path, for ``procs`` (the subprocess helpers), and tests/server, for
``server_harness`` (a live server)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from integration_world import RunsJobs
from runio_stripe import Stripe
from runio_stripe.testing import FakeStripe

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses; and
# tests/server/server_harness.py: a real server in a thread, for the webhook tests.
for _directory in ("core", "server"):
    _TESTS = str(Path(__file__).resolve().parents[2] / _directory)
    if _TESTS not in sys.path:
        sys.path.append(_TESTS)

API_KEY = "sk_test_runio_4eC39HqLyjWDarjtT1zdp7dc"


@dataclass
class World(RunsJobs):
    """One test's FakeStripe, Stripe integration, client, clock and database file."""

    namespace: ClassVar[str] = "stripe"

    fake: FakeStripe
    stripe: Stripe
    client: runio.Client
    clock: TestClock
    database: Path
