"""Every error runio raises, under one root.

::

    RunioError
    ├── ConfigurationError          a setting, option or argument is wrong
    │   ├── InvalidCacheKeyError    a cache key is empty or holds a non-JSON-scalar part
    │   ├── InvalidRetryOptionsError
    │   └── JobDefinitionError      define_job() was called with something unusable
    ├── UnknownJobError             no job with that id is registered
    ├── UnknownEventError           no job is triggered by that event name
    ├── InvalidPayloadError         the payload failed the trigger's schema (carries field errors)
    ├── RunNotFoundError
    ├── InvalidRunStateError        e.g. retrying a run that has not failed
    ├── StoreError                  the database refused or is not ready
    │   └── MigrationError
    ├── LeaseLostError              this worker no longer holds the run (another worker took over)
    └── TaskError                   something about one task (carries run id, task key, attempt)
        ├── DuplicateCacheKeyError  the same cache key twice in one scope within one execution
        ├── TaskDepthError          subtasks nested deeper than max_task_depth
        ├── OutputError             an output that cannot be stored (not JSON, too large)
        ├── TaskTimeoutError        one attempt ran longer than its timeout
        └── TaskFailedError         the task failed for good; raised where io.run_task was awaited

    NonRetryableError (Exception)   raise it inside a task's function to fail the task at once

``NonRetryableError`` is deliberately not a ``RunioError``: user code raises it, runio never does.
Control-flow signals (suspend, cancel) are not here: they derive from ``BaseException`` so a job's
``except Exception`` can never swallow them, and they never escape to user code outside a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ConfigurationError",
    "DuplicateCacheKeyError",
    "InvalidCacheKeyError",
    "InvalidPayloadError",
    "InvalidRetryOptionsError",
    "InvalidRunStateError",
    "JobDefinitionError",
    "LeaseLostError",
    "MigrationError",
    "NonRetryableError",
    "OutputError",
    "RunNotFoundError",
    "RunioError",
    "StoreError",
    "TaskDepthError",
    "TaskError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnknownEventError",
    "UnknownJobError",
]


class RunioError(Exception):
    """Root of every error runio raises. Messages say what happened and what to do next."""


class ConfigurationError(RunioError, ValueError):
    """A setting, option or argument has a value runio cannot use."""


class InvalidCacheKeyError(ConfigurationError):
    """A cache key is empty, or one of its parts is not a JSON scalar."""


class InvalidRetryOptionsError(ConfigurationError):
    """RetryOptions hold a value outside its allowed range."""


class JobDefinitionError(ConfigurationError):
    """``define_job`` was given something it cannot use (bad id, bad function signature...)."""


class UnknownJobError(RunioError, LookupError):
    """No job with this id is registered with the client or the database."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class UnknownEventError(RunioError, LookupError):
    """No job of this app is triggered by the event name."""

    def __init__(self, message: str, *, event_name: str) -> None:
        super().__init__(message)
        self.event_name = event_name


class InvalidPayloadError(RunioError, ValueError):
    """An event payload failed a job trigger's schema. No run was created.

    ``errors`` holds pydantic's field errors (``loc``, ``msg``, ``type``) per job id.
    """

    def __init__(self, message: str, *, errors: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        super().__init__(message)
        self.errors = {job: [dict(e) for e in errs] for job, errs in errors.items()}


class RunNotFoundError(RunioError, LookupError):
    """No run with this id exists in the database."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"No run with id {run_id!r} exists in this database. "
            "Check the id with `runio runs list` and that RUNIO_DATABASE_URL points at the "
            "right database."
        )
        self.run_id = run_id


class InvalidRunStateError(RunioError):
    """The operation does not apply to a run in its current status."""

    def __init__(self, message: str, *, run_id: str, status: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status


class StoreError(RunioError):
    """The database refused an operation or is not usable."""


class MigrationError(StoreError):
    """The database schema is missing, too old, or newer than this version of runio."""


class LeaseLostError(RunioError):
    """This worker no longer holds the run's lease, so its writes were rejected.

    Another worker has taken the run over (this worker stalled past the lease, or the run was
    released). Nothing is lost: the other worker replays the run from its stored results.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"This worker lost its lease on run {run_id!r}; another worker now owns it, "
            "so this worker's write was rejected. Nothing to do: the run continues on the "
            "other worker."
        )
        self.run_id = run_id


class TaskError(RunioError):
    """An error about one task. Carries where it happened."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        job_id: str | None = None,
        cache_key: Any = None,
        attempt: int | None = None,
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.job_id = job_id
        self.cache_key = cache_key
        self.attempt = attempt


class DuplicateCacheKeyError(TaskError):
    """The same cache key was used twice in one scope within one execution of a run."""


class TaskDepthError(TaskError):
    """Subtasks were nested deeper than the client's ``max_task_depth``."""


class OutputError(TaskError):
    """A task's (or job's) output cannot be stored: not JSON-serialisable, or too large."""


class TaskTimeoutError(TaskError):
    """One attempt of a task ran longer than its ``timeout``."""


class TaskFailedError(TaskError):
    """The task failed for good (retries exhausted, non-retryable error, or a failed subtask).

    This is what ``await io.run_task(...)`` raises, on the first execution and on every replay
    alike, so a job's ``except`` behaves the same both times. ``error_type`` and ``error_message``
    describe the task's last error; on the first execution ``__cause__`` is the original exception.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        error_message: str,
        run_id: str | None = None,
        job_id: str | None = None,
        cache_key: Any = None,
        attempt: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(
            message, run_id=run_id, job_id=job_id, cache_key=cache_key, attempt=attempt
        )
        self.error_type = error_type
        self.error_message = error_message
        self.task_id = task_id


class NonRetryableError(Exception):
    """Raise inside a task's function to fail the task at once, whatever its retry options."""
