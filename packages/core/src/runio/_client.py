"""``Client``: an app's jobs, its store, and the operations on runs (sync and async twins).

Every operation exists as ``name`` (blocking, usable from any thread, also inside a running
event loop) and ``name_async`` (a coroutine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import re
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, Unpack

from . import _json, _run_rules, _validate
from ._clock import Clock, SystemClock
from ._execution import Limits
from ._ids import new_id
from ._job import Job, JobDecorator, make_job
from ._logcapture import CaptureSetting, capture_level
from ._portal import Portal
from ._records import Event, JobRecord, NewRun, Run, RunStatus
from ._schedules import ScheduleTrigger
from ._triggers import EventTrigger
from ._worker import Worker, WorkerApp, WorkerOptions
from .errors import (
    ConfigurationError,
    EventDeliveredError,
    EventNotFoundError,
    InvalidPayloadError,
    JobDefinitionError,
    MigrationError,
    RunNotFoundError,
    StoreError,
    UnknownEventError,
)
from .integrations._resolve import ClientKit
from .integrations._runtime import runtime_of
from .integrations._webhooks import WebhookTrigger
from .plugins import PluginManager
from .retry import RetryOptions
from .storage import Store, create_store, database_url_from_env

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DEFAULT_MAX_OUTPUT_SIZE = 3 * 1024 * 1024
DEFAULT_MAX_PAYLOAD_SIZE = 3 * 1024 * 1024
DEFAULT_MAX_TASK_DEPTH = 32


def _time_scale(value: object, what: str) -> float:
    return _validate.number(
        value,
        what,
        above=True,
        maximum=_validate.MAX_TIME_SCALE,
        hint=" It multiplies every wait and retry delay: 0.001 turns an hour into 3.6 s.",
    )


def _payload_size(value: object, what: str) -> int:
    return _validate.size(value, what, unit=" of bytes")


class Client:
    """An app: its jobs, and the database their runs live in.

    ``id`` namespaces the app's jobs, so several apps can share one database. The database is
    ``database_url``, else ``RUNIO_DATABASE_URL``, else SQLite at ``./.runio/runio.db``.
    """

    def __init__(
        self,
        id: str,
        *,
        database_url: str | None = None,
        store: Store | None = None,
        clock: Clock | None = None,
        default_retry: RetryOptions | None = None,
        max_output_size: int = DEFAULT_MAX_OUTPUT_SIZE,
        max_payload_size: int | None = None,
        max_task_depth: int = DEFAULT_MAX_TASK_DEPTH,
        time_scale: float | None = None,
        auto_migrate: bool = True,
        plugins: PluginManager | None = None,
        capture_logging: CaptureSetting = None,
    ) -> None:
        """
        ``default_retry``: retry options for every ``io.run_task`` that gives none.
        ``max_output_size``: bytes of JSON a task or job may return (default 3 MB).
        ``max_payload_size``: bytes of JSON an event payload may hold (default
        ``RUNIO_MAX_PAYLOAD_SIZE`` or 3 MB); ``send_event`` refuses a larger one, storing nothing.
        ``max_task_depth``: how deep subtasks may nest (default 32).
        ``time_scale``: multiply every wait and retry delay, ``RetryAt`` included (default
        ``RUNIO_TIME_SCALE`` or 1; event ``deliver_at`` and ``max_duration`` are not scaled);
        for demos and local development, e.g. ``0.001`` turns three hours into eleven seconds.
        A number > 0 and at most 100.
        ``auto_migrate``: bring the database schema up to date on first use (else run
        ``runio db upgrade`` and keep it off in production deploys that migrate separately).
        ``plugins``: a plugin manager from ``runio.plugins.create_plugin_manager(...)`` (for
        tests); by default one is built from the installed plugins on first use.
        ``capture_logging``: store standard ``logging`` records emitted inside runs in the run's
        logs, like ``io.logger`` lines: ``True`` (INFO and above) or a level such as
        ``logging.DEBUG``; off by default. A job's own ``capture_logging=`` wins.
        """
        if not isinstance(id, str) or not _APP_ID.match(id):
            raise ConfigurationError(
                f"Client id {id!r} is not usable: use 1-128 letters, digits, '.', '_' or '-' "
                "(e.g. 'my-app')."
            )
        if store is not None and database_url is not None:
            raise ConfigurationError("Give the Client a database_url or a store, not both.")
        if default_retry is not None and not isinstance(default_retry, RetryOptions):
            raise ConfigurationError(
                f"default_retry must be runio.RetryOptions(...), got {default_retry!r}."
            )
        _validate.size(max_output_size, "Client(max_output_size=...)", unit=" of bytes")
        _validate.size(max_task_depth, "Client(max_task_depth=...)")
        if time_scale is None:
            time_scale = _validate.env_number("RUNIO_TIME_SCALE", float, _time_scale) or 1.0
        else:
            time_scale = _time_scale(time_scale, "Client(time_scale=...)")
        if max_payload_size is None:
            max_payload_size = (
                _validate.env_number("RUNIO_MAX_PAYLOAD_SIZE", int, _payload_size)
                or DEFAULT_MAX_PAYLOAD_SIZE
            )
        else:
            _payload_size(max_payload_size, "Client(max_payload_size=...)")
        self.max_payload_size = max_payload_size
        self.id = id
        self.jobs: dict[str, Job[Any, Any]] = {}
        self.clock: Clock = clock or SystemClock()
        self._database_url = database_url
        self._store = store
        self._owns_store = store is None
        self._store_lock = threading.Lock()
        self._limits = Limits(
            max_output_size=max_output_size,
            max_task_depth=max_task_depth,
            time_scale=float(time_scale),
            default_retry=default_retry,
        )
        self._auto_migrate = auto_migrate
        self._schema_ok = False
        self._workers: set[Worker] = set()
        self._portal: Portal | None = None
        self._kit = ClientKit(plugins)
        self._capture_logging = capture_level(capture_logging, owner=f"Client {id!r}")
        self._store_of_parent = False
        """This process was forked from the one that gave the client its store (see
        ``_after_fork_in_child``)."""
        _clients.add(self)

    @property
    def plugins(self) -> PluginManager:
        """This client's plugin manager (built from the installed plugins on first use)."""
        return self._kit.plugins

    # -- store ---------------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        if self._store is not None:
            return self._store.url
        return self._database_url or database_url_from_env()

    @property
    def store(self) -> Store:
        if self._store_of_parent:
            raise StoreError(
                f"Client {self.id!r} was given its store in the process this one was forked "
                "from, and a database connection cannot be shared with a child process. Give "
                "the client a database_url instead (it then opens its own connection in each "
                "process), or make the client after the fork."
            )
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = _open_store(self._database_url or database_url_from_env())
        return self._store

    async def _ready(self) -> Store:
        store = self.store
        if not self._schema_ok:
            have, want = await store.schema_version(), store.newest_known_version()
            if self._auto_migrate and have != want:
                await store.upgrade()  # refuses a newer schema itself
            elif not self._auto_migrate:
                if have < want:
                    raise MigrationError(
                        f"The database at {store.url} is at schema version {have}; this runio "
                        f"needs {want}. Run `runio db upgrade` first."
                    )
                if have > want:
                    raise MigrationError(
                        f"The database at {store.url} has schema version {have}, newer than this "
                        f"runio knows ({want}). Upgrade runio on this machine before using it."
                    )
            self._schema_ok = True
        return store

    async def _register_jobs(self) -> None:
        """Record this app's jobs (for senders that do not define them). Only what changed is
        written, so a worker restart costs a read, not a durable write."""
        store = await self._ready()
        wanted = [
            JobRecord(
                self.id,
                job.id,
                job.version,
                job.name,
                job.trigger.name,
                {
                    "schema": (
                        job.trigger.schema.model_json_schema() if job.trigger.schema else None
                    ),
                    "filter": dict(job.trigger.filter) if job.trigger.filter else None,
                    **(
                        {"schedule": job.trigger.describe()}
                        if isinstance(job.trigger, ScheduleTrigger)
                        else job.trigger.stored_info()
                    ),
                },
            )
            for job in self.jobs.values()
        ]
        stored = {j.job_id: j for j in await store.list_jobs(self.id)}
        changed = [j for j in wanted if stored.get(j.job_id) != j]
        if changed:
            await store.register_jobs(changed, self.clock.now())

    def close(self) -> None:
        """Close the database connection (if this client opened it) and the client's thread."""
        self._refuse_closing_here()
        if self._store is not None and self._owns_store:
            self._run_sync(self._store.close())
            self._store = None
            self._schema_ok = False
        self._stop_portal()

    async def close_async(self) -> None:
        """``close`` for async code: the store is closed on this loop, then the thread."""
        self._refuse_closing_here()
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None
            self._schema_ok = False
        self._stop_portal()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _point_at(self, *, database_url: str, clock: Clock) -> Callable[[], None]:
        """Use another database and clock (delays unscaled) until the returned function is
        called, which closes that database and puts back what the client had. For
        ``runio.testing``: a test points an app's own client at a test database."""
        if self._workers:
            raise ConfigurationError(
                f"Client {self.id!r} has a worker running; stop it before pointing the client "
                "at a test database."
            )
        saved = (self._store, self._database_url, self._owns_store, self._schema_ok)
        saved_clock, saved_limits, saved_portal = self.clock, self._limits, self._portal
        saved_of_parent, self._store_of_parent = self._store_of_parent, False
        saved_migrate, self._auto_migrate = self._auto_migrate, True  # a fresh test database
        self._store, self._database_url, self._owns_store, self._schema_ok = (
            None,
            database_url,
            True,
            False,
        )
        self.clock = clock
        self._limits = dataclasses.replace(self._limits, time_scale=1.0)
        self._portal = None

        def restore() -> None:
            self.close()
            self._store, self._database_url, self._owns_store, self._schema_ok = saved
            self.clock, self._limits, self._portal = saved_clock, saved_limits, saved_portal
            self._store_of_parent = saved_of_parent
            self._auto_migrate = saved_migrate

        return restore

    # -- jobs ----------------------------------------------------------------------------------
    def define_job(
        self,
        *,
        id: str,
        trigger: EventTrigger | ScheduleTrigger,
        name: str | None = None,
        version: str = "0.0.1",
        integrations: Mapping[str, Any] | None = None,
        max_duration: float | None = None,
        capture_logging: CaptureSetting = None,
        concurrency_limit: int | None = None,
        concurrency_key: Callable[[Any], str] | None = None,
        compatible_versions: Sequence[str] = (),
    ) -> JobDecorator:
        """Register the decorated function as a job of this app.

        The function takes ``(payload, io)`` or ``(payload, io, ctx)``; ``async def`` gets a
        ``runio.IO``, plain ``def`` a blocking ``runio.SyncIO`` and runs in a thread.
        ``max_duration``: seconds a run may take from its first execution, waits included;
        past it the run stops at its next task boundary (or wakes from a wait) as TIMED_OUT.
        ``capture_logging``: store standard ``logging`` records emitted inside this job's runs
        in their logs (``True``: INFO and above, or a level); None follows the client's setting.
        ``concurrency_limit``: at most this many runs execute at once across every worker;
        the others wait QUEUED, oldest first (a waiting run holds no slot).
        ``concurrency_key``: ``f(payload) -> str``; the limit then applies per key value (e.g.
        one run at a time per customer). See docs/flow-control.md.
        ``version``: a run keeps the version it was created with, and is executed only by
        workers whose code has that version, or lists it in ``compatible_versions``.
        """

        def decorate(fn: Callable[..., Any]) -> Job[Any, Any]:
            if id in self.jobs:
                raise JobDefinitionError(
                    f"App {self.id!r} already has a job with id {id!r}; job ids must be unique."
                )
            job = make_job(
                fn,
                id=id,
                name=name,
                version=version,
                trigger=trigger,
                integrations=integrations,
                max_duration=max_duration,
                capture_logging=capture_logging,
                concurrency_limit=concurrency_limit,
                concurrency_key=concurrency_key,
                compatible_versions=compatible_versions,
            )
            _check_webhook_source(job, self.jobs.values())
            self.jobs[id] = job
            return job

        return decorate

    # -- events --------------------------------------------------------------------------------
    def send_event(
        self,
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
        delay: float | timedelta | None = None,
    ) -> Event:
        """Store an event and create one run for each job it triggers; return the stored event
        (with ``run_ids``). Idempotent on ``id``: sending the same id again returns the stored
        event and creates nothing. ``deliver_at`` (a timezone-aware datetime) or ``delay``
        (seconds or a timedelta) delays the event: its runs start, and the waits it matches
        resume, at that time; until then ``cancel_event`` can take it back."""
        return self._run_sync(
            self.send_event_async(name, payload, id=id, deliver_at=deliver_at, delay=delay)
        )

    async def send_event_async(
        self,
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
        delay: float | timedelta | None = None,
    ) -> Event:
        store = await self._ready()
        now = self.clock.now()
        event, runs = await self._event_to_store(
            store, now, name, payload, id=id, deliver_at=deliver_at, delay=delay
        )
        stored, created = await store.create_event(event, runs, now)
        if created:
            self._notify_workers()
        return stored

    def send_events(self, events: Sequence[Mapping[str, Any]]) -> list[Event]:
        """Send several events at once, in one transaction: every one is stored (with its runs)
        or, if any is refused, none. Each item is a mapping with ``name`` and optionally
        ``payload``, ``id``, ``deliver_at`` and ``delay``, as ``send_event`` takes them."""
        return self._run_sync(self.send_events_async(events))

    async def send_events_async(self, events: Sequence[Mapping[str, Any]]) -> list[Event]:
        if isinstance(events, Mapping | str | bytes) or not isinstance(events, Sequence):
            raise ConfigurationError(
                "send_events takes a list of events such as [{'name': 'new.user', 'payload': "
                f"{{...}}}}], got {type(events).__name__}."
            )
        if not events:
            return []
        store = await self._ready()
        now = self.clock.now()
        items = []
        for index, item in enumerate(events):
            _validate.event_item(item, f"send_events: item {index}")
            items.append(
                await self._event_to_store(
                    store,
                    now,
                    item["name"],
                    item.get("payload"),
                    id=item.get("id"),
                    deliver_at=item.get("deliver_at"),
                    delay=item.get("delay"),
                )
            )
        ids = [event.id for event, _ in items]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(
                "send_events: two items have the same id; each event needs its own. Nothing was "
                "stored."
            )
        results = await store.create_events(items, now)
        if any(created for _, created in results):
            self._notify_workers()
        return [event for event, _ in results]

    def get_event(self, id: str) -> Event:
        """The stored event with this id (``deliver_at``, ``canceled_at``, ``run_ids``)."""
        return self._run_sync(self.get_event_async(id))

    async def get_event_async(self, id: str) -> Event:
        _event_id(id, "get_event")
        store = await self._ready()
        event = await store.get_event(self.id, id)
        if event is None:
            raise EventNotFoundError(
                f"No event with id {id!r} exists in app {self.id!r}. Check the id (send_event "
                "returns it) and that the client uses the right database.",
                event_id=id,
            )
        return event

    def cancel_event(self, id: str) -> Event:
        """Cancel a delayed event before its delivery time: its runs are canceled before they
        start and the waits it matched go on waiting. Raises ``EventDeliveredError`` once the
        event has been delivered (or was canceled before)."""
        return self._run_sync(self.cancel_event_async(id))

    async def cancel_event_async(self, id: str) -> Event:
        _event_id(id, "cancel_event")
        store = await self._ready()
        now = self.clock.now()
        event, outcome = await store.cancel_event(self.id, id, now=now)
        if event is None:
            raise EventNotFoundError(
                f"No event with id {id!r} exists in app {self.id!r}, so nothing was canceled. "
                "Check the id (send_event returns it).",
                event_id=id,
            )
        if outcome == "delivered":
            raise EventDeliveredError(
                f"Event {id!r} ({event.name}) was already delivered, so it cannot be canceled: "
                "its runs may have started and the waits it matched resumed. Cancel its runs "
                f"instead (client.cancel_run(run_id) for each of {event.run_ids}).",
                event=event,
            )
        if outcome == "canceled_before":
            raise EventDeliveredError(
                f"Event {id!r} ({event.name}) was already canceled; nothing more to do.",
                event=event,
            )
        return event

    def _notify_workers(self) -> None:
        for worker in list(self._workers):
            worker.notify()

    async def _event_to_store(
        self,
        store: Store,
        now: float,
        name: str,
        payload: Any,
        *,
        id: str | None,
        deliver_at: datetime | None,
        delay: float | timedelta | None,
    ) -> tuple[Event, list[NewRun]]:
        """An event checked and ready to store, with the runs it starts: or the error saying
        what is wrong with it."""
        delay_seconds = _validate.event_options(name, id, deliver_at, delay)
        if delay_seconds is not None:
            deliver_at = datetime.fromtimestamp(now + delay_seconds, UTC)
        try:
            payload_text = _json.encode(payload)
        except _json.NotJsonError as exc:
            raise ConfigurationError(
                f"The payload of event {name!r} cannot be stored as JSON: {exc}. Nothing was "
                "stored."
            ) from None
        payload_size = len(payload_text) if payload_text.isascii() else len(payload_text.encode())
        if payload_size > self.max_payload_size:
            raise ConfigurationError(
                f"The payload of event {name!r} is {payload_size:,} bytes of JSON, more than the "
                f"{self.max_payload_size:,}-byte limit; nothing was stored. Send a reference to "
                "the data (an id, a URL) instead, or raise the limit with "
                "runio.Client(max_payload_size=...) or RUNIO_MAX_PAYLOAD_SIZE."
            )
        payload_json = _json.decode(payload_text)
        ready_at = deliver_at.timestamp() if deliver_at is not None else now
        targets: list[tuple[str, str]] = []
        problems: dict[str, list[dict[str, Any]]] = {}
        local = [j for j in self.jobs.values() if j.trigger.name == name]
        if local:
            for job in local:
                if not job.trigger.matches(payload_json):
                    continue
                errors = job.payload_errors(payload_json)
                if errors is not None:
                    problems[job.id] = errors
                else:
                    targets.append((job.id, job.version))
        else:
            registered = [j for j in await store.list_jobs(self.id) if j.event_name == name]
            if not registered and await store.has_event_waits(self.id, name):
                return _event(self.id, id, name, payload_json, now, deliver_at), []
            if not registered:
                known = sorted({j.trigger.name for j in self.jobs.values()})
                hint = f" Events this app knows: {', '.join(known)}." if known else ""
                raise UnknownEventError(
                    f"No job of app {self.id!r} is triggered by event {name!r}, so it would start "
                    f"no run, and no run of the app has waited for it (io.wait_for_event).{hint} "
                    "Check the name, or start a worker of the app that defines the job so it is "
                    "registered.",
                    event_name=name,
                )
            targets = [
                (j.job_id, j.version)
                for j in registered
                if _matches_filter((j.trigger or {}).get("filter"), payload_json)
            ]
        if problems:
            lines = []
            for job_id, errs in problems.items():
                for e in errs:
                    loc = ".".join(str(p) for p in e["loc"]) or "(payload)"
                    lines.append(f"  job {job_id}: {loc}: {e['msg']}")
            raise InvalidPayloadError(
                f"The payload of event {name!r} does not match the schema of "
                f"{', '.join(repr(j) for j in problems)}; nothing was stored and no run was "
                "created. Fix these fields:\n" + "\n".join(lines),
                errors=problems,
            )
        event = _event(self.id, id, name, payload_json, now, deliver_at)
        runs = [NewRun(new_id("run"), job_id, version, ready_at) for job_id, version in targets]
        return event, runs

    # -- runs ----------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with its task tree (``run.tasks``, each with ``children``), attempts and logs."""
        return self._run_sync(self.get_run_async(run_id))

    async def get_run_async(self, run_id: str) -> Run:
        store = await self._ready()
        run = await store.get_run(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run

    def list_runs(
        self,
        *,
        job_id: str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        all_apps: bool = False,
    ) -> list[Run]:
        """Newest first, without their tasks (use ``get_run`` for those)."""
        return self._run_sync(
            self.list_runs_async(job_id=job_id, status=status, limit=limit, all_apps=all_apps)
        )

    async def list_runs_async(
        self,
        *,
        job_id: str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        all_apps: bool = False,
    ) -> list[Run]:
        statuses = _statuses(status)
        _validate.size(limit, "list_runs(limit=...)")
        store = await self._ready()
        return await store.list_runs(
            app_id=None if all_apps else self.id, job_id=job_id, status=statuses, limit=limit
        )

    def cancel_run(self, run_id: str) -> Run:
        """Cancel a queued, waiting or executing run (it stops at its next task boundary)."""
        return self._run_sync(self.cancel_run_async(run_id))

    async def cancel_run_async(self, run_id: str) -> Run:
        store = await self._ready()
        run = await _run_rules.cancel_run(store, run_id, now=self.clock.now())
        for worker in list(self._workers):
            worker.cancel_local(run_id)
        return run

    def retry_run(self, run_id: str) -> Run:
        """Run a failed, canceled or timed-out run again: completed tasks are reused, ERRORED
        tasks are attempted again (their errors are not reused)."""
        return self._run_sync(self.retry_run_async(run_id))

    async def retry_run_async(self, run_id: str) -> Run:
        store = await self._ready()
        run = await _run_rules.retry_run(store, run_id, now=self.clock.now())
        for worker in list(self._workers):
            worker.notify()
        return run

    def replay_run(self, run_id: str) -> Run:
        """Start a new run of the same job for the same event (nothing is reused)."""
        return self._run_sync(self.replay_run_async(run_id))

    async def replay_run_async(self, run_id: str) -> Run:
        store = await self._ready()
        run = await store.replay_run(run_id, new_run_id=new_id("run"), now=self.clock.now())
        for worker in list(self._workers):
            worker.notify()
        return run

    # -- worker --------------------------------------------------------------------------------
    def _worker_app(self) -> WorkerApp:
        return WorkerApp(
            app_id=self.id,
            jobs=self.jobs,
            store=self.store,
            clock=self.clock,
            limits=self._limits,
            kit=self._kit,
            ready=self._ready,
            register_jobs=self._register_jobs,
            send_event=self.send_event_async,
            workers=self._workers,
            capture_logging=self._capture_logging,
            events=self,
        )

    def worker(self, **options: Unpack[WorkerOptions]) -> Worker:
        """A ``Worker`` for this app (see ``run_worker`` for the options)."""
        return Worker(self._worker_app(), **options)

    def run_worker(
        self,
        *,
        concurrency: int = 50,
        until_idle: bool = False,
        lease_seconds: float = 30.0,
        poll_interval: float | None = None,
        grace_period: float = 30.0,
        handle_signals: bool = False,
    ) -> None:
        """Run a worker in this process: until stopped, or with ``until_idle=True`` until no run
        is ready to execute (waiting runs stay waiting)."""
        worker = Worker(
            self._worker_app(),
            concurrency=concurrency,
            until_idle=until_idle,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            grace_period=grace_period,
            handle_signals=handle_signals,
        )
        _run_here(worker.run())

    async def run_worker_async(self, **options: Unpack[WorkerOptions]) -> None:
        """``run_worker`` for async code: runs the worker on the current event loop."""
        await Worker(self._worker_app(), **options).run()

    # -- sync bridge ---------------------------------------------------------------------------
    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine to completion from synchronous code, on this client's own event loop
        thread (started on first use), so it works in any thread, inside a running loop too."""
        with self._store_lock:
            if self._portal is None or not self._portal.usable_here():  # (after a fork)
                self._portal = Portal(f"runio-client-{self.id}")
            portal = self._portal
        return portal.run(coro)

    def _refuse_closing_here(self) -> None:
        """Closing from code the client runs on its own thread fails before anything is closed,
        so the client is left whole."""
        portal = self._portal
        if portal is not None:
            portal.refuse_own_thread()

    def _stop_portal(self) -> None:
        with self._store_lock:
            portal, self._portal = self._portal, None
        if portal is not None:
            portal.stop()


def _event(
    app_id: str,
    id: str | None,
    name: str,
    payload: Any,
    now: float,
    deliver_at: datetime | None,
) -> Event:
    return Event(
        id=id or new_id("evt"),
        app_id=app_id,
        name=name,
        payload=payload,
        timestamp=now,
        deliver_at=deliver_at.timestamp() if deliver_at is not None else None,
    )


_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_left_behind: list[object] = []
"""In a child process made by ``fork``: the parent's stores and portals, kept so that they are
never closed here (closing a connection the parent still uses is unsafe)."""


def _after_fork_in_child() -> None:
    """The parent's threads are not in a forked child: its clients' portals and workers are left
    behind, and a store the client opened itself is opened anew on first use where that is safe
    (PostgreSQL). A SQLite store refuses in the child by itself (``reopens_in_forked_child``),
    and a store given to a client cannot be remade, so using it raises."""
    for client in list(_clients):
        client._store_lock = threading.Lock()  # it may have been held by another thread
        if client._portal is not None:
            _left_behind.append(client._portal)
            client._portal = None
        client._workers = set()
        store = client._store
        if store is None or not store.reopens_in_forked_child:
            continue
        _left_behind.append(store)
        if client._owns_store:
            client._store, client._schema_ok = None, False
        else:
            client._store_of_parent = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _event_id(id: object, what: str) -> None:
    if not isinstance(id, str) or not id:
        raise ConfigurationError(
            f"{what} needs an event id (a non-empty string, as send_event returns it), got {id!r}."
        )


def _open_store(url: str) -> Store:
    """``create_store``, with a file system that refuses the database's path told as such."""
    try:
        return create_store(url)
    except OSError as exc:
        where = exc.filename or url
        if isinstance(exc, NotADirectoryError | FileExistsError):
            blocker = next(
                (p for p in (Path(where), *Path(where).parents) if p.exists() and not p.is_dir()),
                Path(where),
            )
            why = f"{str(blocker)!r} is a file, so no directory can be made there"
        elif isinstance(exc, PermissionError):
            why = f"permission to create {where!r} was denied"
        else:
            why = f"{exc.strerror or exc} ({where!r})"
        raise ConfigurationError(
            f"Cannot open the database {url}: {why}. Point RUNIO_DATABASE_URL (or "
            "--database-url) at a path in a directory you can write, e.g. "
            "sqlite:///.runio/runio.db."
        ) from None


def _check_webhook_source(job: Job[Any, Any], others: Iterable[Job[Any, Any]]) -> None:
    """One endpoint per integration id: jobs taking webhooks from instances with the same id
    must agree on the instance (its class and settings), or deliveries could not be verified."""
    trigger = job.trigger
    if not isinstance(trigger, WebhookTrigger):
        return
    mine = trigger.integration
    for other in others:
        theirs = getattr(other.trigger, "integration", None)
        if theirs is None or theirs is mine or theirs.id != mine.id:
            continue
        if type(theirs) is not type(mine) or runtime_of(theirs).values != runtime_of(mine).values:
            raise JobDefinitionError(
                f"Job {job.id!r} takes webhooks from {type(mine).__name__} {mine.id!r}, and job "
                f"{other.id!r} from another {type(theirs).__name__} instance with the same id "
                f"but other settings: both would be /api/v1/webhooks/{mine.id}. Use one "
                f"instance for both, or give each its own id ({type(mine).__name__}(id=...))."
            )


def _matches_filter(spec: Mapping[str, Any] | None, payload: Any) -> bool:
    return spec is None or EventTrigger(name="", filter=spec).matches(payload)


def _run_here(coro: Coroutine[Any, Any, T]) -> T:
    """Run in this thread's own new event loop (or a helper thread's, inside a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:  # outside the except block, so errors carry no unrelated context
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    out = []
    for s in items:
        try:
            out.append(RunStatus(str(s).upper()).value)
        except ValueError:
            raise ConfigurationError(
                f"Unknown run status {s!r}; use one of {', '.join(x.value for x in RunStatus)}."
            ) from None
    return out
