"""What ``runio dev`` shows while runs execute: each run's task attempts as they start, finish,
retry or fail.

``DevProgress`` is a runio plugin (the lifecycle hooks of ``runio.plugins.hookspecs``) that the
``dev`` command registers on the app's client for as long as it runs, so it sees exactly what
the engine does without reading the database. In a terminal it keeps a rich ``Live`` view of the
runs in flight, redrawn a few times a second so durations tick; elsewhere it prints one plain
line per event. A run's end is printed by the command itself (the stored task tree), not here.

Hooks are called on the worker's event loop and the live view is redrawn from rich's refresh
thread, so the state is guarded by a lock and every hook only records and returns.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from .._render import STATUS_MARK, STATUS_STYLE, duration, timestamp
from ..plugins import RunInfo, TaskInfo, hookimpl

PLUGIN_NAME = "runio.dev-progress"


@dataclass(slots=True)
class _TaskView:
    id: str
    parent_id: str | None
    name: str
    cache_key: Any
    attempt: int
    started: float
    status: str = "RUNNING"
    ended: float | None = None
    note: str = ""


@dataclass(slots=True)
class _RunView:
    run: RunInfo
    started: float
    tasks: dict[str, _TaskView] = field(default_factory=dict)


def _key_text(cache_key: Any) -> str:
    if isinstance(cache_key, str):
        return cache_key
    return json.dumps(cache_key, ensure_ascii=False, default=str)


def _error_text(error: dict[str, Any]) -> str:
    return f"{error.get('type')}: {error.get('message')}"


class DevProgress:
    """Lifecycle-hook plugin showing runs in flight on ``console``.

    ``live``: keep a redrawn view (for terminals) instead of printing a line per event.
    """

    def __init__(
        self,
        console: Console,
        *,
        live: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.live = live
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _RunView] = {}

    # -- hooks (on the worker's loop: record, print at most a line, return) --------------------
    @hookimpl
    def runio_run_started(self, run: RunInfo) -> None:
        with self._lock:
            self._runs[run.run_id] = _RunView(run, self._clock())
        resumed = f", execution {run.execution_count}" if run.execution_count > 1 else ""
        self._line(run.run_id, Text(f"{run.job_id}@{run.job_version} started{resumed}"))

    @hookimpl
    def runio_run_finished(self, run: RunInfo) -> None:
        with self._lock:
            self._runs.pop(run.run_id, None)

    @hookimpl
    def runio_task_started(self, run: RunInfo, task: TaskInfo) -> None:
        view = _TaskView(
            id=task.id,
            parent_id=task.parent_id,
            name=task.name,
            cache_key=task.cache_key,
            attempt=task.attempt,
            started=self._clock(),
        )
        with self._lock:
            found = self._runs.get(run.run_id)
            if found is not None:
                found.tasks[task.id] = view
        self._line(run.run_id, self._label(view, now=None))

    @hookimpl
    def runio_task_completed(self, run: RunInfo, task: TaskInfo) -> None:
        self._task_ended(run, task, "COMPLETED", "")

    @hookimpl
    def runio_task_retrying(
        self, run: RunInfo, task: TaskInfo, error: dict[str, Any], retry_at: float
    ) -> None:
        when = timestamp(retry_at)
        self._task_ended(run, task, "WAITING", f"{_error_text(error)}; next attempt at {when}")

    @hookimpl
    def runio_task_failed(self, run: RunInfo, task: TaskInfo, error: dict[str, Any]) -> None:
        self._task_ended(run, task, "ERRORED", _error_text(error))

    def _task_ended(self, run: RunInfo, task: TaskInfo, status: str, note: str) -> None:
        now = self._clock()
        with self._lock:
            found = self._runs.get(run.run_id)
            view = found.tasks.get(task.id) if found is not None else None
            if view is None:
                view = _TaskView(
                    task.id, task.parent_id, task.name, task.cache_key, task.attempt, now
                )
                if found is not None:
                    found.tasks[task.id] = view
            view.status, view.ended, view.note = status, now, note
        self._line(run.run_id, self._label(view, now=None))

    # -- output --------------------------------------------------------------------------------
    def _line(self, run_id: str, text: Text) -> None:
        if not self.live:
            self.console.print(Text.assemble((run_id, "dim"), " ", text))

    def _label(self, task: _TaskView, now: float | None) -> Text:
        label = Text()
        label.append(f"{STATUS_MARK.get(task.status, '?')} ", style=STATUS_STYLE.get(task.status))
        label.append(task.name, style="bold")
        key = _key_text(task.cache_key)
        if key != task.name:
            label.append(f" [{key}]", style="dim")
        if task.attempt > 1 or task.status == "WAITING":
            label.append(f"  attempt {task.attempt}", style="yellow")
        end = task.ended if task.ended is not None else now
        if end is not None:
            ticking = "…" if task.ended is None else ""
            label.append(f"  {duration(task.started, end)}{ticking}", style="dim")
        if task.note:
            style = "red" if task.status == "ERRORED" else "yellow"
            label.append(f"  {task.note}", style=style)
        return label

    def render(self) -> RenderableType:
        """The runs in flight with their task attempts so far (what the live view shows)."""
        now = self._clock()
        trees: list[RenderableType] = []
        with self._lock:
            for view in self._runs.values():
                run = view.run
                head = Text()
                head.append(f"{STATUS_MARK['EXECUTING']} ", style=STATUS_STYLE["EXECUTING"])
                head.append(run.run_id, style="bold")
                head.append(f"  {run.job_id}@{run.job_version}")
                if run.execution_count > 1:
                    head.append(f"  execution {run.execution_count}", style="dim")
                head.append(f"  {duration(view.started, now)}…", style="dim")
                tree = Tree(head)
                nodes: dict[str | None, Tree] = {None: tree}
                for task in view.tasks.values():  # parents start before their children
                    parent = nodes.get(task.parent_id, tree)
                    nodes[task.id] = parent.add(self._label(task, now))
                trees.append(tree)
        return Group(*trees)

    @contextmanager
    def showing(self) -> Iterator[None]:
        """Keep the live view on screen while the block runs (nothing to do for plain lines)."""
        if not self.live:
            yield
            return
        with Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        ):
            yield
