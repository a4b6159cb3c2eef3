"""Helpers of the Slack integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test token, and ``World``, one test's
FakeSlack, Slack integration, client, clock and database. Importing it also puts tests/core on
the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from integration_world import RunsJobs
from runio_slack import Slack
from runio_slack.testing import FakeSlack

import runio
from runio.testing import TestClock

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

TOKEN = "xoxb-1111111111-2222222222-runioTestTokenR4nd0m"


@dataclass
class World(RunsJobs):
    """One test's FakeSlack, Slack integration, client, clock and database file."""

    namespace: ClassVar[str] = "slack"

    fake: FakeSlack
    slack: Slack
    client: runio.Client
    clock: TestClock
    database: Path

    def texts(self, channel: str | None = None, **options: Any) -> list[str]:
        return [m["text"] for m in self.fake.messages(channel or self.fake.general_id, **options)]
