"""Every error runio raises, under one root.

::

    RunioError
    ├── ConfigurationError          a setting, option or argument is wrong
    │   ├── InvalidCacheKeyError    a cache key is empty or holds a non-JSON-scalar part
    │   ├── InvalidRetryOptionsError
    │   ├── JobDefinitionError      define_job() was called with something unusable
    │   ├── PluginLoadError         a plugin failed to load or validate (names its package)
    │   ├── IntegrationSettingError an integration lacks a setting (names argument and env var)
    │   └── IntegrationNotFoundError  io.<name> resolves to nothing (also an AttributeError);
    │                               names the package to install and the setting to provide
    ├── UnknownJobError             no job with that id is registered
    ├── UnknownEventError           no job is triggered by that event name, and no run waits for it
    ├── EventNotFoundError          no event with that id exists (get_event, cancel_event)
    ├── EventDeliveredError         cancel_event on an event already delivered (or canceled)
    ├── InvalidPayloadError         the payload failed the trigger's schema (carries field errors)
    ├── ConcurrencyKeyError         a job's concurrency_key raised or returned no usable key
    ├── RunNotFoundError
    ├── WebhookSignatureError       a webhook's signature is missing, wrong or stale (401)
    ├── WebhookPayloadError         a signed webhook body is not the vendor's event (400)
    ├── InvalidRunStateError        e.g. retrying a run that has not failed
    ├── StoreError                  the database refused or is not ready
    │   ├── MigrationError
    │   └── StoreUnavailableError   a worker gave up: the database kept failing
    ├── LeaseLostError              this worker no longer holds the run (another worker took over)
    ├── VendorError                 an integration's SDK error whose text held a secret, redacted
    └── TaskError                   something about one task (carries run id, task key, attempt)
        ├── DuplicateCacheKeyError  the same cache key twice in one scope within one execution
        ├── TaskDepthError          subtasks nested deeper than max_task_depth
        ├── OutputError             an output that cannot be stored (not JSON, too large)
        ├── TaskTimeoutError        one attempt ran longer than its timeout
        ├── EventTimeoutError       io.wait_for_event's timeout passed with no matching event
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
    "ConcurrencyKeyError",
    "ConfigurationError",
    "DuplicateCacheKeyError",
    "EventDeliveredError",
    "EventNotFoundError",
    "EventTimeoutError",
    "IntegrationNotFoundError",
    "IntegrationSettingError",
    "InvalidCacheKeyError",
    "InvalidPayloadError",
    "InvalidRetryOptionsError",
    "InvalidRunStateError",
    "JobDefinitionError",
    "LeaseLostError",
    "MigrationError",
    "NonRetryableError",
    "OutputError",
    "PluginLoadError",
    "RunNotFoundError",
    "RunioError",
    "StoreError",
    "StoreUnavailableError",
    "TaskDepthError",
    "TaskError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnknownEventError",
    "UnknownJobError",
    "VendorError",
    "WebhookPayloadError",
    "WebhookSignatureError",
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


class PluginLoadError(ConfigurationError):
    """An installed runio plugin failed to import, register or validate.

    ``plugin`` is its entry-point name and ``package`` the distribution that installed it (None
    for a plugin registered in code), so the message can say what to upgrade or disable.
    """

    def __init__(self, message: str, *, plugin: str | None, package: str | None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.package = package


class IntegrationSettingError(ConfigurationError):
    """An integration instance lacks a required setting (an API key, say) or got an unknown one.

    ``integration`` is the instance's id, ``setting`` the constructor argument and ``env`` the
    environment variable that would provide it.
    """

    def __init__(
        self,
        message: str,
        *,
        integration: str,
        setting: str | None = None,
        env: str | None = None,
    ) -> None:
        super().__init__(message)
        self.integration = integration
        self.setting = setting
        self.env = env


class IntegrationNotFoundError(ConfigurationError, AttributeError):
    """``io.<name>`` names no integration the job declared, nor one an installed plugin provides
    and the environment configures.

    It is also an ``AttributeError``, so ``hasattr(io, name)`` and ``getattr(io, name, None)``
    behave as usual. ``package`` is the distribution to install (when known) and ``settings`` the
    environment variables to set.
    """

    def __init__(
        self,
        message: str,
        *,
        namespace: str,
        package: str | None = None,
        settings: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.package = package
        self.settings = list(settings)


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


class EventNotFoundError(RunioError, LookupError):
    """No event with this id exists in this app (``get_event``, ``cancel_event``)."""

    def __init__(self, message: str, *, event_id: str) -> None:
        super().__init__(message)
        self.event_id = event_id


class EventDeliveredError(RunioError):
    """``cancel_event`` was asked to cancel an event that was already delivered (its delivery
    time has come: its runs may be running, the waits it matched resumed) or already canceled.
    ``event`` is the stored event."""

    def __init__(self, message: str, *, event: Any) -> None:
        super().__init__(message)
        self.event = event
        self.event_id: str = event.id


class InvalidPayloadError(RunioError, ValueError):
    """An event payload failed a job trigger's schema. No run was created.

    ``errors`` holds pydantic's field errors (``loc``, ``msg``, ``type``) per job id.
    """

    def __init__(self, message: str, *, errors: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        super().__init__(message)
        self.errors = {job: [dict(e) for e in errs] for job, errs in errors.items()}


class ConcurrencyKeyError(RunioError):
    """A job's ``concurrency_key`` function raised, or returned something other than a
    non-empty string of at most 256 characters. The run it was computed for ends FAILED with
    this error (nothing else of it ran); fix the function and retry the run."""

    def __init__(self, message: str, *, job_id: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.run_id = run_id


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


class WebhookSignatureError(RunioError):
    """A webhook request whose signature is missing, wrong, or older than the vendor's tolerance:
    answered 401, nothing stored."""


class WebhookPayloadError(RunioError):
    """A webhook request, correctly signed, whose body cannot be read as the vendor's event:
    answered 400, nothing stored."""


class StoreError(RunioError):
    """The database refused an operation or is not usable."""


class MigrationError(StoreError):
    """The database schema is missing, too old, or newer than this version of runio."""


class StoreUnavailableError(StoreError):
    """A worker stopped because the database kept failing (``failures`` in a row)."""

    def __init__(self, message: str, *, failures: int) -> None:
        super().__init__(message)
        self.failures = failures


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


class VendorError(RunioError):
    """Raised in place of an integration's SDK error whose message (or chained errors) held one of
    the integration's secrets: the same text with the secret replaced by ``[redacted]``.

    ``integration`` is the instance's id and ``error_type`` the SDK error's class name. The
    original error is kept in memory only, as ``vendor_error``, for the integration's error
    classification; it is never chained, so it is never stored or logged.
    """

    def __init__(self, message: str, *, integration: str, error_type: str) -> None:
        super().__init__(message)
        self.integration = integration
        self.error_type = error_type
        self.vendor_error: BaseException | None = None


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
    """One attempt of a task ran longer than its ``timeout``.

    Its outcome is unknown (the function was abandoned mid-way), so the next attempt's
    ``task.outcome_unknown`` is true.
    """

    outcome_unknown = True


class EventTimeoutError(TaskError):
    """``io.wait_for_event`` waited its whole ``timeout`` and no matching event arrived.

    Raised where the wait was awaited, on the first execution and on every replay alike, so a
    job can catch it and go on (``except runio.errors.EventTimeoutError``). ``event_name`` is the
    event waited for and ``timeout`` the seconds waited.
    """

    def __init__(
        self,
        message: str,
        *,
        event_name: str,
        timeout: float,
        run_id: str | None = None,
        job_id: str | None = None,
        cache_key: Any = None,
    ) -> None:
        super().__init__(message, run_id=run_id, job_id=job_id, cache_key=cache_key)
        self.event_name = event_name
        self.timeout = timeout


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
