"""Helpers of the Resend integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test API keys and start time, and
``World``, one test's FakeResend, Resend integration, client, clock and database. Importing it
also puts tests/core on the path, for ``procs`` (the subprocess helpers), and tests/server, for
``server_harness`` (a live server in a thread, for the webhook tests)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from integration_world import RunsJobs
from runio_resend.testing import FakeResend

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)
# tests/server/server_harness.py: uvicorn serving a client from a thread.
_SERVER_TESTS = str(Path(__file__).resolve().parents[2] / "server")
if _SERVER_TESTS not in sys.path:
    sys.path.append(_SERVER_TESTS)

API_KEY = "re_test_runio_7cQ2mZk9WxYhT4LpB3nF"
OTHER_KEY = "re_test_other_Qa8Vn2Lr6TsZk1PwD5yH"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def message(error: Any) -> str:
    """The message of a recorded error (a run's, a task's or an attempt's)."""
    if error is None:
        return ""
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error)


@dataclass
class World(RunsJobs):
    """One test's FakeResend, Resend integration, client, clock and database file."""

    namespace: ClassVar[str] = "resend"

    fake: FakeResend
    resend: Any
    client: runio.Client
    clock: TestClock
    database: Path
