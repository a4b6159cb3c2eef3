"""Canceling and retrying a run: decided here, from the run as stored; recorded by the store.

Owns which runs may be canceled or retried, what happens to their tasks, and which task keeps
the mark of an attempt whose outcome is unknown across a retry (so an integration looks for the
effect of that attempt before writing again). The store only records a decision, and only if the
run is still in the status it was made for (and each task still in the status it was seen in);
otherwise the run is read again and the decision made anew. Nothing here touches SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ._records import (
    CancelDecision,
    RetryDecision,
    Run,
    RunStatus,
    TaskReset,
    TaskRun,
    TaskStatus,
)
from .errors import InvalidRunStateError, RunNotFoundError, StoreError
from .storage import Store

CANCELABLE = frozenset({RunStatus.QUEUED, RunStatus.WAITING, RunStatus.EXECUTING})
RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELED, RunStatus.TIMED_OUT})
_RESET = (TaskStatus.ERRORED, TaskStatus.CANCELED, TaskStatus.RUNNING)
_TRIES = 5

INTERRUPTED_UNKNOWN = {
    "type": "AttemptInterrupted",
    "message": "the last attempt was interrupted before it recorded a result (the run was "
    "canceled, timed out or failed meanwhile); its outcome is unknown",
    "outcome_unknown": True,
}


def decide_cancel(run: Run) -> CancelDecision:
    if run.status not in CANCELABLE:
        raise InvalidRunStateError(
            f"Run {run.id} has already ended ({run.status}); only queued, waiting or executing "
            "runs can be canceled.",
            run_id=run.id,
            status=run.status,
        )
    end: tuple[str, ...] = (TaskStatus.PENDING, TaskStatus.WAITING)
    if run.status != RunStatus.EXECUTING:
        end = (*end, TaskStatus.RUNNING)
    return CancelDecision(run.id, run.status, end)


def decide_retry(run: Run) -> RetryDecision:
    """ERRORED, CANCELED and interrupted tasks are attempted again (waits wait again); a task
    whose last attempt's outcome is unknown keeps that mark."""
    if run.status not in RETRYABLE:
        raise InvalidRunStateError(
            f"Run {run.id} is {run.status}; only FAILED, CANCELED or TIMED_OUT runs can be "
            "retried. To run a finished run again from the start, replay it.",
            run_id=run.id,
            status=run.status,
        )
    resets = [
        TaskReset(
            task.id,
            task.status,
            TaskStatus.WAITING if task.kind == "wait" else TaskStatus.PENDING,
            _unknown_outcome(task),
        )
        for task in _walk(run.tasks)
        if task.status in _RESET
    ]
    return RetryDecision(run.id, run.status, tuple(resets))


def _walk(tasks: list[TaskRun]) -> Iterator[TaskRun]:
    for task in tasks:
        yield task
        yield from _walk(task.children)


def _unknown_outcome(task: TaskRun) -> str | None:
    """The error a reset task keeps: its own, when it says the outcome is unknown; a note, when
    its last attempt was interrupted (it may have had its effect); else None."""
    if isinstance(task.error, dict) and task.error.get("outcome_unknown"):
        return json.dumps(task.error, ensure_ascii=False)
    if task.kind == "wait" or not task.attempts:
        return None
    last = task.attempts[-1]
    interrupted = last.status == "STARTED" or (
        isinstance(last.error, dict) and last.error.get("type") == "AttemptInterrupted"
    )
    return json.dumps(INTERRUPTED_UNKNOWN) if interrupted else None


async def cancel_run(store: Store, run_id: str, *, now: float) -> Run:
    """Cancel a queued, waiting or executing run (an executing one stops at its next task
    boundary). Raises InvalidRunStateError for a finished run."""
    for _ in range(_TRIES):
        run = await _get(store, run_id, with_tasks=False)
        if await store.record_cancel(decide_cancel(run), now=now):
            return await _get(store, run_id)
    raise _changing(run_id)


async def retry_run(store: Store, run_id: str, *, now: float) -> Run:
    """Queue a failed, canceled or timed-out run again; its ERRORED tasks are re-attempted."""
    for _ in range(_TRIES):
        run = await _get(store, run_id)
        if await store.record_retry(decide_retry(run), now=now):
            return await _get(store, run_id)
    raise _changing(run_id)


async def _get(store: Store, run_id: str, *, with_tasks: bool = True) -> Run:
    run = await store.get_run(run_id, with_tasks=with_tasks)
    if run is None:
        raise RunNotFoundError(run_id)
    return run


def _changing(run_id: str) -> StoreError:
    return StoreError(
        f"Run {run_id} changed status {_TRIES} times while this operation was being decided; "
        "try again."
    )
