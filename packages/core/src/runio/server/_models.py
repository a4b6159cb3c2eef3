"""The JSON shapes of the HTTP API (pydantic models, so the OpenAPI description is exact) and
the conversions from runio's records to them. Redaction is applied here, once, for the API and
the dashboard alike."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .._records import (
    Attempt,
    Event,
    JobRecord,
    LogEntry,
    Run,
    RunStatus,
    TaskRun,
)
from .._render import redacted

_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class EventIn(BaseModel):
    """An event to send: each job of the app whose trigger matches gets one run."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=_NAME_PATTERN)
    """The event name the jobs' triggers listen for, e.g. ``new.user``."""
    payload: Any = None
    """Any JSON value; validated against each matching job's schema."""
    id: str | None = Field(default=None, min_length=1, max_length=200, pattern=_NAME_PATTERN)
    """Sending the same id again returns the stored event and creates nothing."""
    deliver_at: AwareDatetime | None = None
    """Delay the runs until then (ISO 8601 with a timezone)."""


class EventOut(BaseModel):
    id: str
    name: str
    payload: Any
    timestamp: float
    """Seconds since the epoch (UTC), as every time in this API."""
    deliver_at: float | None
    run_ids: list[str]

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(
            id=event.id,
            name=event.name,
            payload=event.payload,
            timestamp=event.timestamp,
            deliver_at=event.deliver_at,
            run_ids=list(event.run_ids),
        )


class JobOut(BaseModel):
    id: str
    name: str
    version: str
    event_name: str
    """The event that triggers it."""
    payload_schema: dict[str, Any] | None
    """The JSON schema its payload must match, if any."""
    payload_filter: dict[str, Any] | None
    schedule: str | None = None
    """Its schedule, for a job on a cron or interval trigger."""
    webhook: dict[str, str] | None = None
    """For a job started by a vendor's webhooks: ``integration`` (the endpoint is
    ``/api/v1/webhooks/<integration>``), ``vendor`` and ``event_type``."""

    @classmethod
    def of(cls, job: JobRecord) -> JobOut:
        trigger = job.trigger or {}
        return cls(
            id=job.job_id,
            name=job.name,
            version=job.version,
            event_name=job.event_name,
            payload_schema=trigger.get("schema"),
            payload_filter=trigger.get("filter"),
            schedule=trigger.get("schedule"),
            webhook=trigger.get("webhook"),
        )


class JobList(BaseModel):
    jobs: list[JobOut]


class EventRef(BaseModel):
    id: str
    name: str


class RunSummary(BaseModel):
    id: str
    app_id: str
    job_id: str
    job_version: str
    status: RunStatus
    event: EventRef
    created_at: float
    started_at: float | None
    ended_at: float | None
    ready_at: float | None
    execution_count: int
    is_retry: bool
    replay_of: str | None

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        return cls(**_summary_fields(run))


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_cursor: str | None
    """Pass it as ``cursor`` for the next (older) page; null on the last page."""


class AttemptOut(BaseModel):
    number: int
    status: str
    started_at: float
    ended_at: float | None
    error: dict[str, Any] | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            status=attempt.status,
            started_at=attempt.started_at,
            ended_at=attempt.ended_at,
            error=attempt.error,
        )


class TaskOut(BaseModel):
    id: str
    parent_id: str | None
    cache_key: Any
    idempotency_key: str
    kind: str
    name: str
    icon: str | None
    style: str | None
    status: str
    properties: list[dict[str, Any]]
    output_properties: list[dict[str, Any]]
    params: Any
    """With the task's redact paths applied."""
    output: Any
    """With the task's redact paths applied."""
    error: dict[str, Any] | None
    depth: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    retry_at: float | None
    wake_at: float | None
    attempts: list[AttemptOut]
    children: list[TaskOut]

    @classmethod
    def of(cls, task: TaskRun) -> TaskOut:
        return cls(
            id=task.id,
            parent_id=task.parent_id,
            cache_key=task.cache_key,
            idempotency_key=task.idempotency_key,
            kind=task.kind,
            name=task.name,
            icon=task.icon,
            style=task.style,
            status=task.status,
            properties=task.properties,
            output_properties=task.output_properties,
            params=redacted(task.params, task.redact),
            output=redacted(task.output, task.redact),
            error=task.error,
            depth=task.depth,
            created_at=task.created_at,
            started_at=task.started_at,
            ended_at=task.ended_at,
            retry_at=task.retry_at,
            wake_at=task.wake_at,
            attempts=[AttemptOut.of(a) for a in task.attempts],
            children=[cls.of(c) for c in task.children],
        )


class LogOut(BaseModel):
    level: str
    message: str
    data: Any
    task_id: str | None
    created_at: float

    @classmethod
    def of(cls, log: LogEntry) -> LogOut:
        return cls(
            level=log.level,
            message=log.message,
            data=log.data,
            task_id=log.task_id,
            created_at=log.created_at,
        )


class RunDetail(RunSummary):
    payload: Any
    output: Any
    error: dict[str, Any] | None
    tasks: list[TaskOut]
    """Top-level tasks; each holds its subtasks in ``children``."""
    logs: list[LogOut]

    @classmethod
    def of(cls, run: Run) -> RunDetail:
        return cls(
            **_summary_fields(run),
            payload=run.payload,
            output=run.output,
            error=run.error,
            tasks=[TaskOut.of(t) for t in run.tasks],
            logs=[LogOut.of(g) for g in run.logs],
        )


class ErrorOut(BaseModel):
    detail: str
    """What went wrong and what to do about it."""


def _summary_fields(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "app_id": run.app_id,
        "job_id": run.job_id,
        "job_version": run.job_version,
        "status": run.status,
        "event": EventRef(id=run.event_id, name=run.event_name),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "ready_at": run.ready_at,
        "execution_count": run.execution_count,
        "is_retry": run.is_retry,
        "replay_of": run.replay_of,
    }


# -- cursors ------------------------------------------------------------------------------------
def encode_cursor(run: Run) -> str:
    raw = json.dumps([run.created_at, run.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str] | None:
    """The ``(created_at, id)`` a cursor holds, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and not isinstance(value[0], bool)
        and isinstance(value[1], str)
    ):
        return float(value[0]), value[1]
    return None


def epoch(value: datetime | None) -> float | None:
    """A datetime from a query string as seconds since the epoch (naive means UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
