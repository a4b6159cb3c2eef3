"""Retry options, the two presets, and the delay formula.

The delay before attempt ``n + 1`` (after attempt ``n`` failed) is::

    min(max_timeout, R * min_timeout * factor ** (n - 1))

where ``R`` is drawn uniformly from ``[1, 2)`` when ``randomize`` is true and is ``1`` otherwise,
rounded to the millisecond. ``limit`` counts every attempt, the first included.
"""

from __future__ import annotations

import dataclasses
import random as _random
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ._validate import MAX_DELAY_SECONDS, is_finite_number
from .errors import InvalidRetryOptionsError

__all__ = [
    "RETRY_AT_LIMIT",
    "SKIP_RETRYING",
    "RetryAt",
    "RetryOptions",
    "SkipRetrying",
    "exponential_backoff",
    "standard_backoff",
]


@dataclass(frozen=True, kw_only=True)
class RetryOptions:
    """How often, and how far apart, a failing task is attempted again."""

    limit: int = 5
    """Attempts in all, the first one included. ``1`` means never retry."""
    factor: float = 1.8
    """Each delay is this many times the one before."""
    min_timeout: float = 1.0
    """Seconds before the first retry (before jitter)."""
    max_timeout: float = 60.0
    """No delay is ever longer than this many seconds."""
    randomize: bool = True
    """Multiply each delay by a random factor in ``[1, 2)`` so retries of many runs spread out."""

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1:
            problems.append(f"limit must be an int >= 1 (attempts in all), got {self.limit!r}")
        if not _is_number(self.factor) or self.factor < 1:
            problems.append(f"factor must be a finite number >= 1, got {self.factor!r}")
        if not _is_number(self.min_timeout) or not 0 <= self.min_timeout <= MAX_DELAY_SECONDS:
            problems.append(
                f"min_timeout must be seconds >= 0 and at most {MAX_DELAY_SECONDS:,} (10 years), "
                f"got "
                f"{self.min_timeout!r}"
            )
        if not _is_number(self.max_timeout) or not 0 <= self.max_timeout <= MAX_DELAY_SECONDS:
            problems.append(
                f"max_timeout must be seconds >= 0 and at most {MAX_DELAY_SECONDS:,} (10 years), "
                f"got "
                f"{self.max_timeout!r}"
            )
        elif _is_number(self.min_timeout) and self.max_timeout < self.min_timeout:
            problems.append(
                f"max_timeout ({self.max_timeout!r}) must not be below min_timeout "
                f"({self.min_timeout!r})"
            )
        if problems:
            raise InvalidRetryOptionsError(
                "Invalid RetryOptions: " + "; ".join(problems) + ". Timeouts are in seconds."
            )

    def delay_after(self, attempt: int, *, rng: _random.Random | None = None) -> float | None:
        """Seconds to wait after ``attempt`` failed, or None when no attempt is left; never more
        than ``max_timeout``, however large ``factor`` and ``attempt`` are."""
        if attempt >= self.limit:
            return None
        jitter = (rng or _random).uniform(1.0, 2.0) if self.randomize else 1.0
        try:
            base = self.min_timeout * float(self.factor) ** max(attempt - 1, 0)
        except OverflowError:  # factor ** n past the largest float: max_timeout long since
            return float(self.max_timeout)
        return round(min(self.max_timeout, base * jitter), 3)

    def replace(self, **changes: object) -> RetryOptions:
        """A copy with some fields changed, e.g. ``standard_backoff.replace(limit=3)``."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _is_number(value: object) -> bool:
    return is_finite_number(value)


standard_backoff: Final = RetryOptions(
    limit=8, factor=1.8, min_timeout=0.5, max_timeout=30.0, randomize=True
)
"""8 attempts, ×1.8 from 0.5 s up to 30 s, with jitter: the default for integration tasks."""

exponential_backoff: Final = RetryOptions(
    limit=8, factor=2.0, min_timeout=1.0, max_timeout=30.0, randomize=True
)
"""8 attempts, doubling from 1 s up to 30 s, with jitter."""


RETRY_AT_LIMIT: Final = 100
"""The default ceiling of ``RetryAt``: a task retried at a given time (by ``on_error`` or by an
integration, e.g. a vendor that keeps rate-limiting) makes at most this many attempts."""


@dataclass(frozen=True)
class RetryAt:
    """Returned from ``on_error``: attempt again at this time, whatever the retry limit says.

    ``when`` is an aware ``datetime`` or a number of seconds from now (at most ten years).
    ``limit`` is the ceiling: once the task has made that many attempts (the first included,
    counted since the run was last retried), it fails with its error instead (default
    ``RETRY_AT_LIMIT``). Integrations retry at the vendor's time ("Retry-After") the same way,
    under the same ceiling.
    """

    when: datetime | float
    limit: int = dataclasses.field(default=RETRY_AT_LIMIT, kw_only=True)
    """Attempts in all, the first one included, after which the task fails instead."""

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1:
            raise InvalidRetryOptionsError(
                f"RetryAt(limit=...) must be an int >= 1 (attempts in all), got {self.limit!r}"
            )
        if isinstance(self.when, datetime):
            if self.when.tzinfo is None:
                raise InvalidRetryOptionsError(
                    "RetryAt needs a timezone-aware datetime (e.g. datetime.now(UTC) + "
                    "timedelta(minutes=1)) or a number of seconds from now."
                )
        elif not _is_number(self.when) or not 0 <= self.when <= MAX_DELAY_SECONDS:
            raise InvalidRetryOptionsError(
                f"RetryAt(when) must be an aware datetime or seconds >= 0 and at most "
                f"{MAX_DELAY_SECONDS:,} (10 years), got {self.when!r}."
            )

    def timestamp(self, now: float) -> float:
        if isinstance(self.when, datetime):
            return self.when.timestamp()
        return now + float(self.when)


class SkipRetrying:
    """Type of ``SKIP_RETRYING``: returned from ``on_error`` to fail the task now."""

    _instance: SkipRetrying | None = None

    def __new__(cls) -> SkipRetrying:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "runio.SKIP_RETRYING"


SKIP_RETRYING: Final = SkipRetrying()
