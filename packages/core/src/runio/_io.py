"""``IO``: what a job function uses to run tasks, wait, log and send events.

``IO`` is for ``async def`` jobs; ``SyncIO`` (also ``io.sync``) offers the same calls, blocking,
for plain ``def`` jobs and for synchronous task functions that start subtasks. Both are thin:
the semantics live in ``_execution.py``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from pydantic import BaseModel, ValidationError

from . import _event_filter, _json, _validate
from ._execution import NOT_STORED, EventOps, Execution, Frame, current_frame
from ._kv import KeyValueStore, SyncKeyValueStore
from ._records import Event
from ._task import Task, TaskOptions
from ._task_threads import LoopWait
from .errors import (
    ConfigurationError,
    EventDeliveredError,
    InvalidPayloadError,
)
from .retry import RetryOptions

if TYPE_CHECKING:
    from typing import Unpack

    from .integrations import Integration

T = TypeVar("T")

DEFAULT_EVENT_TIMEOUT = 3600.0
"""How long ``io.wait_for_event`` waits unless told: one hour."""
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
        self._store: KeyValueStore | None = None
        self._namespaces: dict[str, Any] = {}
        """The integrations bound to this execution so far, by key (``io.use``, ``io.<key>``)."""

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
        if not options:  # the common call, and every replay: nothing to check
            ex = self._execution
            parent = _parent(ex)
            value = ex.replay(cache_key, fn, parent, output_type)
            if value is not NOT_STORED:
                return value
            return await ex.run_task(cache_key, fn, parent=parent, output_type=output_type)
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
        """``run_task`` as ``io.<name>.run_task`` calls it: with ``record_start`` the attempt's
        start is in the database before ``fn`` runs (so a crash during the vendor call loses no
        attempt and ``task.outcome_unknown`` never misses one); ``scrub_output`` removes the
        integration's secrets from the encoded output. (Wrapper calls go to the execution
        directly, ``IntegrationIO._call_task``.)"""
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
        delay_until = options.pop("delay_until", None)
        if delay_until is not None:
            _check_wait_until(cache_key, delay_until, ex.clock.now(), "io.run_task", "delay_until")
            options["delay_until"] = delay_until.timestamp()
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

    # -- waiting for events, sending several, delayed events, io.store -------------------------
    async def wait_for_event(
        self,
        cache_key: str | Sequence[Any],
        name: str,
        *,
        filter: Mapping[str, Any] | None = None,
        schema: type[BaseModel] | None = None,
        timeout: float = DEFAULT_EVENT_TIMEOUT,
    ) -> Event:
        """Pause the run durably until an event named ``name`` is sent after the wait began
        (matching ``filter``, written as for ``runio.event_trigger``), and return that event;
        its payload is parsed with ``schema`` if given. After ``timeout`` seconds (default one
        hour, at most ten years) with no such event, raise ``runio.errors.EventTimeoutError``.
        No memory or worker slot is held meanwhile."""
        _check_event_wait(cache_key, name, filter, schema, timeout)
        ex = self._execution
        text = await ex.wait_for_event(
            cache_key,
            name,
            None if filter is None else _json.encode(filter),
            float(timeout),
            parent=_parent(ex),
        )
        data = _json.decode(text)
        payload = data["payload"]
        if schema is not None:
            try:
                payload = schema.model_validate(payload)
            except ValidationError as exc:
                errors = [
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False)
                ]
                fields = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in errors
                )
                raise InvalidPayloadError(
                    f"io.wait_for_event({cache_key!r}): event {data['id']!r} ({name}) matched "
                    f"the wait but its payload does not fit {schema.__name__}: {fields}. Send "
                    "events with valid payloads, or narrow the wait with filter=.",
                    errors={str(cache_key): errors},
                ) from None
        return Event(
            id=data["id"],
            app_id=ex.claimed.app_id,
            name=data["name"],
            payload=payload,
            timestamp=data["timestamp"],
            deliver_at=data["deliver_at"],
            run_ids=list(data["run_ids"]),
        )

    async def send_events(
        self, cache_key: str | Sequence[Any], events: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Send several events at once, exactly once, in one transaction. Each item is a
        mapping with ``name`` and optionally ``payload``, ``id``, ``deliver_at``, ``delay``;
        an item without ``id`` gets one derived from the task's idempotency key. Returns
        ``[{"id": ..., "name": ..., "run_ids": [...]}, ...]``."""
        ex = self._execution
        ops = _event_ops(ex, "send_events")
        if isinstance(events, Mapping | str | bytes) or not isinstance(events, Sequence):
            raise ConfigurationError(
                f"io.send_events({cache_key!r}, events): events must be a list of mappings "
                f"such as [{{'name': 'new.user', 'payload': {{...}}}}], got "
                f"{type(events).__name__}."
            )
        items = list(events)
        for index, item in enumerate(items):
            _validate.event_item(item, f"io.send_events({cache_key!r}, events): item {index}")
        try:
            params = [
                _json.decode(
                    _json.encode(
                        {
                            k: v.total_seconds() if isinstance(v, timedelta) else v
                            for k, v in item.items()
                        }
                    )
                )
                for item in items
            ]
        except _json.NotJsonError as exc:
            raise ConfigurationError(
                f"io.send_events({cache_key!r}, events): a payload cannot be stored as JSON: "
                f"{exc}. Nothing was sent."
            ) from None

        async def send(task: Task) -> list[dict[str, Any]]:
            ready = [
                {**item, "id": item.get("id") or f"evt_{task.idempotency_key[:28]}_{i}"}
                for i, item in enumerate(items)
            ]
            sent = await ops.send_events_async(ready)
            return [{"id": e.id, "name": e.name, "run_ids": list(e.run_ids)} for e in sent]

        return await ex.run_task(  # type: ignore[no-any-return]
            cache_key,
            send,
            parent=_parent(ex),
            name=f"Send {len(items)} events",
            icon="send",
            params={"events": params},
            kind="event",
        )

    async def get_event(self, cache_key: str | Sequence[Any], id: str) -> Event:
        """The stored event with this id (``deliver_at``, ``canceled_at``, ``run_ids``), read
        once and the same on every replay."""
        ex = self._execution
        ops = _event_ops(ex, "get_event")

        async def read(task: Task) -> Event:
            return await ops.get_event_async(id)

        return await ex.run_task(  # type: ignore[no-any-return]
            cache_key,
            read,
            parent=_parent(ex),
            name=f"Get event {id}",
            icon="send",
            params={"id": id},
            kind="event",
            output_type=Event,
        )

    async def cancel_event(self, cache_key: str | Sequence[Any], id: str) -> Event:
        """Cancel a delayed event before its delivery time (see ``Client.cancel_event``);
        ``runio.errors.EventDeliveredError`` if it was already delivered. Returns the event."""
        ex = self._execution
        ops = _event_ops(ex, "cancel_event")

        async def cancel(task: Task) -> dict[str, Any]:
            try:
                return {"event": await ops.cancel_event_async(id), "refused": None}
            except EventDeliveredError as exc:
                return {"event": exc.event, "refused": str(exc)}

        result = await ex.run_task(
            cache_key,
            cancel,
            parent=_parent(ex),
            name=f"Cancel event {id}",
            icon="send",
            params={"id": id},
            kind="event",
        )
        event: Event = _json.parse_as(Event, result["event"])
        if result["refused"] is not None:  # the same on every replay
            raise EventDeliveredError(result["refused"], event=event)
        return event

    @property
    def store(self) -> KeyValueStore:
        """Durable key-value items: ``io.store.run``, ``io.store.job``, ``io.store.app``."""
        if self._store is None:
            ex = self._execution
            self._store = KeyValueStore(ex, lambda: _parent(ex))
        return self._store

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

    def _check_thread(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self._loop:
            raise ConfigurationError(
                "io.sync is for synchronous code running in a worker thread; in async code "
                "use `await io.run_task(...)` instead."
            )

    def _call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        self._check_thread()
        frame = current_frame.get()

        async def with_frame() -> T:
            token = current_frame.set(frame)
            try:
                return await make()
            finally:
                current_frame.reset(token)

        return LoopWait(self._io._execution.executor).run(self._loop, with_frame())

    def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[Task], T],
        *,
        output_type: Any = None,
        **options: Unpack[TaskOptions],
    ) -> T:
        """As ``IO.run_task``, blocking."""
        if not options:  # a task completed by an earlier execution replays in this thread
            self._check_thread()
            ex = self._io._execution
            value = ex.replay(cache_key, fn, _parent(ex), output_type, on_loop=False)
            if value is not NOT_STORED:
                return value  # type: ignore[no-any-return]
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

    def wait_for_event(
        self,
        cache_key: str | Sequence[Any],
        name: str,
        *,
        filter: Mapping[str, Any] | None = None,
        schema: type[BaseModel] | None = None,
        timeout: float = DEFAULT_EVENT_TIMEOUT,
    ) -> Event:
        """As ``IO.wait_for_event``, blocking."""
        return self._call(
            lambda: self._io.wait_for_event(
                cache_key, name, filter=filter, schema=schema, timeout=timeout
            )
        )

    def send_events(
        self, cache_key: str | Sequence[Any], events: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        return self._call(lambda: self._io.send_events(cache_key, events))

    def get_event(self, cache_key: str | Sequence[Any], id: str) -> Event:
        return self._call(lambda: self._io.get_event(cache_key, id))

    def cancel_event(self, cache_key: str | Sequence[Any], id: str) -> Event:
        return self._call(lambda: self._io.cancel_event(cache_key, id))

    @property
    def store(self) -> SyncKeyValueStore:
        """``io.store``, blocking."""
        return SyncKeyValueStore(self._io.store, self._call)

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


def _check_wait_until(
    cache_key: Any, when: Any, now: float, call: str = "io.wait_until", arg: str = "when"
) -> None:
    where = f"{call}({cache_key!r}, {arg})"
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ConfigurationError(
            f"{where}: {arg} must be a timezone-aware datetime, "
            f"e.g. datetime.now(UTC) + timedelta(hours=1); got {when!r}."
        )
    if when.timestamp() - now > _validate.MAX_DELAY_SECONDS:
        raise ConfigurationError(
            f"{where}: {when.isoformat()} is more than ten years "
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


def _event_ops(ex: Execution, what: str) -> EventOps:
    if ex.events is None:
        raise ConfigurationError(f"io.{what} needs the app's client; this io has none.")
    return ex.events


def _check_event_wait(cache_key: Any, name: Any, filter: Any, schema: Any, timeout: Any) -> None:
    where = f"io.wait_for_event({cache_key!r}, name)"
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(
            f"{where}: name must be a non-empty event name such as 'invoice.paid', got {name!r}."
        )
    _validate.text(name, f"{where}: name")
    if filter is not None:
        _event_filter.check(filter, name, ConfigurationError)
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise ConfigurationError(
            f"{where}: schema must be a pydantic BaseModel subclass, got {schema!r}."
        )
    _validate.seconds(timeout, f"{where}: timeout", above=True)
