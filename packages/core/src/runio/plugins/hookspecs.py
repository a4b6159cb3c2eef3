"""Every hook a runio plugin may implement: the one place that says when each fires.

A plugin is a module (or any object) with functions marked ``@runio.hookimpl`` whose names are
hooks below, found through the ``runio`` entry-point group::

    [project.entry-points.runio]
    stripe = "runio_stripe.plugin"

Hooks are called with keyword arguments, and an implementation may accept any subset of a hook's
arguments (it names only those it needs), so a hook can gain arguments without breaking plugins.

Registration hooks receive a ``register`` callback: core collects, validates and de-duplicates
what plugins register, and its own built-ins register through the same hooks.

Lifecycle hooks (``runio_run_*``, ``runio_task_*``) are for observability plugins (tracing,
metrics, alerts). They are called on the worker's event loop, so they must be quick: hand slow
work (network exports) to a thread or queue. An implementation that raises is logged and the run
goes on; a run never fails because of a plugin. When no plugin implements any lifecycle hook,
the engine makes no lifecycle call at all.

This module only declares; ``runio.plugins`` builds the manager and calls the hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from ._info import RunInfo, TaskInfo

if TYPE_CHECKING:
    from ..integrations._base import Integration

hookspec = pluggy.HookspecMarker("runio")


class RegisterIntegration(Protocol):
    """The ``register`` callback of ``runio_register_integrations``."""

    def __call__(self, integration: type[Integration[Any]], /) -> None: ...


# -- registration ------------------------------------------------------------------------------


@hookspec
def runio_register_integrations(register: RegisterIntegration) -> None:
    """Register the ``runio.Integration`` subclasses this plugin provides.

    Fires once per plugin manager, the first time its integrations are needed: when ``io.<name>``
    names an integration the job did not declare, or ``runio integrations list`` runs. Call
    ``register(cls)`` once per class; core checks the class (a ``runio.Integration`` subclass
    with a usable ``namespace``), ignores a class registered twice, and attributes it to this
    plugin's package. Returns nothing.
    """


# -- runs --------------------------------------------------------------------------------------


@hookspec
def runio_run_started(run: RunInfo) -> None:
    """A worker starts an execution of a run, just before it calls the job function.

    Fires for the run's first execution and again for each resume (after a wait, a retry delay,
    a crash or a lost lease); ``run.execution_count`` tells which. Returns nothing.
    """


@hookspec
def runio_run_finished(run: RunInfo, status: str, error: BaseException | None) -> None:
    """The execution that ``runio_run_started`` announced has ended; fires once for each.

    ``status`` is the run's status afterwards: ``COMPLETED``, ``FAILED``, ``CANCELED`` or
    ``TIMED_OUT`` when the run is over; ``WAITING`` when it paused (a wait, a retry delay) and
    will resume; ``INTERRUPTED`` when the execution stopped without recording an end (the worker
    shut down, lost the lease, or the database failed) and another execution will resume it.
    ``error`` is the exception the job function raised (for ``FAILED``), else None. Returns
    nothing.
    """


# -- tasks -------------------------------------------------------------------------------------


@hookspec
def runio_task_started(run: RunInfo, task: TaskInfo) -> None:
    """An attempt of a task starts, after its start is handed to the store and before its
    function is called.

    Fires for every attempt (``task.attempt``), never for a task whose stored result is reused on
    replay. ``task.outcome_unknown`` is true when an earlier attempt may have had its effect.
    Returns nothing.
    """


@hookspec
def runio_task_completed(run: RunInfo, task: TaskInfo, output: Any) -> None:
    """An attempt of a task succeeded and its output is durably stored.

    Fires once per successful attempt, right after the output is recorded (never for a result
    reused on replay). ``output`` is the value the task's function returned. Returns nothing.
    """


@hookspec
def runio_task_retrying(
    run: RunInfo,
    task: TaskInfo,
    error: dict[str, Any],
    exception: BaseException,
    retry_at: float,
) -> None:
    """An attempt of a task failed and the task will be attempted again.

    Fires after the failure is recorded. ``error`` is the error as stored (``type``,
    ``message``, ``stack``; an integration's secrets already removed), ``exception`` the
    exception itself, ``retry_at`` when the next attempt is due (seconds since the epoch, on the
    client's clock). Returns nothing.
    """


@hookspec
def runio_task_failed(
    run: RunInfo,
    task: TaskInfo,
    error: dict[str, Any],
    exception: BaseException,
) -> None:
    """An attempt of a task failed and the task has failed for good (no retry left, a
    non-retryable or permanent error, or a failed subtask).

    Fires after the failure is recorded; ``error`` and ``exception`` as for
    ``runio_task_retrying``. An attempt interrupted by a cancel, a crash or a lost lease fires
    neither hook. Returns nothing.
    """


LIFECYCLE_HOOKS = (
    "runio_run_started",
    "runio_run_finished",
    "runio_task_started",
    "runio_task_completed",
    "runio_task_retrying",
    "runio_task_failed",
)
"""The hooks the engine calls during runs; when no plugin implements one, it calls none."""
