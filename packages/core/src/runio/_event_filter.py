"""Event filters: whether an event's payload matches a filter such as ``{"plan": ["pro"]}``.

One definition for every place that matches events (``runio.event_trigger``, ``io.wait_for_event``
and the stores, which match events to waiting runs inside the transaction that stores the event),
so a filter means the same everywhere. Pure functions over JSON values; nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _json


def matches(spec: Mapping[str, Any], payload: Any) -> bool:
    """Each key of ``spec`` lists the values allowed at that key of the payload; a nested
    mapping matches a nested object. A missing key never matches."""
    if not isinstance(payload, Mapping):
        return False
    for key, allowed in spec.items():
        if key not in payload:
            return False
        value = payload[key]
        if isinstance(allowed, Mapping):
            if not matches(allowed, value):
                return False
        elif not any(same_json(value, option) for option in allowed):
            return False
    return True


def same_json(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``true`` is not ``1`` (as it would be in Python)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def check(spec: object, path: str, error: type[Exception]) -> None:
    """Raise ``error`` unless ``spec`` is a filter: a mapping whose values list the allowed JSON
    values (or are nested filters). ``path`` names it in the message."""
    if not isinstance(spec, Mapping):
        raise error(f"Event filter at {path!r} must be a mapping, e.g. {{'plan': ['pro']}}.")
    for key, allowed in spec.items():
        if isinstance(allowed, Mapping):
            check(allowed, f"{path}.{key}", error)
        elif not isinstance(allowed, list | tuple):
            raise error(
                f"Event filter {path}.{key} must list the allowed values, e.g. "
                f"{{{key!r}: [{allowed!r}]}}."
            )
        else:
            try:  # stored, and compared with JSON payloads
                _json.encode(list(allowed))
            except _json.NotJsonError as exc:
                raise error(
                    f"Event filter {path}.{key} holds a value no JSON payload can have: {exc}."
                ) from None
