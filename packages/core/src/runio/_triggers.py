"""Event triggers: a job runs for each event with its trigger's name whose payload matches the
trigger's filter. Integrations build theirs on ``EventTrigger`` (``WebhookTrigger``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from . import _event_filter, _validate
from ._event_filter import matches as _matches
from ._schedules import EVENT_PREFIX
from .errors import ConfigurationError, JobDefinitionError


@dataclass(frozen=True, kw_only=True)
class EventTrigger:
    """Runs the job for every event with this name (and matching ``filter``, if given)."""

    name: str
    """The event name, e.g. ``"new.user"``."""
    schema: type[BaseModel] | None = None
    """A pydantic model the payload must satisfy; the job function receives it parsed."""
    filter: Mapping[str, Any] | None = None
    """Only payloads matching this: ``{"plan": ["pro", "team"], "user": {"country": ["NZ"]}}``
    (each key lists allowed values; nested mappings match nested objects)."""

    def stored_info(self) -> dict[str, Any]:
        """What the job's stored record says about this trigger besides its name and filter."""
        return {}

    def matches(self, payload: Any) -> bool:
        return self.filter is None or _matches(self.filter, payload)


def event_trigger(
    name: str,
    *,
    schema: type[BaseModel] | None = None,
    filter: Mapping[str, Any] | None = None,
) -> EventTrigger:
    """Trigger a job when an event named ``name`` is sent."""
    if not isinstance(name, str) or not name.strip():
        raise JobDefinitionError("event_trigger needs a non-empty event name, e.g. 'new.user'.")
    job_text(name, "event_trigger: the event name")
    if name.startswith(EVENT_PREFIX):
        raise JobDefinitionError(
            f"event_trigger({name!r}): names starting with {EVENT_PREFIX!r} belong to schedules; "
            "for a job on a schedule use runio.cron_trigger(...) or runio.interval_trigger(...)."
        )
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise JobDefinitionError(
            f"event_trigger(schema=...) must be a pydantic BaseModel subclass, got {schema!r}."
        )
    if filter is not None:
        check_filter(filter, path=name)
    return EventTrigger(name=name, schema=schema, filter=filter)


def check_filter(spec: Mapping[str, Any], path: str) -> None:
    _event_filter.check(spec, path, JobDefinitionError)


def job_text(value: object, what: str) -> None:
    try:
        _validate.text(value, what)
    except ConfigurationError as exc:
        raise JobDefinitionError(str(exc)) from None
