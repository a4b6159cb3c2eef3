"""What plugins are told: plain, frozen records of plugins, integrations, runs and tasks.

Lifecycle hooks receive these rather than the engine's own objects, so a plugin can keep them
(e.g. on a tracing span) without holding on to a run's state or changing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..integrations._base import Integration


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A plugin registered with a plugin manager, and where it came from."""

    name: str
    """Its name in the manager: the entry-point name for an installed plugin."""
    package: str | None
    """The distribution that installed it (``runio-stripe``); None for one registered in code."""
    version: str | None
    """That distribution's version."""
    builtin: bool = False
    """One of runio's own built-in plugins."""


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    """An integration class a plugin registered through ``runio_register_integrations``."""

    namespace: str
    """Its default attribute on ``io`` (``io.stripe``)."""
    cls: type[Integration[Any]]
    plugin: PluginInfo


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One execution of a run, as lifecycle hooks see it."""

    run_id: str
    app_id: str
    job_id: str
    job_version: str
    event_id: str
    event_name: str
    execution_count: int
    """1 for the run's first execution; each resume (after a wait, a retry delay, a crash)
    counts one more."""
    is_retry: bool
    """The run was started again with *retry run*."""


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """One attempt of a task, as lifecycle hooks see it."""

    id: str
    run_id: str
    parent_id: str | None
    cache_key: Any
    idempotency_key: str
    name: str
    kind: str
    """``task`` (``io.run_task`` and integration tasks), ``event``, ``random``..."""
    attempt: int
    """1-based; counts every attempt of the task, retries of a retried run included."""
    outcome_unknown: bool
    """An earlier attempt may have had its effect without recording a result."""
    integration: str | None = None
    """The id of the integration instance whose call this task is (``io.stripe.*`` tasks);
    None for a plain ``io.run_task``."""
