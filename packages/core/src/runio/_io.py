"""``IO``: what a job function uses to run tasks, wait, log and send events.

``IO`` is for ``async def`` jobs; ``SyncIO`` (also ``io.sync``) offers the same calls, blocking,
for plain ``def`` jobs and for synchronous task functions that start subtasks. Both are thin:
the semantics live in ``_execution.py``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from . import _validate
from ._execution import Execution, Frame, current_frame
from ._task import Task, TaskOptions
from .errors import ConfigurationError
from .retry import RetryOptions

if TYPE_CHECKING:
    from typing import Unpack

    from .integrations import Integration

T = TypeVar("T")
I = TypeVar("I", bound="Integration[Any]")  # noqa: E741 - an integration's type


class Resolver(Protocol):
    """How ``io`` reaches integrations (``io.<name>``, ``io.use(...)``): given by the worker,
    so this module knows nothing of the integration kit."""

    def attribute(self, io: IO, name: str) -> Any: ...

    def use(self, io: IO, target: Any) -> Any: ...

    def blocking(self, value: Any, sync_io: SyncIO) -> Any: ...


class _NoIntegrations:
    def attribute(self, io: IO, name: str) -> Any:
        raise AttributeError(f"io has no attribute {name!r}, and this io resolves no integrations.")

    def use(self, io: IO, target: Any) -> Any:
        raise ConfigurationError("This io resolves no integrations.")

    def blocking(self, value: Any, sync_io: SyncIO) -> Any:
        return value


def _parent(execution: Execution) -> Frame | None:
    frame = current_frame.get()
    return frame if frame is not None and frame.execution is execution else None


class Logger:
    """``io.logger``: log lines stored with the run, once per run however often it replays."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    def _log(self, level: str, message: str, data: dict[str, Any]) -> None:
        ex = self._execution
        ex.log(level, message, data, _parent(ex))

    def debug(self, message: str, **data: Any) -> None:
        self._log("debug", message, data)

    def info(self, message: str, **data: Any) -> None:
        self._log("info", message, data)

    def warn(self, message: str, **data: Any) -> None:
        self._log("warn", message, data)

    warning = warn

    def error(self, message: str, **data: Any) -> None:
        self._log("error", message, data)


class IO:
    """Passed to every job function. Each call with a cache key is recorded as a task."""

    def __init__(self, execution: Execution, resolver: Resolver | None = None) -> None:
        self._execution = execution
        self.logger = Logger(execution)
        self._resolver: Resolver = resolver or _NoIntegrations()
        self._sync: SyncIO | None = None

    @overload
    async def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], Awaitable[T]],
        *,
        output_type: None = ...,
        **options: Unpack[TaskOptions],
    ) -> T: ...

    @overload
    async def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], T],
        *,
        output_type: None = ...,
        **options: Unpack[TaskOptions],
    ) -> T: ...

    @overload
    async def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], Any],
        *,
        output_type: type[T],
        **options: Unpack[TaskOptions],
    ) -> T: ...

    async def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], Any],
        *,
        output_type: Any = None,
        **options: Unpack[TaskOptions],
    ) -> Any:
        """Run ``fn(task)`` once per run: its result is stored and returned on every replay.

        ``cache_key`` names the task within its parent (a string, or a sequence of JSON
        scalars). ``fn`` may be sync (run in a thread) or async. ``retry`` retries failures with
        durable delays; ``on_error(error, task)`` may return a replacement error,
        ``runio.RetryAt`` or ``runio.SKIP_RETRYING``. ``timeout`` limits each attempt (seconds).
        ``output_type`` parses the stored JSON back into a type. ``name``, ``icon``,
        ``description``, ``display_key`` (shown instead of the cache key), ``properties``,
        ``params``, ``style`` and ``redact`` describe the task in the dashboard.
        """
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise ConfigurationError(
                f"io.run_task({cache_key!r}): unknown option(s) {', '.join(sorted(unknown))}; "
                f"the options are {', '.join(sorted(_OPTION_NAMES))} and output_type."
            )
        return await self._run_task(cache_key, fn, output_type=output_type, **options)

    async def _run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], Any],
        *,
        record_start: bool = False,
        scrub_output: Callable[[str], str] | None = None,
        output_type: Any = None,
        **options: Any,
    ) -> Any:
        """``run_task`` as the integration kit calls it: with ``record_start`` the attempt's
        start is in the database before ``fn`` runs (so a crash during a vendor call loses no
        attempt and ``task.outcome_unknown`` never misses one); ``scrub_output`` removes the
        integration's secrets from the encoded output."""
        _check_options(
            cache_key,
            options.get("retry"),
            options.get("timeout"),
            options.get("style"),
            options.get("redact"),
            on_error=options.get("on_error"),
            name=options.get("name"),
            icon=options.get("icon"),
        )
        _check_display(cache_key, options.get("description"), options.get("display_key"))
        ex = self._execution
        return await ex.run_task(
            cache_key,
            fn,
            parent=_parent(ex),
            record_start=record_start,
            scrub_output=scrub_output,
            output_type=output_type,
            **options,
        )

    async def wait(self, cache_key: str | Sequence[Any], seconds: float) -> None:
        """Pause the run durably for ``seconds`` (at most ten years); no memory or worker slot is
        held meanwhile."""
        _check_wait(cache_key, seconds)
        ex = self._execution
        await ex.wait(cache_key, seconds, parent=_parent(ex))

    async def wait_until(self, cache_key: str | Sequence[Any], when: datetime) -> None:
        """Pause the run durably until ``when`` (a timezone-aware datetime, at most ten years
        ahead)."""
        ex = self._execution
        _check_wait_until(cache_key, when, ex.clock.now())
        await ex.wait_until(cache_key, when.timestamp(), parent=_parent(ex))

    async def send_event(
        self,
        cache_key: str | Sequence[Any],
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Send an event from inside a run, exactly once (the event id derives from the task's
        idempotency key unless given). Returns ``{"id": ..., "run_ids": [...]}``."""
        ex = self._execution

        async def send(task: Task) -> dict[str, Any]:
            event = await ex.send_event_fn(
                name, payload, id=id or f"evt_{task.idempotency_key[:32]}", deliver_at=deliver_at
            )
            return {"id": event.id, "name": event.name, "run_ids": list(event.run_ids)}

        return await ex.run_task(  # type: ignore[no-any-return]
            cache_key,
            send,
            parent=_parent(ex),
            name=f"Send event {name}",
            icon="send",
            params={"name": name, "payload": payload},
            kind="event",
        )

    async def random(
        self,
        cache_key: str | Sequence[Any],
        *,
        min: float = 0.0,
        max: float = 1.0,
        round: bool = False,
    ) -> float:
        """A random number in ``[min, max)`` (an int in ``[min, max]`` with ``round=True``),
        drawn once and the same on every replay."""
        _check_random(cache_key, min, max)
        ex = self._execution

        def draw(task: Task) -> float:
            value = min + ex.random() * (max - min)
            return float(math.floor(value + 0.5)) if round else value

        result = await ex.run_task(
            cache_key,
            draw,
            parent=_parent(ex),
            name="Random",
            icon="dice",
            params={"min": min, "max": max, "round": round},
            kind="random",
        )
        return int(result) if round else float(result)

    @property
    def sync(self) -> SyncIO:
        """The same calls, blocking: for synchronous task functions that start subtasks."""
        if self._sync is None:
            self._sync = SyncIO(self, self._execution.loop)
        return self._sync

    @overload
    def use(self, integration: type[I]) -> I: ...

    @overload
    def use(self, integration: I) -> I: ...

    def use(self, integration: Any) -> Any:
        """An integration bound to this run, typed as the integration: its task wrappers are
        checked by mypy, names and argument types included::

            await io.use(stripe).create_customer("create-customer", email="ada@example.com")
            await io.use(Stripe).create_customer(...)   # the job's Stripe, else the default

        ``io.use(instance)`` binds that instance; ``io.use(Class)`` the instance of that class
        the job declared, else a default instance configured from the environment. The same
        object as ``io.<namespace>``, which is untyped shorthand."""
        return self._resolver.use(self, integration)

    def __getattr__(self, name: str) -> Any:
        """``io.<name>``: the integration the job declared under ``name``, else the default
        instance of an installed, configured plugin's integration with that namespace;
        resolved once per execution."""
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._resolver.attribute(self, name)
        self.__dict__[name] = value
        return value


class SyncIO:
    """``IO`` for synchronous code: each call blocks its thread until the task is done."""

    def __init__(self, io: IO, loop: asyncio.AbstractEventLoop) -> None:
        self._io = io
        self._loop = loop
        self.logger = io.logger

    def _call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise ConfigurationError(
                "io.sync is for synchronous code running in a worker thread; in async code "
                "use `await io.run_task(...)` instead."
            )
        frame = current_frame.get()

        async def with_frame() -> T:
            token = current_frame.set(frame)
            try:
                return await make()
            finally:
                current_frame.reset(token)

        return asyncio.run_coroutine_threadsafe(with_frame(), self._loop).result()

    def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], T],
        *,
        output_type: Any = None,
        **options: Unpack[TaskOptions],
    ) -> T:
        """As ``IO.run_task``, blocking."""
        result: T = self._call(
            lambda: self._io.run_task(cache_key, fn, output_type=output_type, **options)
        )
        return result

    def use(self, integration: Any) -> Any:
        """As ``IO.use``; each call blocks until its task is done."""
        return self._io._resolver.blocking(self._io.use(integration), self)

    def wait(self, cache_key: str | Sequence[Any], seconds: float) -> None:
        self._call(lambda: self._io.wait(cache_key, seconds))

    def wait_until(self, cache_key: str | Sequence[Any], when: datetime) -> None:
        self._call(lambda: self._io.wait_until(cache_key, when))

    def send_event(
        self,
        cache_key: str | Sequence[Any],
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
    ) -> dict[str, Any]:
        return self._call(
            lambda: self._io.send_event(cache_key, name, payload, id=id, deliver_at=deliver_at)
        )

    def random(
        self,
        cache_key: str | Sequence[Any],
        *,
        min: float = 0.0,
        max: float = 1.0,
        round: bool = False,
    ) -> float:
        return self._call(lambda: self._io.random(cache_key, min=min, max=max, round=round))

    @property
    def sync(self) -> SyncIO:
        return self

    def __getattr__(self, name: str) -> Any:
        # io.<name> in sync code: an integration's calls block
        return self._io._resolver.blocking(getattr(self._io, name), self)


_STYLES = ("normal", "minimal")
_OPTION_NAMES = TaskOptions.__optional_keys__


def _check_options(
    cache_key: Any,
    retry: Any,
    timeout: Any,
    style: Any,
    redact: Any,
    *,
    on_error: Any = None,
    name: Any = None,
    icon: Any = None,
) -> None:
    """The options of one task call, checked at the call (cheap: no copies, no JSON)."""
    if on_error is not None:
        _validate.on_error(on_error, f"io.run_task({cache_key!r})")
    if name is not None:
        _validate.text(name, f"io.run_task({cache_key!r}): name")
    if icon is not None:
        _validate.text(icon, f"io.run_task({cache_key!r}): icon")
    if retry is not None and not isinstance(retry, RetryOptions):
        raise ConfigurationError(
            f"io.run_task({cache_key!r}): retry must be runio.RetryOptions(...) or a preset such "
            f"as runio.retry.standard_backoff, got {retry!r}."
        )
    if timeout is not None:
        _validate.seconds(timeout, f"io.run_task({cache_key!r}): timeout", above=True)
    if style is not None and style not in _STYLES:
        raise ConfigurationError(
            f"io.run_task({cache_key!r}): style must be one of {_STYLES}, got {style!r}."
        )
    if redact is not None and (
        isinstance(redact, str) or not all(isinstance(p, str) for p in redact)
    ):
        raise ConfigurationError(
            f"io.run_task({cache_key!r}): redact must be a list of output paths such as "
            f"['card.number'], got {redact!r}."
        )


def _check_display(cache_key: Any, description: Any, display_key: Any) -> None:
    """``description`` and ``display_key``: text shown in the task tree."""
    if description is not None:
        _validate.text(description, f"io.run_task({cache_key!r}): description")
    if display_key is not None:
        _validate.text(display_key, f"io.run_task({cache_key!r}): display_key", allow_empty=False)


def _check_wait(cache_key: Any, seconds: Any) -> None:
    _validate.seconds(seconds, f"io.wait({cache_key!r}, seconds): seconds")


def _check_wait_until(cache_key: Any, when: Any, now: float) -> None:
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ConfigurationError(
            f"io.wait_until({cache_key!r}, when): when must be a timezone-aware datetime, "
            f"e.g. datetime.now(UTC) + timedelta(hours=1); got {when!r}."
        )
    if when.timestamp() - now > _validate.MAX_DELAY_SECONDS:
        raise ConfigurationError(
            f"io.wait_until({cache_key!r}, when): {when.isoformat()} is more than ten years "
            "ahead; a run may wait at most ten years."
        )


def _check_random(cache_key: Any, low: Any, high: Any) -> None:
    for label, value in (("min", low), ("max", high)):
        if not _validate.is_finite_number(value):
            raise ConfigurationError(
                f"io.random({cache_key!r}): {label} must be a finite number, got {value!r}."
            )
    if low > high:
        raise ConfigurationError(f"io.random({cache_key!r}): min ({low}) is above max ({high}).")
    if not math.isfinite(high - low):
        raise ConfigurationError(
            f"io.random({cache_key!r}): the range from {low} to {high} is wider than a float holds."
        )
