"""runio: durable background jobs built from cached, retryable tasks."""

from __future__ import annotations

from . import errors, retry
from ._client import Client
from ._context import EventInfo, RunContext
from ._io import IO, Logger, SyncIO
from ._job import Job
from ._kv import KeyValueScope, KeyValueStore
from ._records import Attempt, Event, LogEntry, Run, RunStatus, TaskRun, TaskStatus
from ._schedules import CronTrigger, IntervalTrigger, ScheduledTick, cron_trigger, interval_trigger
from ._task import Property, Task, TaskOptions
from ._triggers import EventTrigger, event_trigger
from ._version import __version__
from .integrations import ErrorDecision, Integration, Setting, integration_task, setting
from .plugins import hookimpl
from .retry import SKIP_RETRYING, RetryAt, RetryOptions

__all__ = [
    "IO",
    "SKIP_RETRYING",
    "Attempt",
    "Client",
    "CronTrigger",
    "ErrorDecision",
    "Event",
    "EventInfo",
    "EventTrigger",
    "Integration",
    "IntervalTrigger",
    "Job",
    "KeyValueScope",
    "KeyValueStore",
    "LogEntry",
    "Logger",
    "Property",
    "RetryAt",
    "RetryOptions",
    "Run",
    "RunContext",
    "RunStatus",
    "ScheduledTick",
    "Setting",
    "SyncIO",
    "Task",
    "TaskOptions",
    "TaskRun",
    "TaskStatus",
    "__version__",
    "cron_trigger",
    "errors",
    "event_trigger",
    "hookimpl",
    "integration_task",
    "interval_trigger",
    "retry",
    "setting",
]
