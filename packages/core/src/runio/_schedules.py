"""Schedules: ``cron_trigger`` and ``interval_trigger``, and the scheduler every worker runs.

Exactly one run per tick, however many workers race: each tick becomes an event whose id is
derived from the job and the tick's time (``schedule:<job id>:<UTC time>``), and storing an
event is idempotent on its id, so the second worker to fire a tick stores nothing. Nothing else
is shared between workers: where a schedule stands is derived from what the store already holds
(the newest runs of the job, each carrying its tick in its payload, and for a schedule that has
never fired, a marker event stored the first time a worker saw it, with no run).

Ticks are computed by croniter (cron expressions, in the schedule's time zone, DST included) or
are whole multiples of the interval since the Unix epoch, so every worker agrees on them.

This module decides which ticks are due and fires them through the app's ``send_event``; it does
not claim or execute runs (the worker does) and writes nothing but events.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import BaseModel

from ._records import Event
from .errors import JobDefinitionError
from .storage import Store

log = logging.getLogger("runio.schedules")

EVENT_PREFIX = "schedule:"
"""Event names starting with this belong to schedules (``schedule:<job id>``)."""

DEFAULT_MAX_CATCH_UP = 10
MAX_CATCH_UP = 1000
MAX_INTERVAL_SECONDS = 366 * 86400
_HISTORY = 20  # newest runs read to find the last fired tick
_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

Missed = Literal["skip", "catch_up"]


class ScheduledTick(BaseModel):
    """The payload of a scheduled job's run: which tick of its schedule it is for."""

    schedule: str
    """The schedule, as ``runio schedules`` shows it: ``cron 0 9 * * 1-5 (Europe/Paris)``."""
    scheduled_at: datetime
    """The tick, in the schedule's time zone (UTC for intervals)."""
    timestamp: float
    """The same instant in seconds since the Unix epoch."""


@dataclass(frozen=True, kw_only=True)
class ScheduleTrigger:
    """What ``cron_trigger`` and ``interval_trigger`` have in common."""

    missed: Missed = "skip"
    """What a worker does with ticks that passed while no worker ran: ``"skip"`` fires only the
    latest one; ``"catch_up"`` fires up to ``max_catch_up`` of the latest, oldest first."""
    max_catch_up: int = 1
    """How many past ticks one pass fires at most (1 for ``"skip"``)."""
    name: str = ""
    """The event name of its ticks, ``schedule:<job id>`` (set when the job is defined)."""

    schema: ClassVar[type[BaseModel]] = ScheduledTick
    filter: ClassVar[None] = None

    def matches(self, payload: Any) -> bool:
        return True

    def for_job(self, job_id: str) -> ScheduleTrigger:
        return replace(self, name=EVENT_PREFIX + job_id)

    # -- what a schedule must say ---------------------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def local_time(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, UTC)

    def latest(self, now: float, *, after: float, count: int) -> list[float]:
        """Up to ``count`` ticks in ``(after, now]``, the latest ones, oldest first."""
        raise NotImplementedError

    def next_after(self, now: float) -> float:
        """The first tick after ``now``."""
        raise NotImplementedError

    def next_times(self, now: float, count: int) -> list[datetime]:
        """The next ``count`` ticks after ``now``, in the schedule's time zone."""
        out: list[datetime] = []
        at = now
        for _ in range(count):
            at = self.next_after(at)
            out.append(self.local_time(at))
        return out

    def payload(self, tick: float) -> dict[str, Any]:
        return {
            "schedule": self.describe(),
            "scheduled_at": self.local_time(tick).isoformat(),
            "timestamp": tick,
        }


@dataclass(frozen=True, kw_only=True)
class CronTrigger(ScheduleTrigger):
    """Runs the job at the times a cron expression names, in ``timezone``."""

    expression: str
    """Five fields (minute hour day-of-month month day-of-week) or an alias such as ``@daily``."""
    timezone: str = "UTC"
    """An IANA time zone name, e.g. ``"Europe/Paris"``: ``0 9 * * *`` is 09:00 there, all year."""
    _zone: ZoneInfo = field(default=ZoneInfo("UTC"), repr=False, compare=False)

    def describe(self) -> str:
        return f"cron {self.expression} ({self.timezone})"

    def local_time(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self._zone)

    def latest(self, now: float, *, after: float, count: int) -> list[float]:
        # croniter's get_prev excludes its start, so start just past now to include a tick at now.
        it = croniter(self.expression, self.local_time(now) + timedelta(seconds=1))
        ticks: list[float] = []
        while len(ticks) < count:
            tick = float(it.get_prev(datetime).timestamp())
            if tick > now:
                continue
            if tick <= after:
                break
            ticks.append(tick)
        return ticks[::-1]

    def next_after(self, now: float) -> float:
        return float(croniter(self.expression, self.local_time(now)).get_next(datetime).timestamp())


@dataclass(frozen=True, kw_only=True)
class IntervalTrigger(ScheduleTrigger):
    """Runs the job every ``seconds``, at whole multiples of it since the Unix epoch (UTC)."""

    seconds: int

    def describe(self) -> str:
        return f"every {self.seconds} s"

    def latest(self, now: float, *, after: float, count: int) -> list[float]:
        last = math.floor(now / self.seconds)
        first = max(last - count + 1, math.floor(after / self.seconds) + 1)
        return [float(k * self.seconds) for k in range(first, last + 1)]

    def next_after(self, now: float) -> float:
        return float((math.floor(now / self.seconds) + 1) * self.seconds)


def _policy(missed: object, max_catch_up: object, what: str) -> tuple[Missed, int]:
    if missed not in ("skip", "catch_up"):
        raise JobDefinitionError(
            f"{what}: missed must be 'skip' (fire only the latest missed tick) or 'catch_up' "
            f"(fire up to max_catch_up of them), got {missed!r}."
        )
    if missed == "skip":
        if max_catch_up is not None:
            raise JobDefinitionError(
                f"{what}: max_catch_up bounds missed='catch_up'; with missed='skip' only the "
                "latest tick fires. Remove max_catch_up, or set missed='catch_up'."
            )
        return "skip", 1
    if max_catch_up is None:
        return "catch_up", DEFAULT_MAX_CATCH_UP
    if (
        isinstance(max_catch_up, bool)
        or not isinstance(max_catch_up, int)
        or not 1 <= max_catch_up <= MAX_CATCH_UP
    ):
        raise JobDefinitionError(
            f"{what}: max_catch_up must be a whole number from 1 to {MAX_CATCH_UP} (how many "
            f"missed ticks one worker pass fires at most), got {max_catch_up!r}."
        )
    return "catch_up", max_catch_up


def cron_trigger(
    expression: str,
    *,
    timezone: str = "UTC",
    missed: Missed = "skip",
    max_catch_up: int | None = None,
) -> CronTrigger:
    """Trigger a job on a cron schedule, e.g. ``cron_trigger("0 9 * * 1-5",
    timezone="Europe/Paris")`` for 09:00 Paris time on weekdays.

    Each tick starts exactly one run, however many workers run. ``missed``: what happens to
    ticks that passed while no worker ran (``"skip"``: only the latest fires; ``"catch_up"``:
    up to ``max_catch_up`` of the latest fire, oldest first; default 10).
    """
    what = f"cron_trigger({expression!r})"
    if not isinstance(expression, str) or not expression.strip():
        raise JobDefinitionError(
            "cron_trigger needs a cron expression such as '0 9 * * 1-5' (09:00 on weekdays)."
        )
    expression = " ".join(expression.split())
    fields = expression.split(" ")
    alias = expression.lower() in _ALIASES
    if not alias and (len(fields) != 5 or not croniter.is_valid(expression)):
        raise JobDefinitionError(
            f"{what} is not a cron expression runio understands: give five fields (minute hour "
            "day-of-month month day-of-week), e.g. '0 9 * * 1-5' for 09:00 on weekdays or "
            f"'*/15 * * * *' for every 15 minutes, or one of {', '.join(_ALIASES)}."
        )
    if not isinstance(timezone, str):
        raise JobDefinitionError(f"{what}: timezone must be an IANA name like 'Europe/Paris'.")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise JobDefinitionError(
            f"{what}: unknown time zone {timezone!r}; use an IANA name such as 'UTC', "
            "'Europe/Paris' or 'America/New_York'."
        ) from None
    policy, bound = _policy(missed, max_catch_up, what)
    return CronTrigger(
        expression=expression, timezone=timezone, _zone=zone, missed=policy, max_catch_up=bound
    )


def interval_trigger(
    *,
    seconds: int,
    missed: Missed = "skip",
    max_catch_up: int | None = None,
) -> IntervalTrigger:
    """Trigger a job every ``seconds`` (a whole number, at least 1), at whole multiples of it
    since the Unix epoch: ``seconds=3600`` fires on the hour (UTC), ``seconds=86400`` at UTC
    midnight. ``missed`` and ``max_catch_up`` as for ``cron_trigger``."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds != int(seconds)
        or not 1 <= seconds <= MAX_INTERVAL_SECONDS
    ):
        raise JobDefinitionError(
            f"interval_trigger(seconds=...) must be a whole number of seconds from 1 to "
            f"{MAX_INTERVAL_SECONDS:,} (366 days), got {seconds!r}; for calendar times such as "
            "'every weekday at 09:00' use cron_trigger."
        )
    policy, bound = _policy(missed, max_catch_up, f"interval_trigger(seconds={seconds!r})")
    return IntervalTrigger(seconds=int(seconds), missed=policy, max_catch_up=bound)


def tick_event_id(job_id: str, tick: float) -> str:
    """The id of the event for one tick: the same in every worker, so a tick fires once."""
    return f"{EVENT_PREFIX}{job_id}:{datetime.fromtimestamp(tick, UTC):%Y-%m-%dT%H:%M:%SZ}"


def _since_event_id(job_id: str) -> str:
    return f"{EVENT_PREFIX}{job_id}:since"


class Scheduler:
    """One worker's view of its app's schedules: fires the ticks that are due on each pass."""

    def __init__(
        self,
        *,
        app_id: str,
        jobs: Mapping[str, Any],
        store: Store,
        send_event: Callable[..., Awaitable[Event]],
    ) -> None:
        self.app_id = app_id
        self.store = store
        self.send_event = send_event
        self.triggers: dict[str, ScheduleTrigger] = {
            job_id: job.trigger
            for job_id, job in jobs.items()
            if isinstance(job.trigger, ScheduleTrigger)
        }
        self.last: dict[str, float] = {}
        self.next_at: float | None = None
        """When the next tick of any schedule is due (None: the app has no schedules)."""

    async def load(self, now: float) -> None:
        """Find where each schedule stands, from the store: its last fired tick, else when a
        worker first saw it."""
        for job_id, trigger in self.triggers.items():
            self.last[job_id] = await last_fired(self.store, self.app_id, job_id, trigger, now=now)
        self.next_at = now if self.triggers else None

    async def fire_due(self, now: float) -> None:
        """Fire every tick that is due at ``now`` (a no-op until ``next_at``)."""
        if self.next_at is None or now < self.next_at:
            return
        next_at: float | None = None
        for job_id, trigger in self.triggers.items():
            try:
                due_ticks = trigger.latest(now, after=self.last[job_id], count=trigger.max_catch_up)
                for tick in due_ticks:
                    await self.send_event(
                        trigger.name, trigger.payload(tick), id=tick_event_id(job_id, tick)
                    )
                    self.last[job_id] = tick
                due = trigger.next_after(now)
            except Exception:
                # Firing again is harmless (the tick's event id makes it a no-op), so look again
                # soon rather than lose the tick.
                log.exception("schedule of job %s: could not fire its due ticks; retrying", job_id)
                due = now + 1.0
            next_at = due if next_at is None else min(next_at, due)
        self.next_at = next_at


async def last_tick(store: Store, app_id: str, job_id: str) -> float | None:
    """The latest tick of this job's schedule that fired, found in its newest runs (a run
    replayed many times since can hide it: firing a tick again is a no-op, so that is safe)."""
    ticks: Sequence[float] = [
        float(run.payload["timestamp"])
        for run in await store.list_runs(app_id=app_id, job_id=job_id, limit=_HISTORY)
        if isinstance(run.payload, dict)
        and isinstance(run.payload.get("timestamp"), int | float)
        and run.event_id == tick_event_id(job_id, float(run.payload["timestamp"]))
    ]
    return max(ticks) if ticks else None


async def last_fired(
    store: Store, app_id: str, job_id: str, trigger: ScheduleTrigger, *, now: float
) -> float:
    """The latest tick of this job's schedule that fired; for a schedule that never fired, the
    time a worker first saw it (recorded once, as an event with no run)."""
    tick = await last_tick(store, app_id, job_id)
    if tick is not None:
        return tick
    since = Event(
        id=_since_event_id(job_id),
        app_id=app_id,
        name=trigger.name,
        payload={
            "schedule": trigger.describe(),
            "since": datetime.fromtimestamp(now, UTC).isoformat(),
        },
        timestamp=now,
        deliver_at=None,
    )
    stored, _ = await store.create_event(since, [], now)
    return stored.timestamp
