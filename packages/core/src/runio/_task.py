"""What a task's function receives (``Task``) and how a task describes itself (``Property``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._validate import printable


@dataclass(frozen=True, slots=True)
class Property:
    """A label and value shown beside a task in the dashboard and ``runio runs show``."""

    label: str
    text: str
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": printable(str(self.label)),
            "text": printable(str(self.text)),
        }
        if self.url:
            data["url"] = printable(str(self.url))
        return data


@dataclass(slots=True)
class Task:
    """The handle passed to a task's function: who this task is and which attempt this is."""

    id: str
    idempotency_key: str
    """Stable across retries, replays and crashes: pass it to vendors that deduplicate on it."""
    attempt: int
    """1 for the first attempt."""
    cache_key: Any
    run_id: str
    parent_id: str | None
    params: Any
    name: str
    outcome_unknown: bool = False
    """True when an earlier attempt of this task started but never recorded a result (the worker
    died or lost its lease): it may or may not have had its effect."""
    output_properties: list[Property] = field(default_factory=list)
    """Append properties here to show them with the task's output."""
