"""The ``Store`` interface: everything the engine, worker, client and CLI ask of a database.

A store owns durability and concurrency between processes (claims, leases, fencing). It knows
nothing of job functions, pydantic schemas or retries: the engine decides, the store records.

Writes made on behalf of an executing run take the run's ``Lease`` and are *fenced*: when the
lease's token is no longer the run's current one (another worker claimed the run), the write is
rejected with ``LeaseLostError`` and nothing of it is applied.

``alone_in_worker`` is how a worker tells a store that the execution making a write has the
worker to itself, and a client's sync bridge that a call has its loop to itself (see its
docstring).
"""

from __future__ import annotations

import abc
import contextvars
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._records import (
    ApiKeyRecord,
    CancelDecision,
    ClaimedRun,
    ClaimRule,
    Event,
    JobRecord,
    Lease,
    LogEntry,
    NewRun,
    NewTask,
    RetryDecision,
    Run,
    RunQuery,
    RunState,
)
from ._faults import Faults

alone_in_worker: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "runio_alone_in_worker", default=None
)
"""Set by the worker in each execution's context: tells whether that execution is, right now,
the only one its worker runs, with at most one task running (and by a client's sync bridge,
``_portal``, in each call's context: whether that call is the only one running on the client's
loop). Then nobody else needs the event loop while the caller waits for its own commit, and a
store may apply the write (or run the read) on the calling thread, blocking it meanwhile,
instead of handing it to a writer thread and being woken afterwards: two thread hand-offs fewer
per operation. Otherwise writes made together should share a commit, which the writer thread
does. Stores that cannot do that ignore it."""


RESUMPTION_HEAD_START_S = 10.0
"""How far ahead of new runs a claim puts runs that already started. Ready runs are claimed in
the order of their claim time: a waiting run's due time, an executing run's expired lease, and a
queued run's ready time plus this head start. Under load, a wake-up from ``io.wait`` or from a
retry delay is not held up behind the new runs that arrived meanwhile; a queued run is passed
only by resumptions due less than this after it became ready, so it cannot starve."""


class Watch:
    """What ``Store.watch`` returns; ``await watch.close()`` stops the wake-ups."""

    async def close(self) -> None:
        return None


class Store(abc.ABC):
    """One database holding the runs of any number of apps."""

    url: str
    faults: Faults
    """Named fault points, armed by tests to fail a commit of one kind of write (see _faults)."""
    poll_interval: float = 1.0
    """Seconds between an idle worker's looks for runs it was not told about (runs created by
    another process). Stores that notify workers (``watch``) can afford a long one."""
    reopens_in_forked_child: bool = True
    """Whether a process forked from one that opened this store may open the same database
    anew (a client then does, on first use); else the store itself refuses in the child."""

    # -- schema ------------------------------------------------------------------------------
    @abc.abstractmethod
    async def upgrade(self) -> list[str]:
        """Apply pending migrations; return the names of those applied."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""

    @abc.abstractmethod
    def newest_known_version(self) -> int:
        """The newest migration this version of runio ships for this dialect."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # -- jobs and events ---------------------------------------------------------------------
    @abc.abstractmethod
    async def register_jobs(self, jobs: Sequence[JobRecord], now: float) -> None: ...

    @abc.abstractmethod
    async def list_jobs(self, app_id: str | None = None) -> list[JobRecord]: ...

    @abc.abstractmethod
    async def create_event(
        self, event: Event, runs: Sequence[NewRun], now: float
    ) -> tuple[Event, bool]:
        """Store an event and its runs atomically.

        Idempotent on ``(app_id, event.id)``: when that event exists already, nothing is written
        and the stored event (with the ids of the runs it created) is returned with ``False``.
        """

    # -- claiming and leases -----------------------------------------------------------------
    @abc.abstractmethod
    async def claim_runs(
        self,
        *,
        app_id: str,
        job_ids: Sequence[str],
        worker_id: str,
        limit: int,
        now: float,
        lease_seconds: float,
        rules: Mapping[str, ClaimRule] | None = None,
    ) -> list[ClaimedRun]:
        """Take up to ``limit`` runs ready to execute: queued or waiting runs whose time has
        come, and executing runs whose lease expired (their worker died), in the order of
        their claim time (``RESUMPTION_HEAD_START_S``): resumptions go first.

        ``rules`` (job id -> ``ClaimRule``) restrict what is taken: only runs of the listed
        versions, and for a job with a concurrency limit only while fewer than the limit of its
        runs (with the same concurrency key, if keyed) execute under a live lease, oldest
        created first. The count and the claim are one atomic decision across every process
        sharing the database."""

    @abc.abstractmethod
    async def next_ready_at(
        self,
        *,
        app_id: str,
        job_ids: Sequence[str],
        rules: Mapping[str, ClaimRule] | None = None,
        now: float | None = None,
    ) -> float | None:
        """When the earliest queued or waiting run of these jobs becomes ready, if any. With
        ``rules`` and ``now``, runs of a concurrency-limited job that are ready already but
        wait for a slot are left out (a slot frees when a run ends, which wakes the worker)."""

    # -- flow control --------------------------------------------------------------------------
    @abc.abstractmethod
    async def runs_without_concurrency_key(
        self, *, app_id: str, job_ids: Sequence[str], limit: int
    ) -> list[tuple[str, str, Any]]:
        """Unfinished runs of these (keyed) jobs whose concurrency key is not computed yet,
        oldest first: ``(run id, job id, event payload)``. Executing ones are included: a run
        started by code that had no key must get one, or it could not be claimed again once
        its lease ran out."""

    @abc.abstractmethod
    async def set_concurrency_keys(
        self, *, keys: Mapping[str, str], failures: Mapping[str, str], now: float
    ) -> None:
        """Record computed concurrency keys (``run id -> key``) of runs still without one, and
        end as FAILED, with the given error JSON, the runs whose key could not be computed
        (if they are still queued or waiting without a key)."""

    async def watch(self, app_id: str, wake: Callable[[], None]) -> Watch:
        """Call ``wake`` (from any thread) whenever runs of ``app_id`` may have become ready,
        so an idle worker claims them at once. A store without notifications returns a
        ``Watch`` that does nothing: workers then find new runs by polling."""
        return Watch()

    @abc.abstractmethod
    async def heartbeat(
        self, leases: Sequence[Lease], *, now: float, lease_seconds: float
    ) -> dict[str, str]:
        """Extend these leases. Returns ``{run_id: reason}`` for runs this worker must stop:
        ``"lost"`` (another worker holds it) or ``"canceled"``."""

    # -- one execution of a run (all fenced by the lease) ------------------------------------
    @abc.abstractmethod
    async def load_run_state(self, run_id: str) -> RunState:
        """What an execution replays from, in one round trip and one snapshot: the output of
        each completed task of the run, every other task whole, and for each log scope the
        highest log sequence number already stored.

        Not asked for a run's first execution (``ClaimedRun.execution_count`` 1): a run never
        claimed before has nothing stored, since every task and log line is written under a
        lease and each claim granting one counts an execution."""

    @abc.abstractmethod
    def start_attempt(
        self, lease: Lease, *, new_task: NewTask | None, task_id: str, attempt: int, now: float
    ) -> None:
        """Record that an attempt started, without waiting for it.

        Writes of one run are applied in the order they are made, so an error here (a lost
        lease) surfaces on the run's next awaited write.
        """

    async def flush(self) -> None:
        """Wait until every write made so far (unawaited ones included) is committed: it
        survives a crash of this process, though not necessarily a power loss."""
        return None

    @abc.abstractmethod
    async def complete_task(
        self,
        lease: Lease,
        *,
        task_id: str,
        attempt: int,
        output: str,
        output_properties: str | None,
        now: float,
    ) -> str:
        """Durably store a task's result; return the run's status (to notice a cancel)."""

    @abc.abstractmethod
    async def fail_attempt(
        self,
        lease: Lease,
        *,
        task_id: str,
        attempt: int,
        error: str,
        retry_at: float | None,
        now: float,
    ) -> str:
        """Durably record a failed attempt: the task waits for ``retry_at``, or (None) it failed
        for good. Returns the run's status."""

    @abc.abstractmethod
    def record_wait(self, lease: Lease, *, new_task: NewTask, wake_at: float) -> None:
        """Record a new wait (a task waiting until ``wake_at``), without waiting for it (see
        start_attempt): the run's next awaited write, most often the pause that follows it
        (``suspend_run``), is applied after it, so the run never pauses with its wait unstored,
        and a pause costs one durable commit rather than two."""

    @abc.abstractmethod
    def complete_wait(self, lease: Lease, *, task_id: str, now: float) -> None:
        """Mark a wait whose time has come as completed (not awaited; see start_attempt)."""

    @abc.abstractmethod
    def add_logs(self, lease: Lease, logs: Sequence[LogEntry]) -> None:
        """Store log lines (not awaited; see start_attempt). Lines already stored are ignored."""

    @abc.abstractmethod
    async def suspend_run(self, lease: Lease, *, ready_at: float, now: float) -> bool:
        """Park the run until ``ready_at`` and give up the lease. False if it was canceled."""

    @abc.abstractmethod
    async def finish_run(
        self, lease: Lease, *, status: str, output: str | None, error: str | None, now: float
    ) -> bool:
        """Record the run's end. False if the run had been canceled meanwhile (it stays so)."""

    @abc.abstractmethod
    async def release_run(self, lease: Lease, *, now: float) -> None:
        """Give the run back (a worker stopping, or one whose store failed): queued again and
        ready at once, with ``ready_at`` one ``RESUMPTION_HEAD_START_S`` before ``now`` so that,
        having started, it keeps its place before runs that never did."""

    # -- operations ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def get_run(self, run_id: str, *, with_tasks: bool = True) -> Run | None: ...

    @abc.abstractmethod
    async def list_runs(
        self,
        *,
        app_id: str | None = None,
        job_id: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[Run]: ...

    @abc.abstractmethod
    async def record_cancel(self, decision: CancelDecision, *, now: float) -> bool:
        """Record a cancel decided by the engine (``runio._run_rules``): the run CANCELED, its
        tasks in ``decision.end_tasks`` CANCELED (running ones' open attempts interrupted).
        Only if the run is still in ``decision.status``: else nothing is written and False is
        returned. RunNotFoundError for an unknown run."""

    @abc.abstractmethod
    async def record_retry(self, decision: RetryDecision, *, now: float) -> bool:
        """Record a retry decided by the engine: each task reset as decided (if it is still in
        the status it was seen in; its attempts so far become its attempt base), the run QUEUED
        and ready now, marked as retried. Only if the run is still in ``decision.status``: else
        nothing is written and False is returned. RunNotFoundError for an unknown run."""

    @abc.abstractmethod
    async def replay_run(self, run_id: str, *, new_run_id: str, now: float) -> Run:
        """Start a new run of the same job for the same event, with the job's version as
        registered now (the replayed run's if the job is not registered)."""

    @abc.abstractmethod
    async def find_runs(self, query: RunQuery) -> list[Run]:
        """One page of runs (without their tasks), newest first: what the HTTP API and the
        dashboard list, with time ranges, search and a keyset cursor (see ``RunQuery``)."""

    # -- waits for events, delayed events, io.store ---------------------------------------------
    @abc.abstractmethod
    async def create_events(
        self, items: Sequence[tuple[Event, Sequence[NewRun]]], now: float
    ) -> list[tuple[Event, bool]]:
        """``create_event`` for several events in one transaction: all are stored or none."""

    @abc.abstractmethod
    async def has_event_waits(self, app_id: str, name: str) -> bool:
        """Whether a run of the app has ever waited for an event with this name."""

    @abc.abstractmethod
    async def record_event_wait(
        self,
        lease: Lease,
        *,
        new_task: NewTask | None,
        task_id: str,
        name: str,
        filter: str | None,
        began_at: float,
        timeout_at: float,
    ) -> None:
        """The run starts waiting for an event named ``name`` (``filter``: JSON, or None): the
        task (``new_task``, or the existing ``task_id`` a retry reset) waits until
        ``timeout_at``, and every event stored after this commit is matched to it."""

    @abc.abstractmethod
    async def resolve_event_wait(
        self, lease: Lease, *, task_id: str, now: float, timeout_error: str
    ) -> tuple[str, Any]:
        """End a wait whose time has come: ``("event", event JSON)`` when its event is delivered
        (the task completes with that output), ``("timeout", None)`` when it timed out (the task
        errs with ``timeout_error``), else ``("waiting", wake_at)`` (its event was canceled)."""

    @abc.abstractmethod
    async def get_event(self, app_id: str, event_id: str) -> Event | None: ...

    @abc.abstractmethod
    async def cancel_event(
        self, app_id: str, event_id: str, *, now: float
    ) -> tuple[Event | None, str]:
        """Cancel a delayed event not delivered yet: its queued runs are canceled and the waits
        it matched wait on (for the next matching event, else their timeout). Returns the event
        and ``"canceled"``, or why not: ``"delivered"``, ``"canceled_before"``, ``"missing"``."""

    @abc.abstractmethod
    def delay_task(self, lease: Lease, *, new_task: NewTask, start_at: float) -> None:
        """Record a task that may start no earlier than ``start_at`` (WAITING, its ``retry_at``
        set, no attempt yet), without waiting for it: as ``record_wait``, the run's pause
        that follows is applied after it."""

    @abc.abstractmethod
    async def get_item(self, app_id: str, scope: str, owner: str, key: str) -> str | None:
        """An ``io.store`` item's JSON, or None."""

    @abc.abstractmethod
    async def set_item(
        self, app_id: str, scope: str, owner: str, key: str, value: str, *, now: float
    ) -> None: ...

    @abc.abstractmethod
    async def delete_item(self, app_id: str, scope: str, owner: str, key: str) -> bool:
        """Whether there was an item to delete."""

    # -- API keys of the HTTP server -------------------------------------------------------------
    @abc.abstractmethod
    async def create_api_key(self, key: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones too, oldest first."""

    @abc.abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    async def revoke_api_key(self, key_id: str, *, now: float) -> ApiKeyRecord | None:
        """Mark the key revoked (once: a second revoke keeps the first time). None if unknown."""

    @abc.abstractmethod
    async def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one SQL statement (for tests and diagnostics)."""
