"""What a task's function receives (``Task``), how a task describes itself (``Property``),
and the options every way of running a task accepts (``TaskOptions``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from datetime import datetime

    from .retry import RetryOptions

from ._validate import printable


@dataclass(frozen=True, slots=True)
class Property:
    """A label and value shown beside a task in the dashboard and ``runio runs show``.

    A property whose ``text`` is None is left out, so ``Property("Email", params.get("email"))``
    shows only when the value is there."""

    label: str
    text: str | None = None
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
    died or lost its lease), or failed in a way that may have had its effect (a connection
    dropped after the request was sent): it may or may not have had its effect."""
    started_at: float | None = None
    """When the task's first attempt started (seconds since the epoch): where to start looking
    for an earlier attempt's effect at a vendor."""
    output_properties: list[Property] = field(default_factory=list)
    """Append properties here to show them with the task's output."""


class TaskOptions(TypedDict, total=False):
    """The options of ``io.run_task``, ``io.<integration>.run_task`` and their sync forms,
    passed as keyword arguments."""

    name: str | None
    """Display name in the dashboard (default: the cache key)."""
    icon: str | None
    """Icon name or emoji shown beside the task."""
    properties: Sequence[Property] | None
    """Labels and values shown with the task."""
    params: Any
    """The task's inputs as JSON, shown in the dashboard."""
    retry: RetryOptions | None
    """Retry failures with durable delays (plain tasks do not retry without it)."""
    on_error: Callable[[Exception, Task], Any] | None
    """``on_error(error, task)`` may return a replacement error, ``runio.RetryAt`` or
    ``runio.SKIP_RETRYING``."""
    redact: Sequence[str] | None
    """Output paths hidden in the dashboard, e.g. ``["card.number"]``."""
    style: Literal["normal", "minimal"] | None
    """``minimal`` shows the task as one line."""
    timeout: float | None
    """Seconds each attempt may run."""
    delay_until: datetime | None
    """Start the task no earlier than this (a timezone-aware datetime): the run parks until
    then, holding no worker slot, as with ``io.wait_until``."""
