"""The worker: claims runs of its app's jobs, executes them, and keeps their leases alive.

Concurrency is asyncio: each claimed run is one asyncio task; synchronous job and task functions
run in a thread pool so they never block other runs. Leases are renewed by a heartbeat; a worker
that stops heartbeating (it died, or stalled) loses its runs to another worker after the lease
expires, and its late writes are rejected (fencing by lease token).

Shutdown (SIGTERM/SIGINT, or ``Worker.stop()``): stop claiming; runs in flight finish the tasks
they are running and pause at their next task boundary (ready for another worker at once);
after the grace period whatever is still running is interrupted and its lease released.

A failing database stops the run that met it at that point: the run is released (or, if even
that fails, resumed once its lease expires), never reported done. The worker then backs off
before claiming again, and after ``max_store_failures`` failures in a row (or, with
``until_idle``, when it would exit while the database is still failing) it stops with
``StoreUnavailableError``, so ``runio worker`` exits non-zero with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from . import _json, _validate
from ._clock import Clock
from ._context import EventInfo, RunContext
from ._execution import (
    Canceled,
    EventOps,
    Execution,
    LeaseLost,
    Limits,
    StoreFailed,
    Suspend,
    TimedOut,
    _error_json,
)
from ._flow import claim_rules, resolve_keys
from ._ids import new_id
from ._io import IO, SyncIO
from ._job import Job
from ._logcapture import capturing, current_capture, resolve
from ._records import ClaimedRun, Event, Lease, RunState, RunStatus
from ._schedules import Scheduler
from ._task_threads import TaskThreads
from ._validate import MAX_GRACE_PERIOD, MAX_LEASE_SECONDS, MAX_POLL_INTERVAL
from .errors import (
    ConfigurationError,
    LeaseLostError,
    StoreError,
    StoreUnavailableError,
    TaskFailedError,
)
from .integrations._resolve import ClientKit
from .storage import Store, alone_in_worker

log = logging.getLogger("runio.worker")

_BACKOFF_FIRST = 0.05
_QUIET_MARGIN = 0.005
"""A lone execution commits on the event loop only if the worker will claim nothing sooner."""
_BACKOFF_MAX = 5.0


class WorkerOptions(TypedDict, total=False):
    """How a worker runs (``Client.run_worker``, ``Client.worker``, ``runio worker``)."""

    concurrency: int
    """Runs executed at once (default 50)."""
    until_idle: bool
    """Return once no run is ready to execute (waiting runs stay waiting)."""
    lease_seconds: float
    """How long a claimed run is held without a heartbeat before another worker may take it."""
    heartbeat_interval: float | None
    """Seconds between lease renewals (default: a third of the lease)."""
    poll_interval: float | None
    """Seconds between looks for ready runs when idle (default: the store's)."""
    grace_period: float
    """Seconds runs in flight get to reach a task boundary at shutdown."""
    handle_signals: bool
    """Stop gracefully on SIGTERM/SIGINT (a second signal forces the stop)."""
    on_run_finished: Callable[[str, str], None] | None
    """Called with (run id, status) after each execution."""
    max_store_failures: int
    """Database failures in a row before the worker stops with ``StoreUnavailableError``
    (default 10; runs stopped together by one outage count once)."""


@dataclass(frozen=True, slots=True)
class WorkerApp:
    """Everything a worker takes from its app, handed over explicitly (``Client.worker()``
    builds it), so the worker depends on no client internals."""

    app_id: str
    jobs: Mapping[str, Job[Any, Any]]
    store: Store
    clock: Clock
    limits: Limits
    kit: ClientKit
    """The app's plugins and integrations: lifecycle hooks, ``io.<name>`` resolution."""
    ready: Callable[[], Awaitable[Any]]
    """Brings the database schema up to date (or says why it cannot)."""
    register_jobs: Callable[[], Awaitable[None]]
    """Records the app's jobs in the store (only what changed)."""
    send_event: Callable[..., Awaitable[Event]]
    """``io.send_event`` from inside a run."""
    workers: set[Worker]
    """The app's running workers: each adds itself while it runs, so the app can wake them."""
    capture_logging: int | bool | None = None
    """The app's ``capture_logging`` (a level, False or None); a job's own setting wins."""
    events: EventOps | None = None
    """The app's event operations behind ``io.send_events``, ``io.get_event`` and
    ``io.cancel_event``."""


class Worker:
    def __init__(
        self,
        app: WorkerApp,
        *,
        concurrency: int = 50,
        until_idle: bool = False,
        lease_seconds: float = 30.0,
        heartbeat_interval: float | None = None,
        poll_interval: float | None = None,
        grace_period: float = 30.0,
        handle_signals: bool = False,
        on_run_finished: Callable[[str, str], None] | None = None,
        max_store_failures: int = 10,
    ) -> None:
        _validate.size(concurrency, "Worker concurrency")
        _validate.seconds(
            lease_seconds, "Worker lease_seconds", above=True, maximum=MAX_LEASE_SECONDS
        )
        if heartbeat_interval is not None:
            _validate.seconds(
                heartbeat_interval,
                "Worker heartbeat_interval",
                above=True,
                maximum=float(lease_seconds),
                hint=" A heartbeat must come before the lease runs out.",
            )
        if (
            not isinstance(max_store_failures, int)
            or isinstance(max_store_failures, bool)
            or max_store_failures < 1
        ):
            raise ConfigurationError(
                f"Worker max_store_failures must be an int >= 1, got {max_store_failures!r}."
            )
        if poll_interval is not None:
            _validate.seconds(
                poll_interval, "Worker poll_interval", above=True, maximum=MAX_POLL_INTERVAL
            )
        _validate.seconds(grace_period, "Worker grace_period", maximum=MAX_GRACE_PERIOD)
        self.app = app
        self.concurrency = concurrency
        self.until_idle = until_idle
        self.lease_seconds = float(lease_seconds)
        self.heartbeat_interval = float(heartbeat_interval or max(lease_seconds / 3, 0.05))
        self.poll_interval = (
            float(poll_interval) if poll_interval is not None else app.store.poll_interval
        )
        self.grace_period = float(grace_period)
        self.handle_signals = handle_signals
        self.on_run_finished = on_run_finished
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self.executions: dict[str, tuple[Execution | None, asyncio.Task[None]]] = {}
        self._stopping = False
        self._force = False
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runs_finished = 0
        self._executor: TaskThreads | None = None
        self._next_tick: float | None = None
        self.max_store_failures = max_store_failures
        self.store_failures = 0
        """Database failures in a row: claims that failed, and rounds of runs stopped by one
        (runs failing together count once); 0 again once a run ends normally."""
        self._failure_pending = False
        self._store_error: StoreError | None = None
        self._own: dict[asyncio.Task[Any], Execution] = {}
        self._quiet_until = -math.inf
        """Until when (clock time) the worker expects to claim nothing: it is waiting for a
        slot, a poll or a wake-up, not claiming (see ``_alone``)."""
        self.stranded_runs: set[str] = set()
        """Runs stopped by a database failure that could not even be released: they resume
        once their leases expire. ``until_idle`` then ends with ``StoreUnavailableError``."""
        self._capture: dict[str, int] = {}
        """Job id -> the level its runs capture ``logging`` records at (capturing jobs only)."""

    def _alone(self, execution: Execution) -> Callable[[], bool]:
        """For ``storage.alone_in_worker``: whether this execution has the worker to itself,
        with at most one task running (tasks running in parallel, in one run or several, share
        commits through the store's writer thread), and the worker expects to claim no run for
        a while (it would wait for a commit made on the event loop)."""
        executions, clock, wakeup = self.executions, self.app.clock, self._wakeup

        def alone() -> bool:
            return (
                len(executions) == 1
                and execution.inflight <= 1
                and self._quiet_until - clock.now() > _QUIET_MARGIN
                and not (wakeup is not None and wakeup.is_set())
            )

        return alone

    def _task_threads(self) -> TaskThreads:
        assert self._executor is not None, "the worker is not running"
        return self._executor

    @property
    def abandoned_calls(self) -> int:
        """Synchronous job or task functions still running after the worker stopped."""
        return self._executor.running if self._executor is not None else 0

    # -- control -------------------------------------------------------------------------------
    def stop(self, *, force: bool = False) -> None:
        """Ask the worker to shut down gracefully (``force``: interrupt runs now). Thread-safe."""
        loop = self._loop
        if loop is None:
            self._stopping = True
            self._force = self._force or force
            return
        loop.call_soon_threadsafe(self._request_stop, force)

    def _request_stop(self, force: bool = False) -> None:
        if self._stopping and not force:
            force = True  # a second signal means "now"
        self._stopping = True
        self._force = self._force or force
        for execution, _ in self.executions.values():
            if execution is not None:
                execution.stopping = True
        if self._wakeup is not None:
            self._wakeup.set()

    def notify(self) -> None:
        """Something may be ready (an event was sent in this process): look now."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    def cancel_local(self, run_id: str) -> None:
        entry = self.executions.get(run_id)
        if entry is not None and entry[0] is not None and self._loop is not None:
            execution = entry[0]
            try:
                here = asyncio.get_running_loop()
            except RuntimeError:
                here = None
            if here is self._loop:
                execution.canceled = True
            else:
                self._loop.call_soon_threadsafe(setattr, execution, "canceled", True)

    # -- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        app = self.app
        await app.ready()
        if not app.jobs:
            raise ConfigurationError(
                f"App {app.app_id!r} defines no jobs, so this worker has nothing to run. Define "
                "jobs with @client.define_job(...) in the module you point the worker at."
            )
        await app.register_jobs()
        app.kit.load()  # a plugin that fails to load stops the worker here, named
        app.kit.check_declared(app.jobs.values())  # so does an unconfigured integration
        job_ids = list(app.jobs)
        rules = claim_rules(app.jobs)
        scheduler = Scheduler(
            app_id=app.app_id, jobs=app.jobs, store=app.store, send_event=app.send_event
        )
        await scheduler.load(app.clock.now())
        self._capture = {
            job.id: level
            for job in app.jobs.values()
            if (level := resolve(job.capture_logging, app.capture_logging)) is not None
        }
        watch = await app.store.watch(app.app_id, self.notify)  # wake-ups beside the polling
        executor = TaskThreads(
            max_workers=max(32, self.concurrency * 4), thread_name_prefix="runio-task"
        )
        self._executor = executor
        app.workers.add(self)
        installed = self._install_signals()
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        store, clock = app.store, app.clock
        logs = contextlib.ExitStack()
        if self._capture:
            logs.enter_context(capturing(min(self._capture.values())))
        try:
            while not self._stopping:
                if self._failure_pending and not await self._back_off():
                    break
                await scheduler.fire_due(clock.now())  # due ticks become runs, claimed below
                self._next_tick = scheduler.next_at
                # Cleared whether or not a slot is free: a full worker that was told of new
                # runs (by its own ticks, say) must wait for a slot, not spin.
                self._wakeup.clear()
                free = self.concurrency - len(self.executions)
                finished_before = self.runs_finished
                claimed: list[ClaimedRun] = []
                if free > 0:
                    try:
                        await resolve_keys(store, app.app_id, app.jobs, clock.now())
                        claimed = await store.claim_runs(
                            app_id=app.app_id,
                            job_ids=job_ids,
                            worker_id=self.worker_id,
                            limit=free,
                            now=clock.now(),
                            lease_seconds=self.lease_seconds,
                            rules=rules,
                        )
                    except StoreError as exc:
                        self._note_store_failure(exc)
                        continue
                    for c in claimed:
                        task = asyncio.create_task(self._execute(c), name=f"run {c.lease.run_id}")
                        self.executions[c.lease.run_id] = (None, task)
                if claimed and len(claimed) == free:
                    await self._wait_for_slot()
                    continue
                if claimed:
                    continue
                if self.until_idle:
                    if not self.executions:
                        if self.stranded_runs:
                            raise self._store_unavailable()
                        if self.runs_finished != finished_before:
                            # A run ended during the claim: it may have freed a concurrency
                            # slot the claim saw taken; look once more.
                            continue
                        break
                    await self._wait_for_slot()
                    continue
                if self.executions and free <= 0:
                    await self._wait_for_slot()
                    continue
                next_at = await store.next_ready_at(
                    app_id=app.app_id, job_ids=job_ids, rules=rules, now=clock.now()
                )
                deadline = clock.now() + self.poll_interval
                if next_at is not None:
                    deadline = min(deadline, next_at)
                if scheduler.next_at is not None:
                    deadline = min(deadline, scheduler.next_at)
                await self._idle_until(deadline)
        finally:
            app.workers.discard(self)
            with contextlib.suppress(Exception):
                await watch.close()
            await self._shutdown()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            for sig in installed:
                with contextlib.suppress(Exception):
                    self._loop.remove_signal_handler(sig)
            executor.shutdown(wait=False, cancel_futures=True)
            logs.close()
            await app.kit.close_clients(app.jobs.values(), asyncio.get_running_loop())

    # -- a failing database --------------------------------------------------------------------
    def _note_store_failure(self, exc: StoreError) -> None:
        self._store_error = exc
        if self._failure_pending:  # the same outage, met by another run before the back-off
            return
        self._failure_pending = True
        self.store_failures += 1
        log.error("the database failed (%d in a row): %s", self.store_failures, exc)

    def _store_unavailable(self) -> StoreUnavailableError:
        stranded = ""
        if self.stranded_runs:
            stranded = (
                f" {len(self.stranded_runs)} run(s) could not be released and resume once their "
                "leases expire."
            )
        return StoreUnavailableError(
            f"The database kept failing ({self.store_failures} failure(s) in a row; the last: "
            f"{self._store_error}). This worker stopped; no result was reported stored that is "
            "not, and its runs resume from what is stored." + stranded + " Fix the database "
            "(disk space, permissions, server) and start a worker again.",
            failures=self.store_failures,
        )

    async def _back_off(self) -> bool:
        """Wait before claiming again while the database fails; give up after
        ``max_store_failures`` failures in a row. False: the worker was asked to stop."""
        self._failure_pending = False
        if self.store_failures >= self.max_store_failures:
            raise self._store_unavailable()
        delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (self.store_failures - 1))
        assert self._wakeup is not None
        self._wakeup.clear()
        if not self._stopping:
            stopped = asyncio.create_task(self._wait_for_stop())
            try:
                await asyncio.wait([stopped], timeout=delay)
            finally:
                stopped.cancel()
        return not self._stopping

    async def _wait_for_stop(self) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            await self._wakeup.wait()
            self._wakeup.clear()

    async def _give_back(self, lease: Lease) -> None:
        """After a database failure: release the run for a later execution. If that fails too,
        the run resumes once its lease expires."""
        try:
            await self.app.store.release_run(lease, now=self.app.clock.now())
        except Exception as exc:
            self.stranded_runs.add(lease.run_id)
            log.warning(
                "run %s: could not release it (%s); it resumes once its lease expires",
                lease.run_id,
                exc,
            )

    async def _wait_for_slot(self) -> None:
        assert self._wakeup is not None
        tasks = [t for _, t in self.executions.values()]
        if not tasks:
            return
        waker = asyncio.create_task(self._wakeup.wait())
        # A busy worker still fires schedule ticks on time (another worker may run them).
        ticks = (
            [asyncio.create_task(self.app.clock.sleep_until(self._next_tick, self._wakeup))]
            if self._next_tick is not None
            else []
        )
        self._quiet_until = self._next_tick if self._next_tick is not None else math.inf
        try:
            await asyncio.wait([*tasks, waker, *ticks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._quiet_until = -math.inf
            waker.cancel()
            for tick in ticks:
                tick.cancel()

    async def _idle_until(self, deadline: float) -> None:
        assert self._wakeup is not None
        tasks = [t for _, t in self.executions.values()]
        sleeper = asyncio.create_task(self.app.clock.sleep_until(deadline, self._wakeup))
        self._quiet_until = deadline
        try:
            await asyncio.wait([*tasks, sleeper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._quiet_until = -math.inf
            sleeper.cancel()

    def _install_signals(self) -> list[int]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return []
        assert self._loop is not None
        installed: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self._request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):
                pass
        return installed

    async def _shutdown(self) -> None:
        if not self.executions:
            return
        for execution, _ in self.executions.values():
            if execution is not None:
                execution.stopping = True
        tasks = [t for _, t in self.executions.values()]
        if not self._force and self.grace_period > 0:
            log.info(
                "worker stopping: waiting up to %.0f s for %d run(s) to reach a task boundary",
                self.grace_period,
                len(tasks),
            )
            assert self._wakeup is not None
            deadline = asyncio.get_running_loop().time() + self.grace_period
            while not self._force and not all(t.done() for t in tasks):
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                waker = asyncio.create_task(self._wakeup.wait())  # a second signal sets it
                try:
                    await asyncio.wait(
                        [*tasks, waker], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waker.cancel()
        leftover = [(e, t) for e, t in self.executions.values() if not t.done()]
        for _, task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait([t for _, t in leftover])
        for execution, _ in leftover:
            if execution is not None:
                with contextlib.suppress(Exception):
                    await self.app.store.release_run(execution.lease, now=self.app.clock.now())

    async def _heartbeat_loop(self) -> None:
        store, clock = self.app.store, self.app.clock
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            leases = [e.lease for e, _ in self.executions.values() if e is not None]
            if not leases:
                continue
            try:
                stop = await store.heartbeat(
                    leases, now=clock.now(), lease_seconds=self.lease_seconds
                )
            except Exception:
                log.warning("heartbeat failed; will try again", exc_info=True)
                continue
            for run_id, reason in stop.items():
                entry = self.executions.get(run_id)
                if entry is None or entry[0] is None:
                    continue
                if reason == "canceled":
                    entry[0].canceled = True
                else:
                    log.warning("lost the lease on run %s; another worker owns it now", run_id)
                    entry[0].lease_lost = True

    # -- one run -------------------------------------------------------------------------------
    async def _execute(self, claimed: ClaimedRun) -> None:
        run_id = claimed.lease.run_id
        status = "?"
        try:
            status = await self._execute_run(claimed)
        except asyncio.CancelledError:
            status = "interrupted"
        except StoreError as exc:
            log.error(
                "run %s: the database failed (%s); the run stops here and resumes from what is "
                "stored",
                run_id,
                exc,
            )
            self._note_store_failure(exc)
            status = "store_failed"
            await self._give_back(claimed.lease)
        except Exception:
            log.exception("run %s: unexpected error in the worker; it will be retried", run_id)
            status = "error"
        finally:
            # The run may have been claimed again already (it suspended until now): the entry
            # is this execution's only while it holds this asyncio task.
            entry = self.executions.get(run_id)
            if entry is not None and entry[1] is asyncio.current_task():
                self.executions.pop(run_id, None)
            execution = self._own.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            if execution is not None and execution.hooks is not None:
                execution.hooks.run_finished(status, execution.job_error)
            self.runs_finished += 1
            if status not in ("store_failed", "error", "interrupted", "lease_lost"):
                self.store_failures = 0  # the database took this run's writes
                self._failure_pending = False
            if self.on_run_finished is not None:
                with contextlib.suppress(Exception):
                    self.on_run_finished(run_id, status)
            self._slot_freed(claimed)
            if self._wakeup is not None:
                self._wakeup.set()

    def _slot_freed(self, claimed: ClaimedRun) -> None:
        """A run of a concurrency-limited job stopped executing: its slot is free, so the app's
        other workers in this process look for a run waiting for it now, not at their next
        poll. (Workers in other processes find it by polling, or a PostgreSQL wake-up.)"""
        job = self.app.jobs.get(claimed.job_id)
        if job is not None and job.concurrency_limit is not None:
            for worker in list(self.app.workers):
                if worker is not self:
                    worker.notify()

    async def _execute_run(self, claimed: ClaimedRun) -> str:
        app = self.app
        store, clock = app.store, app.clock
        lease = claimed.lease
        run_id = lease.run_id
        job = app.jobs.get(claimed.job_id)
        if job is None:  # only claimed for registered jobs; defensive
            await store.release_run(lease, now=clock.now())
            return "released"
        event = claimed.event
        errors = job.payload_errors(event.payload)
        if errors is not None:
            message = (
                f"The payload of event {event.name!r} ({event.id}) does not match job "
                f"{job.id!r}'s schema, so the job function was not run: "
                + "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors
                )
            )
            error = json.dumps(
                {"type": "InvalidPayloadError", "message": message, "fields": errors}
            )
            await store.finish_run(
                lease, status=RunStatus.FAILED, output=None, error=error, now=clock.now()
            )
            return RunStatus.FAILED
        # A run claimed for the first time has nothing stored to replay: every task and log
        # line is written under a lease, and each claim that grants one counts an execution.
        state = (
            RunState({}, [], {})
            if claimed.execution_count == 1
            else await store.load_run_state(run_id)
        )
        loop = asyncio.get_running_loop()
        execution = Execution(
            claimed=claimed,
            store=store,
            clock=clock,
            limits=app.limits,
            stored_tasks=state.tasks,
            log_marks=state.log_marks,
            outputs=state.outputs,
            executor=self._task_threads(),
            loop=loop,
            send_event=app.send_event,
            deadline=(
                claimed.started_at + job.max_duration if job.max_duration is not None else None
            ),
        )
        execution.events = app.events
        if self._stopping:
            execution.stopping = True
        task = asyncio.current_task()
        assert task is not None
        self._own[task] = execution
        self.executions[run_id] = (execution, task)
        alone_in_worker.set(self._alone(execution))  # in this run's context (its asyncio task)
        execution.hooks = app.kit.lifecycle(claimed)  # None unless a plugin listens
        if execution.hooks is not None:
            execution.hooks.run_started()
        io = IO(execution, app.kit.for_job(job))
        ctx = RunContext(
            run_id=run_id,
            app_id=app.app_id,
            job_id=job.id,
            job_version=claimed.job_version,
            event=EventInfo(
                id=event.id,
                name=event.name,
                timestamp=datetime.fromtimestamp(event.timestamp, UTC),
                payload=event.payload,
            ),
            execution_count=claimed.execution_count,
            is_retry=claimed.is_retry,
        )
        payload = job.parse_payload(event.payload)
        level = self._capture.get(job.id)
        if level is not None:  # this asyncio task is the run's: the setting stays inside it
            current_capture.set((execution, level))
        args: tuple[Any, ...]
        outcome: str
        result: Any = None
        failure: BaseException | None = None
        try:
            if job.is_async:
                args = (payload, io, ctx) if job.wants_context else (payload, io)
                result = await job.fn(*args)
            else:
                sio = SyncIO(io, loop)
                args = (payload, sio, ctx) if job.wants_context else (payload, sio)
                cv = contextvars.copy_context()
                result = await loop.run_in_executor(self._executor, lambda: cv.run(job.fn, *args))
            outcome = "returned"
        except Suspend:
            outcome = "suspended"
        except Canceled:
            outcome = "canceled"
        except LeaseLost:
            outcome = "lease_lost"
        except TimedOut:
            outcome = "timed_out"
        except StoreFailed:
            outcome = "store_failed"
        except Exception as exc:
            outcome = "raised"
            failure = execution.job_error = exc
        await execution.settle()
        now = clock.now()
        if execution.lease_lost:
            log.warning("run %s: lease lost; stopping without further writes", run_id)
            return "lease_lost"
        if execution.store_error is not None:
            raise execution.store_error
        try:
            if execution.canceled or outcome == "canceled":
                await store.finish_run(
                    lease, status=RunStatus.CANCELED, output=None, error=None, now=now
                )
                return RunStatus.CANCELED
            if execution.timed_out:
                error = json.dumps(
                    {
                        "type": "TimedOut",
                        "message": f"Run of job {job.id!r} exceeded its max_duration of "
                        f"{job.max_duration:g} s (from its first execution); it was stopped at a "
                        "task boundary. Raise max_duration, or retry the run to go on.",
                    }
                )
                ok = await store.finish_run(
                    lease, status=RunStatus.TIMED_OUT, output=None, error=error, now=now
                )
                return RunStatus.TIMED_OUT if ok else RunStatus.CANCELED
            if execution.suspend_at is not None:
                ok = await store.suspend_run(lease, ready_at=execution.suspend_at, now=now)
                return RunStatus.WAITING if ok else RunStatus.CANCELED
            if outcome == "raised":
                assert failure is not None
                error = _run_error(failure)
                await store.finish_run(
                    lease, status=RunStatus.FAILED, output=None, error=error, now=now
                )
                return RunStatus.FAILED
            if outcome == "returned":
                try:
                    text = _json.encode(result)
                except _json.NotJsonError as exc:
                    error = json.dumps(
                        {
                            "type": "OutputError",
                            "message": f"Job {job.id!r} returned a value that cannot be stored as "
                            f"JSON: {exc}. Return JSON-compatible data.",
                        }
                    )
                    await store.finish_run(
                        lease, status=RunStatus.FAILED, output=None, error=error, now=now
                    )
                    return RunStatus.FAILED
                if len(text.encode()) > app.limits.max_output_size:
                    error = json.dumps(
                        {
                            "type": "OutputError",
                            "message": f"Job {job.id!r} returned more than "
                            f"{app.limits.max_output_size:,} bytes of JSON.",
                        }
                    )
                    await store.finish_run(
                        lease, status=RunStatus.FAILED, output=None, error=error, now=now
                    )
                    return RunStatus.FAILED
                ok = await store.finish_run(
                    lease, status=RunStatus.COMPLETED, output=text, error=None, now=now
                )
                return RunStatus.COMPLETED if ok else RunStatus.CANCELED
            return outcome
        except LeaseLostError:
            log.warning("run %s: lease lost before its end could be recorded", run_id)
            return "lease_lost"


def _run_error(exc: BaseException) -> str:
    if isinstance(exc, TaskFailedError):
        data = _error_json(exc, task=exc.cache_key, task_error_type=exc.error_type)
    else:
        data = _error_json(exc)
    return json.dumps(data, ensure_ascii=False, default=str)
