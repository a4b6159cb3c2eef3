"""Checks of the values users hand runio: numbers, texts and integration declarations.

Every number a user gives (an API argument, a CLI option, a ``RUNIO_*`` environment variable)
is checked here before it is used or stored, so NaN, infinity, a bool passed as a number, or an
absurd size ends in a ``ConfigurationError`` that names the setting, the allowed range and the
value, never in a stored time nobody can render or a run that is never reclaimed.

This module owns the limits themselves (``MAX_DELAY_SECONDS`` and friends) and the messages;
it must stay cheap, because ``io.run_task`` calls into it on every task: no copies, nothing
worse than one pass over a string.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .errors import ConfigurationError

__all__ = [
    "EVENT_FIELDS",
    "MAX_DELAY_SECONDS",
    "MAX_GRACE_PERIOD",
    "MAX_LEASE_SECONDS",
    "MAX_POLL_INTERVAL",
    "MAX_TIME_SCALE",
    "env_number",
    "event_item",
    "event_options",
    "is_finite_number",
    "number",
    "on_error",
    "printable",
    "seconds",
    "size",
    "surrogate_in",
    "text",
]

MAX_DELAY_SECONDS = 10 * 365 * 86400
"""The longest wait, retry delay, ``RetryAt``, task timeout or ``max_duration``: ten years."""
MAX_LEASE_SECONDS = 86400.0
"""A worker's lease may last up to a day: the longest a dead worker's runs stay unclaimed."""
MAX_POLL_INTERVAL = 3600.0
MAX_GRACE_PERIOD = 86400.0
MAX_TIME_SCALE = 100.0
"""``time_scale`` speeds waits up (``0.001``) or slows them down, at most a hundredfold."""


def is_finite_number(value: object) -> bool:
    """An int or float (not a bool) that is neither NaN nor infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _span(value: float) -> str:
    shown = f"{value:,.0f}" if value == int(value) else f"{value:g}"
    for unit, length in (("year", 365 * 86400), ("day", 86400), ("hour", 3600)):
        if value >= length and value % length == 0:
            count = value / length
            return f"{shown} s ({count:g} {unit}{'' if count == 1 else 's'})"
    return f"{shown} s"


def number(
    value: object,
    what: str,
    *,
    minimum: float = 0.0,
    above: bool = False,
    maximum: float,
    unit: str = "",
    error: type[ConfigurationError] = ConfigurationError,
    hint: str = "",
) -> float:
    """``value`` as a float, or ``error`` saying ``what`` must lie in the range.

    ``above``: the minimum itself is not allowed (``> minimum`` instead of ``>= minimum``).
    NaN, infinity and bools are refused whatever the range."""
    if is_finite_number(value):
        result = float(value)  # type: ignore[arg-type]
        if (result > minimum if above else result >= minimum) and result <= maximum:
            return result
    low = f"> {minimum:g}" if above else f">= {minimum:g}"
    top = _span(maximum) if unit == " of seconds" else f"{maximum:g}"
    raise error(f"{what} must be a number{unit} {low} and at most {top}, got {value!r}.{hint}")


def seconds(
    value: object,
    what: str,
    *,
    minimum: float = 0.0,
    above: bool = False,
    maximum: float = MAX_DELAY_SECONDS,
    error: type[ConfigurationError] = ConfigurationError,
    hint: str = "",
) -> float:
    """``number`` for a duration in seconds (at most ten years unless told otherwise)."""
    return number(
        value,
        what,
        minimum=minimum,
        above=above,
        maximum=maximum,
        unit=" of seconds",
        error=error,
        hint=hint,
    )


def size(
    value: object,
    what: str,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    unit: str = "",
    error: type[ConfigurationError] = ConfigurationError,
) -> int:
    """``value`` as an int in ``[minimum, maximum]``, or ``error`` naming ``what``."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= minimum
        and (maximum is None or value <= maximum)
    ):
        return value
    top = f" and at most {maximum:,}" if maximum is not None else ""
    raise error(f"{what} must be an int{unit} >= {minimum}{top}, got {value!r}.")


T = TypeVar("T")


def env_number(name: str, parse: Callable[[str], T], check: Callable[[Any, str], T]) -> T | None:
    """The environment variable ``name`` parsed and checked, or None when unset or empty.

    ``check(value, what)`` raises ``ConfigurationError`` naming ``what`` (the variable), so a
    bad value says which variable to fix.
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = parse(raw.strip())
    except ValueError:
        kind = "a whole number" if parse is int else "a number"
        raise ConfigurationError(
            f"The environment variable {name}={raw!r} is not {kind}; fix or unset it."
        ) from None
    return check(value, f"The environment variable {name} (={raw!r})")


def surrogate_in(value: str) -> int | None:
    """The index of the first lone surrogate in ``value`` (text that cannot be UTF-8), or None.

    Pure-ASCII text is answered without a scan (CPython knows it); other text costs one
    encode, which runs at C speed.
    """
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def printable(value: str) -> str:
    """Text for people (an error message, a stack, a log line) made storable: each lone
    surrogate is written as its escape (``\\udcff``), so nothing is lost and nothing fails."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def text(value: object, what: str, *, allow_empty: bool = True) -> str:
    """``value`` if it is a string that can be stored (UTF-8), else a ``ConfigurationError``."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}: {value!r}.")
    if not allow_empty and not value.strip():
        raise ConfigurationError(f"{what} must not be empty.")
    at = surrogate_in(value)
    if at is not None:
        raise ConfigurationError(
            f"{what} holds a lone surrogate ({value[at]!r} at position {at}), which is not text "
            "and cannot be stored. It usually comes from decoding bytes with "
            "errors='surrogateescape'; decode them with errors='replace' instead."
        )
    return value


def on_error(value: object, where: str) -> None:
    """``on_error`` must be callable: checked at the call, not when a task first fails (an
    integration that wraps the caller's ``on_error`` checks it before wrapping)."""
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"{where}: on_error must be a function (error, task) returning None, an exception, "
            f"runio.RetryAt(...) or runio.SKIP_RETRYING; got {type(value).__name__}: {value!r}."
        )


EVENT_FIELDS = frozenset({"name", "payload", "id", "deliver_at", "delay"})
"""What an item of ``send_events`` may hold."""


def event_item(item: object, where: str) -> None:
    """An item of ``send_events`` (``client.send_events``, ``io.send_events``): a mapping
    with a ``name`` and no keys beyond ``EVENT_FIELDS``, each checked as ``send_event`` checks
    its arguments (checked before anything is stored)."""
    if not isinstance(item, Mapping):
        raise ConfigurationError(
            f"{where} must be a mapping with 'name' and optionally 'payload', 'id', "
            f"'deliver_at', 'delay'; got {type(item).__name__}. Nothing was stored."
        )
    unknown = set(item) - EVENT_FIELDS
    if unknown or "name" not in item:
        problem = (
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}" if unknown else "no 'name'"
        )
        raise ConfigurationError(
            f"{where} has {problem}; an item holds 'name' and optionally 'payload', 'id', "
            "'deliver_at', 'delay'. Nothing was stored."
        )
    event_options(item["name"], item.get("id"), item.get("deliver_at"), item.get("delay"))


def event_options(name: object, id: object, deliver_at: object, delay: object) -> float | None:
    """The arguments of ``send_event`` besides the payload, checked; the delay in seconds."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"An event needs a non-empty name, got {name!r}.")
    text(name, "The event name")
    if id is not None and (not isinstance(id, str) or not id):
        raise ConfigurationError(f"An event id must be a non-empty string, got {id!r}.")
    if id is not None:
        text(id, "The event id")
    if deliver_at is not None and (
        not isinstance(deliver_at, datetime) or deliver_at.tzinfo is None
    ):
        raise ConfigurationError(
            "deliver_at must be a timezone-aware datetime, e.g. datetime.now(UTC) + "
            f"timedelta(minutes=5); got {deliver_at!r}."
        )
    if delay is None:
        return None
    if deliver_at is not None:
        raise ConfigurationError(f"Event {name!r}: give deliver_at or delay, not both.")
    return seconds(
        delay.total_seconds() if isinstance(delay, timedelta) else delay,
        f"Event {name!r}: delay",
        hint=" Give seconds (a number) or a timedelta.",
    )
