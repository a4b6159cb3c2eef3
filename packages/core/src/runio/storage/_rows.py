"""What both SQL stores share: the migration files, the queries that read runs and task trees
(written once, the placeholder filled in per dialect), the converters from rows to records, and
the errors recorded for attempts that never reported back, and how a claim splits jobs with a
concurrency limit from the others.

It knows nothing of connections or transactions; ``_sqlite.py`` and ``_postgres.py`` run the
queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from .._records import Attempt, AttemptStatus, ClaimRule, Run, TaskRun, TaskStatus


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """The numbered migrations shipped for ``dialect``: (version, file name, SQL), in order."""
    folder = resources.files("runio.storage.migrations") / dialect
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def schema_version_of(applied: set[int], known: Sequence[int]) -> int:
    """The schema version a database is at, given the migrations applied to it.

    Migrations are numbered as they are written, so a database may have a later one applied
    before an earlier one is shipped (a gap). The version is the last known migration before
    the first one still missing, so a newly shipped earlier migration makes the database
    "behind" and gets applied; a migration newer than any known makes it "ahead".
    """
    if not applied:
        return 0
    if max(applied) > max(known, default=0):
        return max(applied)
    version = 0
    for number in sorted(known):
        if number not in applied:
            break
        version = number
    return version


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


INTERRUPTED = json.dumps(
    {
        "type": "AttemptInterrupted",
        "message": "the worker stopped (crash, shutdown or lost lease) before this attempt "
        "recorded a result; its outcome is unknown",
    }
)
"""Recorded on an attempt found still open when the task's next attempt starts."""

RUN_ENDED = json.dumps(
    {
        "type": "AttemptInterrupted",
        "message": "the attempt was interrupted before recording a result (its parent task "
        "timed out or failed, or the run was canceled or ended)",
    }
)
"""Recorded on the attempts a run leaves open when it ends."""

RUN_COLUMNS = (
    "r.id, r.app_id, r.job_id, r.job_version, r.event_id, e.name, e.payload, r.status, r.output, "
    "r.error, r.created_at, r.started_at, r.ended_at, r.ready_at, r.execution_count, r.is_retry, "
    "r.replay_of, r.lease_owner, r.concurrency_key"
)
RUN_FROM = "runs r JOIN events e ON e.app_id = r.app_id AND e.id = r.event_id"


def run_from_row(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        app_id=row[1],
        job_id=row[2],
        job_version=row[3],
        event_id=row[4],
        event_name=row[5],
        payload=loads(row[6]),
        status=row[7],
        output=loads(row[8]),
        error=loads(row[9]),
        created_at=row[10],
        started_at=row[11],
        ended_at=row[12],
        ready_at=row[13],
        execution_count=row[14],
        is_retry=bool(row[15]),
        replay_of=row[16],
        lease_owner=row[17],
        concurrency_key=row[18],
    )


def attempts_of_run_sql(placeholder: str) -> str:
    return (
        "SELECT a.task_id, a.number, a.status, a.started_at, a.ended_at, a.error FROM attempts a "
        f"JOIN tasks t ON t.id = a.task_id WHERE t.run_id = {placeholder} "
        "ORDER BY a.task_id, a.number"
    )


def tasks_of_run_sql(placeholder: str) -> str:
    return (
        "SELECT id, run_id, parent_id, idempotency_key, cache_key, kind, name, icon, properties, "
        "params, style, redact, status, output, output_properties, error, depth, created_at, "
        "started_at, ended_at, retry_at, wake_at, description, display_key, attempts FROM tasks "
        f"WHERE run_id = {placeholder} "
        "ORDER BY id"
    )


def _first_attempt(task_row: Sequence[Any]) -> list[Attempt]:
    """The SQLite store writes no attempts row for a task's first attempt while it runs or
    once it completed (a row is written when it fails or is interrupted): that attempt is the
    task row's own start, and its end."""
    if task_row[24] != 1:
        return []
    if task_row[12] == TaskStatus.COMPLETED:
        return [Attempt(1, AttemptStatus.COMPLETED, task_row[18], task_row[19], None)]
    if task_row[12] == TaskStatus.RUNNING:
        return [Attempt(1, AttemptStatus.STARTED, task_row[18], None, None)]
    return []


def task_tree(
    task_rows: Iterable[Sequence[Any]], attempt_rows: Iterable[Sequence[Any]]
) -> list[TaskRun]:
    """The top-level tasks (each with its ``children``) from the rows of the two queries above."""
    attempts: dict[str, list[Attempt]] = {}
    for a in attempt_rows:
        attempts.setdefault(a[0], []).append(Attempt(a[1], a[2], a[3], a[4], loads(a[5])))
    tasks = [
        TaskRun(
            id=r[0],
            run_id=r[1],
            parent_id=r[2],
            idempotency_key=r[3],
            cache_key=loads(r[4]),
            kind=r[5],
            name=r[6],
            icon=r[7],
            properties=loads(r[8]) or [],
            params=loads(r[9]),
            style=r[10],
            redact=loads(r[11]),
            status=r[12],
            output=loads(r[13]),
            output_properties=loads(r[14]) or [],
            error=loads(r[15]),
            depth=r[16],
            created_at=r[17],
            started_at=r[18],
            ended_at=r[19],
            retry_at=r[20],
            wake_at=r[21],
            attempts=attempts.get(r[0]) or _first_attempt(r),
            description=r[22],
            display_key=r[23],
        )
        for r in task_rows
    ]
    by_id = {t.id: t for t in tasks}
    roots: list[TaskRun] = []
    for t in tasks:
        parent = by_id.get(t.parent_id) if t.parent_id else None
        (parent.children if parent is not None else roots).append(t)
    return roots


def split_by_limit(
    job_ids: Sequence[str], rules: Mapping[str, ClaimRule] | None
) -> tuple[list[str], dict[str, ClaimRule]]:
    """The jobs claimed without a concurrency limit, and the rules of those with one."""
    rules = rules or {}
    limited = {j: r for j in job_ids if (r := rules.get(j)) and r.concurrency_limit is not None}
    return [j for j in job_ids if j not in limited], limited
