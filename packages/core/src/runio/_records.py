"""Plain records that cross the boundary between the engine and a store.

``Run``, ``TaskRun``, ``Attempt``, ``LogEntry`` and ``Event`` are also
the public views (``runio.Run``, ``runio.TaskRun``, ``runio.Attempt``, ``runio.LogEntry``,
``runio.Event``); the others stay between the engine and the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.TIMED_OUT}
)


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    """Created but not attempted (or reset by *retry run*)."""
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    """A wait not yet over, or a retry delay not yet elapsed."""
    COMPLETED = "COMPLETED"
    ERRORED = "ERRORED"
    CANCELED = "CANCELED"


class AttemptStatus(StrEnum):
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    ERRORED = "ERRORED"


@dataclass(slots=True, frozen=True)
class Lease:
    """Proof that a worker holds a run: every write of the run is fenced by ``token``."""

    run_id: str
    worker_id: str
    token: int


@dataclass(slots=True)
class JobRecord:
    app_id: str
    job_id: str
    version: str
    name: str
    event_name: str
    trigger: dict[str, Any] | None = None
    """``{"schema": <JSON schema or None>, "filter": <payload filter or None>}``."""


@dataclass(slots=True)
class Event:
    id: str
    app_id: str
    name: str
    payload: Any
    timestamp: float
    deliver_at: float | None
    """When the event is delivered (a delayed event), else None: delivered when sent."""
    run_ids: list[str] = field(default_factory=list)
    canceled_at: float | None = None
    """When a delayed event was canceled before its delivery (``cancel_event``)."""


@dataclass(slots=True)
class NewRun:
    id: str
    job_id: str
    job_version: str
    ready_at: float


@dataclass(frozen=True, slots=True)
class ClaimRule:
    """What a worker's code says about claiming one job's runs (flow control and versions)."""

    versions: tuple[str, ...] = ()
    """The job versions whose runs this worker executes (empty: any)."""
    concurrency_limit: int | None = None
    """At most this many runs of the job execute at once (per concurrency key, if keyed)."""
    keyed: bool = False
    """The limit applies per value of the run's concurrency key; runs whose key is not yet
    computed are not claimed."""


@dataclass(slots=True)
class ClaimedRun:
    lease: Lease
    app_id: str
    job_id: str
    job_version: str
    status_before: str
    execution_count: int
    is_retry: bool
    created_at: float
    started_at: float
    event: Event


@dataclass(slots=True)
class StoredTask:
    """A task row as loaded at the start of an execution (output kept as JSON text)."""

    id: str
    parent_id: str | None
    idempotency_key: str
    kind: str
    status: str
    output: str | None
    error: str | None
    attempts: int
    attempt_base: int
    retry_at: float | None
    wake_at: float | None
    started_at: float | None = None
    """When the first attempt started."""


@dataclass(slots=True)
class RunState:
    """What one execution of a run replays from (``Store.load_run_state``), read at once."""

    outputs: dict[str, str | None]
    """Idempotency key -> output JSON of each completed task: all a replay needs of it (a run
    resumed after many tasks holds mostly these, so they are loaded lean)."""
    tasks: list[StoredTask]
    """Every task not completed, whole."""
    log_marks: dict[str, int]
    """For each log scope, the highest log sequence number already stored."""


@dataclass(slots=True)
class NewTask:
    id: str
    run_id: str
    parent_id: str | None
    idempotency_key: str
    cache_key: str
    kind: str
    name: str
    icon: str | None
    properties: str | None
    params: str | None
    style: str | None
    redact: str | None
    depth: int
    created_at: float
    description: str | None = None
    display_key: str | None = None


@dataclass(slots=True)
class Attempt:
    number: int
    status: str
    started_at: float
    ended_at: float | None
    error: dict[str, Any] | None


@dataclass(slots=True)
class TaskRun:
    """A task as the dashboard, CLI and ``client.get_run`` see it."""

    id: str
    run_id: str
    parent_id: str | None
    idempotency_key: str
    cache_key: Any
    kind: str
    name: str
    icon: str | None
    properties: list[dict[str, Any]]
    params: Any
    style: str | None
    redact: list[str] | None
    status: str
    output: Any
    output_properties: list[dict[str, Any]]
    error: dict[str, Any] | None
    depth: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    retry_at: float | None
    wake_at: float | None
    attempts: list[Attempt] = field(default_factory=list)
    children: list[TaskRun] = field(default_factory=list)
    """Subtasks, in the order they were created (filled in by ``Run.tasks`` tree building)."""
    description: str | None = None
    """What ``run_task(description=...)`` said the task does."""
    display_key: str | None = None
    """Shown in place of the cache key (``run_task(display_key=...)``)."""


@dataclass(slots=True)
class LogEntry:
    run_id: str
    scope: str
    seq: int
    level: str
    message: str
    data: Any
    created_at: float
    task_id: str | None = None


@dataclass(slots=True)
class Run:
    id: str
    app_id: str
    job_id: str
    job_version: str
    event_id: str
    event_name: str
    payload: Any
    status: str
    output: Any
    error: dict[str, Any] | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    ready_at: float | None
    execution_count: int
    is_retry: bool
    replay_of: str | None
    lease_owner: str | None
    tasks: list[TaskRun] = field(default_factory=list)
    """Top-level tasks; each holds its subtasks in ``children``."""
    logs: list[LogEntry] = field(default_factory=list)
    concurrency_key: str | None = None
    """The value of the job's concurrency key for this run (None: the job has no key, or no
    worker has computed it yet)."""

    def all_tasks(self) -> list[TaskRun]:
        """Every task of the run, depth first, in creation order."""
        out: list[TaskRun] = []
        stack = list(reversed(self.tasks))
        while stack:
            task = stack.pop()
            out.append(task)
            stack.extend(reversed(task.children))
        return out

    def task(self, *cache_key_path: Any) -> TaskRun:
        """The task reached by following cache keys from the top, e.g. ``run.task("a", "b")``."""
        level = self.tasks
        found: TaskRun | None = None
        for key in cache_key_path:
            found = next((t for t in level if t.cache_key == key), None)
            if found is None:
                raise KeyError(f"No task with cache key {key!r} at this level of run {self.id}")
            level = found.children
        if found is None:
            raise KeyError("Give at least one cache key")
        return found


@dataclass(slots=True)
class ApiKeyRecord:
    """An API key of the HTTP server, as stored: its secret only as a SHA-256 hash."""

    id: str
    name: str
    secret_hash: str
    created_at: float
    revoked_at: float | None = None


@dataclass(slots=True, frozen=True)
class RunQuery:
    """Which runs a page of ``Store.find_runs`` holds, newest first.

    ``after`` is the ``(created_at, id)`` of the last run of the previous page (a keyset
    cursor, so a page never repeats or skips runs created meanwhile). ``search`` matches a run
    id or an event id exactly, or a job id exactly.
    """

    app_id: str | None = None
    job_id: str | None = None
    status: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    search: str | None = None
    after: tuple[float, str] | None = None
    limit: int = 50


# -- decisions of the engine that a store records (see _run_rules) ----------------------------


@dataclass(frozen=True, slots=True)
class CancelDecision:
    run_id: str
    status: str
    """The run's status this decision was made for."""
    end_tasks: tuple[str, ...]
    """Task statuses that end (CANCELED) now. An executing run's running tasks are really
    running: its worker ends them when it stops at its next task boundary."""


@dataclass(frozen=True, slots=True)
class TaskReset:
    task_id: str
    seen: str
    """The task's status when decided (the reset applies only if it still is)."""
    status: str
    """PENDING, or WAITING for a wait."""
    error: str | None
    """Kept on the task: the error of an attempt whose outcome is unknown, else None."""


@dataclass(frozen=True, slots=True)
class RetryDecision:
    run_id: str
    status: str
    """The run's status this decision was made for."""
    tasks: tuple[TaskReset, ...]
