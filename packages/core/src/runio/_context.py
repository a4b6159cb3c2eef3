"""``RunContext``: what a job function knows about the run it is executing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class EventInfo:
    id: str
    name: str
    timestamp: datetime
    payload: Any
    """The payload as sent (JSON), before the trigger's schema parsed it."""


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: str
    app_id: str
    job_id: str
    job_version: str
    event: EventInfo
    execution_count: int
    """1 on the first execution; each replay (after a wait, a retry delay, a crash) adds one."""
    is_retry: bool
    """True when the run was retried with ``retry_run`` (its ERRORED tasks are re-attempted)."""
