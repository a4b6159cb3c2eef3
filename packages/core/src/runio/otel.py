"""OpenTelemetry spans for runs, their executions and their tasks (``pip install "runio[otel]"``).

A runio plugin built on the lifecycle hooks of ``runio.plugins.hookspecs``; register it on a
client, and its spans go to the tracer provider you configured (or the one given)::

    from runio.otel import OpenTelemetryPlugin

    client = runio.Client(id="shop")
    client.plugins.register(OpenTelemetryPlugin())

The spans:

- ``run <job id>``: one per execution of a run (its first, and each resume after a wait, a
  retry delay or a crash), from just before the job function is called to the end of that
  execution. A run's executions can be days apart and on different workers, so each is parented
  to the run itself: a remote span context whose trace id and span id are derived from the run
  id (``run_span_context``). Every execution of one run is therefore in one trace.
- ``task <name>``: one per task attempt, a child of the attempt of its parent task (a subtask)
  or of the execution. While the task's function runs, its span is the current span, so spans
  your code or instrumented libraries start inside it nest under it.

Attributes (``runio.*``): ``run.id``, ``app.id``, ``job.id``, ``job.version``, ``event.id``,
``event.name``, ``run.execution``, ``run.is_retry`` and, once the execution ends,
``run.status``; on tasks also ``task.id``, ``task.name``, ``task.cache_key``, ``task.kind``,
``task.attempt``, ``task.idempotency_key``, ``task.outcome_unknown``, and ``integration`` (the
integration instance's id) for an integration's call. A failed execution or attempt has status
ERROR and its exception recorded (for an attempt, the error as runio stored it, an
integration's secrets removed); an attempt that will be retried carries ``task.retry_at``.

Owns only the mapping from hooks to spans; it never changes a run. Hooks run on the worker's
event loop and only start, annotate and end spans (exporting is the span processor's job).
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
    TracerProvider,
)

from . import __version__
from .plugins import RunInfo, TaskInfo, hookimpl

__all__ = ["OpenTelemetryPlugin", "run_span_context"]

_FAILED = frozenset({"FAILED", "TIMED_OUT"})


def run_span_context(run_id: str) -> SpanContext:
    """The span context standing for run ``run_id`` as a whole: the parent of each of its
    executions' spans. Its trace id is the run's trace, the same in every process."""
    digest = hashlib.sha256(run_id.encode()).digest()
    return SpanContext(
        trace_id=int.from_bytes(digest[:16], "big") or 1,
        span_id=int.from_bytes(digest[16:24], "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def _cache_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class _Open:
    """A started span and the token of the context that made it current."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, token: Token[otel_context.Context]) -> None:
        self.span = span
        self.token = token


class OpenTelemetryPlugin:
    """Spans for runs, executions and task attempts; see the module documentation.

    ``tracer_provider``: where spans go (default: OpenTelemetry's global provider).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("runio", __version__, tracer_provider=tracer_provider)
        self._lock = threading.Lock()
        self._executions: dict[str, _Open] = {}
        self._attempts: dict[tuple[str, str], _Open] = {}

    def __repr__(self) -> str:
        return "OpenTelemetryPlugin()"

    # -- runs --------------------------------------------------------------------------------
    @hookimpl
    def runio_run_started(self, run: RunInfo) -> None:
        parent = trace.set_span_in_context(NonRecordingSpan(run_span_context(run.run_id)))
        span = self._tracer.start_span(
            f"run {run.job_id}",
            context=parent,
            attributes={
                "runio.run.id": run.run_id,
                "runio.app.id": run.app_id,
                "runio.job.id": run.job_id,
                "runio.job.version": run.job_version,
                "runio.event.id": run.event_id,
                "runio.event.name": run.event_name,
                "runio.run.execution": run.execution_count,
                "runio.run.is_retry": run.is_retry,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._executions[run.run_id] = _Open(span, token)

    @hookimpl
    def runio_run_finished(self, run: RunInfo, status: str, error: BaseException | None) -> None:
        with self._lock:
            opened = self._executions.pop(run.run_id, None)
            unfinished = [k for k in self._attempts if k[0] == run.run_id]
            attempts = [self._attempts.pop(k) for k in unfinished]
        for attempt in reversed(attempts):  # interrupted: canceled, lease lost, shut down
            attempt.span.set_attribute("runio.task.interrupted", True)
            attempt.span.end()
        if opened is None:
            return
        span = opened.span
        span.set_attribute("runio.run.status", status)
        if error is not None:
            span.record_exception(error)
        if status in _FAILED:
            message = f"{type(error).__name__}: {error}" if error is not None else status
            span.set_status(Status(StatusCode.ERROR, message))
        elif status == "COMPLETED":
            span.set_status(Status(StatusCode.OK))
        span.end()
        otel_context.detach(opened.token)

    # -- task attempts -------------------------------------------------------------------------
    @hookimpl
    def runio_task_started(self, run: RunInfo, task: TaskInfo) -> None:
        with self._lock:
            parent = (
                self._attempts.get((run.run_id, task.parent_id)) if task.parent_id else None
            ) or self._executions.get(run.run_id)
        attributes: dict[str, Any] = {
            "runio.run.id": run.run_id,
            "runio.job.id": run.job_id,
            "runio.task.id": task.id,
            "runio.task.name": task.name,
            "runio.task.cache_key": _cache_key(task.cache_key),
            "runio.task.kind": task.kind,
            "runio.task.attempt": task.attempt,
            "runio.task.idempotency_key": task.idempotency_key,
            "runio.task.outcome_unknown": task.outcome_unknown,
        }
        if task.integration is not None:
            attributes["runio.integration"] = task.integration
        span = self._tracer.start_span(
            f"task {task.name}",
            context=trace.set_span_in_context(parent.span) if parent is not None else None,
            attributes=attributes,
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._attempts[(run.run_id, task.id)] = _Open(span, token)

    @hookimpl
    def runio_task_completed(self, run: RunInfo, task: TaskInfo) -> None:
        opened = self._take(run, task)
        if opened is not None:
            opened.span.set_status(Status(StatusCode.OK))
            opened.span.end()
            otel_context.detach(opened.token)

    @hookimpl
    def runio_task_retrying(
        self, run: RunInfo, task: TaskInfo, error: dict[str, Any], retry_at: float
    ) -> None:
        opened = self._take(run, task)
        if opened is not None:
            opened.span.set_attribute("runio.task.retry_at", retry_at)
            self._failed(opened, error)

    @hookimpl
    def runio_task_failed(self, run: RunInfo, task: TaskInfo, error: dict[str, Any]) -> None:
        opened = self._take(run, task)
        if opened is not None:
            self._failed(opened, error)

    def _take(self, run: RunInfo, task: TaskInfo) -> _Open | None:
        with self._lock:
            return self._attempts.pop((run.run_id, task.id), None)

    @staticmethod
    def _failed(opened: _Open, error: dict[str, Any]) -> None:
        # The error as stored (an integration's secrets removed), not the exception itself.
        kind, message = str(error.get("type")), str(error.get("message"))
        event = {"exception.type": kind, "exception.message": message}
        if error.get("stack"):
            event["exception.stacktrace"] = str(error["stack"])
        opened.span.add_event("exception", event)
        opened.span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}"))
        opened.span.end()
        otel_context.detach(opened.token)
