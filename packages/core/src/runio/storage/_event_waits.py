"""What both SQL stores share about runs waiting for events (``io.wait_for_event``).

A wait is a task row (kind ``event_wait``, WAITING until its ``wake_at``) plus an
``event_waits`` row naming the event it waits for. The transaction that stores an event also
matches it to the waits open at that moment, so only events sent after a wait began resume it,
and an event sent while no worker runs still does: the matched wait's ``wake_at`` (and its run's
``ready_at``) move to the event's delivery time. The engine then resolves the wait when the run
wakes. A run matched while it executes gets its ``ready_at`` set all the same (a claim clears
it), and suspending keeps the earlier of that and the time the execution asks for, so an event
that arrives between recording a wait and suspending is not slept through.

This module holds the matching rule and the JSON a resolved wait stores; the stores run the SQL.
SQLite applies ``to_resume`` in its one writer thread; PostgreSQL applies the same rule in the
statement that stores the event (its filters through ``runio_filter_matches``, migration 0003),
so concurrent events and waits need no lock between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .._event_filter import matches

OPEN_WAITS_SQL = (
    "SELECT w.run_id, w.task_id, w.filter, w.timeout_at, w.event_at FROM event_waits w "
    "JOIN tasks t ON t.run_id = w.run_id AND t.id = w.task_id "
    "WHERE w.app_id = {p} AND w.name = {p} AND t.status = 'WAITING'"
)
"""The waits an event of this app and name may resume (``{p}``: the dialect's placeholder)."""

WaitRow = tuple[str, str, str | None, float, float | None]
"""``(run_id, task_id, filter JSON, timeout_at, event_at)`` of an open wait."""


def to_resume(waits: Iterable[WaitRow], payload: Any, at: float) -> list[tuple[str, str]]:
    """The ``(run_id, task_id)`` of the waits an event delivered at ``at`` resumes: its payload
    matches their filter, it comes before their timeout, and before the event they already
    matched (a delayed one) if any."""
    out = []
    for run_id, task_id, spec, timeout_at, event_at in waits:
        if at >= timeout_at or (event_at is not None and event_at <= at):
            continue
        if spec is not None and not matches(json.loads(spec), payload):
            continue
        out.append((run_id, task_id))
    return out


def first_match(
    candidates: Iterable[tuple[str, str, float]], spec: str | None, timeout_at: float
) -> tuple[str, float] | None:
    """Among ``(event_id, payload JSON, delivery time)`` in delivery order, the first that a
    wait with this filter and timeout would take: ``(event_id, delivery time)``."""
    filt = None if spec is None else json.loads(spec)
    for event_id, payload, at in candidates:
        if at >= timeout_at:
            return None
        if filt is None or matches(filt, json.loads(payload)):
            return event_id, at
    return None


def event_json(
    event_id: str,
    name: str,
    payload_text: str,
    timestamp: float,
    deliver_at: float | None,
    run_ids: list[str],
) -> str:
    """The output a resolved wait stores: the event, as ``io.wait_for_event`` returns it."""
    return (
        f'{{"id": {json.dumps(event_id)}, "name": {json.dumps(name, ensure_ascii=False)}, '
        f'"payload": {payload_text}, "timestamp": {json.dumps(timestamp)}, '
        f'"deliver_at": {json.dumps(deliver_at)}, "run_ids": {json.dumps(run_ids)}}}'
    )
