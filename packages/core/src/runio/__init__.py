"""runio: durable background jobs built from cached, retryable tasks."""

from __future__ import annotations

from . import errors, retry
from ._client import Client
from ._context import EventInfo, RunContext
from ._io import IO, Logger, SyncIO
from ._job import EventTrigger, Job, event_trigger
from ._records import (
    AttemptRecord as Attempt,
)
from ._records import EventRecord as Event
from ._records import (
    LogRecord as LogEntry,
)
from ._records import (
    RunRecord as Run,
)
from ._records import (
    RunStatus,
    TaskStatus,
)
from ._records import (
    TaskRecord as TaskRun,
)
from ._task import Property, Task
from .integrations import ErrorDecision, Integration, Setting, integration_task
from .plugins import hookimpl
from .retry import SKIP_RETRYING, RetryAt, RetryOptions

__version__ = "0.1.0"

__all__ = [
    "IO",
    "SKIP_RETRYING",
    "Attempt",
    "Client",
    "ErrorDecision",
    "Event",
    "EventInfo",
    "EventTrigger",
    "Integration",
    "Job",
    "LogEntry",
    "Logger",
    "Property",
    "RetryAt",
    "RetryOptions",
    "Run",
    "RunContext",
    "RunStatus",
    "Setting",
    "SyncIO",
    "Task",
    "TaskRun",
    "TaskStatus",
    "__version__",
    "errors",
    "event_trigger",
    "hookimpl",
    "integration_task",
    "retry",
]
