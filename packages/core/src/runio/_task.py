"""What a task's function receives (``Task``), how a task describes itself (``Property``),
and the options every way of running a task accepts (``TaskOptions``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from datetime import datetime

    from .retry import RetryOptions

from ._validate import printable
from .errors import ConfigurationError


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


_PROPERTY_KEYS = frozenset({"label", "text", "value", "url"})


def as_property(item: object, where: str) -> Property:
    """One task property as given, made a ``Property``: ``runio.Property(label, text)``, or a
    dict as Trigger.dev's docs write them, ``{"label": ..., "text": ...}`` or ``{"label": ...,
    "value": ...}``, with an optional ``"url"``. Anything else is a ``ConfigurationError``
    naming ``where``. Every way a property reaches a task goes through here (a ``Property``
    itself may skip it: it is returned as it is)."""
    if isinstance(item, Property):
        return item
    shape = (
        "runio.Property(label, text), or a dict such as {'label': 'User', 'text': 'u_1'} or "
        "{'label': 'Amount', 'value': 42} (with an optional 'url')"
    )
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"{where}: each property must be {shape}; got {item!r:.200}.")
    unknown = sorted(str(k) for k in item if k not in _PROPERTY_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: property {item!r:.200} has unknown key(s) {', '.join(unknown)}; a "
            "property has 'label' and 'text' (or 'value'), and may have 'url'."
        )
    label = item.get("label")
    if not isinstance(label, str) or not label:
        raise ConfigurationError(
            f"{where}: property {item!r:.200} needs a 'label' that is a non-empty string."
        )
    if ("text" in item) == ("value" in item):
        raise ConfigurationError(
            f"{where}: property {label!r} needs exactly one of 'text' and 'value' "
            f"(got {'both' if 'text' in item else 'neither'})."
        )
    if "text" in item:
        text = item["text"]
        if not isinstance(text, str):
            raise ConfigurationError(
                f"{where}: property {label!r} has a 'text' of type {type(text).__name__}; "
                "'text' is a string (use 'value' for a number or a boolean)."
            )
    else:
        value = item["value"]
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise ConfigurationError(
                f"{where}: property {label!r} has a 'value' of type {type(value).__name__}; "
                "a value is a string, a number or a boolean."
            )
    url = item.get("url")
    if url is not None and not isinstance(url, str):
        raise ConfigurationError(
            f"{where}: property {label!r} has a 'url' of type {type(url).__name__}; it must "
            "be a string such as 'https://dashboard.stripe.com/customers/cus_1'."
        )
    return Property(label, text, url)


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
    output_properties: list[Property | Mapping[str, Any]] = field(default_factory=list)
    """Append properties here to show them with the task's output (``runio.Property`` or a
    dict with ``label`` and ``text`` or ``value``)."""


class TaskOptions(TypedDict, total=False):
    """The options of ``io.run_task``, ``io.<integration>.run_task`` and their sync forms,
    passed as keyword arguments."""

    name: str | None
    """Display name in the dashboard (default: the cache key)."""
    icon: str | None
    """Icon name or emoji shown beside the task."""
    properties: Sequence[Property | Mapping[str, Any]] | None
    """Labels and values shown with the task: ``runio.Property(label, text)``, or dicts as
    Trigger.dev writes them (``{"label": ..., "text": ...}`` or ``{"label": ..., "value": ...}``,
    optionally with ``"url"``)."""
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
    # -- shown in the task tree --
    description: str | None
    """What the task does, in a sentence; shown with the task (dashboard, ``runio runs show``)."""
    display_key: str | None
    """Shown in place of the cache key, e.g. ``f"user {user_id}"`` for ``["user", user_id]``."""
    delay_until: datetime | None
    """Start the task no earlier than this (a timezone-aware datetime): the run parks until
    then, holding no worker slot, as with ``io.wait_until``."""
