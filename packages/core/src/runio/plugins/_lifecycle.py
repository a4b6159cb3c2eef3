"""Calling the lifecycle hooks for one execution of a run.

The engine holds a ``Lifecycle`` only when some plugin implements a lifecycle hook; otherwise it
holds None and makes no call at all (one attribute check per task). Each implementation is called
on its own, so one that raises is logged and neither the run nor the other plugins notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._info import RunInfo, TaskInfo

if TYPE_CHECKING:
    from .._task import Task

log = logging.getLogger("runio.plugins")

_FINAL = frozenset({"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT", "WAITING"})


@dataclass(frozen=True, slots=True)
class Impl:
    """One plugin's implementation of one hook, with the arguments it asks for."""

    plugin: str
    function: Any
    argnames: tuple[str, ...]


class Lifecycle:
    """The lifecycle hooks of one execution, bound to its ``RunInfo``."""

    __slots__ = ("_impls", "run")

    def __init__(self, run: RunInfo, impls: dict[str, tuple[Impl, ...]]) -> None:
        self.run = run
        self._impls = impls

    def _call(self, hook: str, **kwargs: Any) -> None:
        for impl in self._impls.get(hook, ()):
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception:
                log.exception(
                    "runio plugin %r raised in %s; ignored, the run goes on", impl.plugin, hook
                )

    def run_started(self) -> None:
        self._call("runio_run_started", run=self.run)

    def run_finished(self, status: str, error: BaseException | None) -> None:
        status = status if status in _FINAL else "INTERRUPTED"
        self._call("runio_run_finished", run=self.run, status=status, error=error)

    def _task(self, task: Task, kind: str, integration: str | None) -> TaskInfo:
        return TaskInfo(
            id=task.id,
            run_id=task.run_id,
            parent_id=task.parent_id,
            cache_key=task.cache_key,
            idempotency_key=task.idempotency_key,
            name=task.name,
            kind=kind,
            attempt=task.attempt,
            outcome_unknown=task.outcome_unknown,
            integration=integration,
        )

    def task_started(self, task: Task, kind: str, integration: str | None = None) -> None:
        if "runio_task_started" in self._impls:
            self._call("runio_task_started", run=self.run, task=self._task(task, kind, integration))

    def task_completed(
        self, task: Task, kind: str, output: Any, integration: str | None = None
    ) -> None:
        if "runio_task_completed" in self._impls:
            self._call(
                "runio_task_completed",
                run=self.run,
                task=self._task(task, kind, integration),
                output=output,
            )

    def task_attempt_failed(
        self,
        task: Task,
        kind: str,
        error: dict[str, Any],
        exception: BaseException,
        retry_at: float | None,
        integration: str | None = None,
    ) -> None:
        if retry_at is not None:
            if "runio_task_retrying" in self._impls:
                self._call(
                    "runio_task_retrying",
                    run=self.run,
                    task=self._task(task, kind, integration),
                    error=error,
                    exception=exception,
                    retry_at=retry_at,
                )
        elif "runio_task_failed" in self._impls:
            self._call(
                "runio_task_failed",
                run=self.run,
                task=self._task(task, kind, integration),
                error=error,
                exception=exception,
            )
