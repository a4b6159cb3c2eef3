"""Rendering runs for people: the task tree printed by ``runio runs show`` and the demo."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ._records import Run, TaskRun

STATUS_STYLE = {
    "QUEUED": "cyan",
    "EXECUTING": "yellow",
    "RUNNING": "yellow",
    "WAITING": "blue",
    "PENDING": "cyan",
    "COMPLETED": "green",
    "FAILED": "red",
    "ERRORED": "red",
    "CANCELED": "magenta",
    "TIMED_OUT": "red",
}
STATUS_MARK = {
    "COMPLETED": "✔",
    "FAILED": "✘",
    "ERRORED": "✘",
    "CANCELED": "⊘",
    "WAITING": "⏸",
    "RUNNING": "▶",
    "EXECUTING": "▶",
    "QUEUED": "·",
    "PENDING": "·",
    "TIMED_OUT": "⌛",
}


def duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max(0.0, end - start)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def timestamp(value: float | None) -> str:
    """A stored time for people; any float renders (a time past year 9999 too)."""
    if value is None:
        return "-"
    return _format_time(value, "%Y-%m-%d %H:%M:%S UTC")


def _format_time(value: float, pattern: str) -> str:
    try:
        return datetime.fromtimestamp(value, UTC).strftime(pattern)
    except (ValueError, OverflowError, OSError):
        if value != value:
            return "(not a time)"
        side = "after year 9999" if value > 0 else "before year 1"
        return f"{side} ({value:.6g} s from 1970)"


def status_text(status: str) -> Text:
    return Text(f"{STATUS_MARK.get(status, '?')} {status}", style=STATUS_STYLE.get(status, ""))


def _key(cache_key: Any) -> str:
    return cache_key if isinstance(cache_key, str) else json.dumps(cache_key, ensure_ascii=False)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redacted(value: Any, paths: list[str] | None) -> Any:
    """A copy of ``value`` with each dotted path replaced by ``"[redacted]"``."""
    if not paths:
        return value
    value = json.loads(json.dumps(value))
    for path in paths:
        parts = path.split(".")
        node = value
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and parts[-1] in node:
            node[parts[-1]] = "[redacted]"
    return value


def _so_far(start: float | None, end: float | None, now: float | None) -> str:
    """The duration, or with ``now`` the time elapsed so far (marked ``…``) while unfinished."""
    if end is None and start is not None and now is not None:
        return duration(start, now) + "…"
    return duration(start, end)


def _task_label(task: TaskRun, now: float | None = None) -> Text:
    label = Text()
    label.append_text(status_text(task.status))
    label.append("  ")
    label.append(task.name, style="bold")
    shown_key = task.display_key or _key(task.cache_key)
    if task.name != shown_key:
        label.append(f"  [{shown_key}]", style="dim")
    attempts = len(task.attempts)
    if attempts > 1:
        label.append(f"  {attempts} attempts", style="yellow")
    if task.kind == "wait" or (task.kind == "event_wait" and task.status == "WAITING"):
        if task.wake_at is not None:
            label.append(f"  until {timestamp(task.wake_at)}", style="dim")
    else:
        label.append(f"  {_so_far(task.started_at, task.ended_at, now)}", style="dim")
    for prop in task.properties:
        label.append(f"  {prop.get('label')}: {prop.get('text')}", style="cyan")
    if task.description:
        label.append(f"\n    {task.description}", style="italic")
    if task.status == "COMPLETED" and task.kind != "wait":
        label.append(f"\n    → {_short(redacted(task.output, task.redact))}", style="green")
        for prop in task.output_properties:
            label.append(f"  {prop.get('label')}: {prop.get('text')}", style="cyan")
    if len(task.attempts) > 1 or task.status in ("ERRORED", "WAITING"):
        for attempt in task.attempts:
            if attempt.error:
                label.append(
                    f"\n    attempt {attempt.number} ✘ {attempt.error.get('type')}: "
                    f"{attempt.error.get('message')}",
                    style="red",
                )
    if task.status == "WAITING" and task.retry_at is not None:
        label.append(f"\n    next attempt at {timestamp(task.retry_at)}", style="yellow")
    if task.error and task.status == "ERRORED" and not task.attempts:
        label.append(
            f"\n    error: {task.error.get('type')}: {task.error.get('message')}", style="red"
        )
    return label


def run_tree(run: Run, now: float | None = None) -> RenderableType:
    """The run and its task tree; ``now`` (seconds since the epoch) shows unfinished durations
    as the time elapsed so far, for views that are redrawn."""
    head = Text()
    head.append(f"Run {run.id}", style="bold")
    head.append(f"  job {run.job_id}@{run.job_version}  ")
    if run.concurrency_key is not None:
        head.append(f"key {run.concurrency_key}  ", style="dim")
    head.append_text(status_text(run.status))
    head.append(
        f"  {run.execution_count} execution(s)  {_so_far(run.started_at, run.ended_at, now)}",
        style="dim",
    )
    tree = Tree(head)
    stack: list[tuple[Tree, list[TaskRun]]] = [(tree, run.tasks)]
    while stack:
        node, tasks = stack.pop()
        for task in tasks:
            child = node.add(_task_label(task, now))
            if task.children:
                stack.append((child, task.children))
    parts: list[RenderableType] = [tree]
    if run.status == "COMPLETED":
        parts.append(Text(f"output: {_short(run.output, 200)}", style="green"))
    if run.error:
        parts.append(
            Text(f"error: {run.error.get('type')}: {run.error.get('message')}", style="red")
        )
    return Group(*parts)


def runs_table(runs: list[Run]) -> Table:
    """A table for terminals: ids, jobs and statuses are never cut; other columns give way."""
    several_apps = len({run.app_id for run in runs}) > 1
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("run", no_wrap=True)
    if several_apps:
        table.add_column("app", no_wrap=True)
    table.add_column("job", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("created", overflow="fold")
    table.add_column("exec", justify="right")
    table.add_column("duration", overflow="fold")
    for run in runs:
        cells: list[Text] = [Text(run.id)]
        if several_apps:
            cells.append(Text(run.app_id))
        cells += [
            Text(run.job_id),
            status_text(run.status),
            Text(_short_time(run.created_at)),
            Text(str(run.execution_count)),
            Text(duration(run.started_at, run.ended_at)),
        ]
        table.add_row(*cells)
    return table


def runs_lines(runs: list[Run]) -> list[str]:
    """One tab-separated line per run, for pipes (``runio runs list | grep FAILED``)."""
    return [
        "\t".join(
            [
                run.id,
                run.app_id,
                run.job_id,
                run.status,
                timestamp(run.created_at),
                str(run.execution_count),
                duration(run.started_at, run.ended_at),
            ]
        )
        for run in runs
    ]


def _short_time(value: float) -> str:
    return _format_time(value, "%m-%d %H:%M:%S")


def run_json(run: Run) -> dict[str, Any]:
    def task(t: TaskRun) -> dict[str, Any]:
        return {
            "id": t.id,
            "cache_key": t.cache_key,
            "idempotency_key": t.idempotency_key,
            "kind": t.kind,
            "name": t.name,
            "status": t.status,
            "output": redacted(t.output, t.redact),
            "properties": t.properties,
            "output_properties": t.output_properties,
            "icon": t.icon,
            "description": t.description,
            "display_key": t.display_key,
            "error": t.error,
            "attempts": [
                {
                    "number": a.number,
                    "status": a.status,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "error": a.error,
                }
                for a in t.attempts
            ],
            "children": [task(c) for c in t.children],
        }

    return {
        "id": run.id,
        "app_id": run.app_id,
        "job_id": run.job_id,
        "job_version": run.job_version,
        "concurrency_key": run.concurrency_key,
        "status": run.status,
        "event": {"id": run.event_id, "name": run.event_name, "payload": run.payload},
        "output": run.output,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "execution_count": run.execution_count,
        "tasks": [task(t) for t in run.tasks],
        "logs": [
            {"level": g.level, "message": g.message, "data": g.data, "created_at": g.created_at}
            for g in run.logs
        ],
    }
