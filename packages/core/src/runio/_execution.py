"""One execution of a run: replaying stored task results and running new tasks.

This module owns the task semantics of the contract (cache keys, idempotency keys, retries,
outputs, waits, suspension). It never touches SQL (the store does) nor decides which runs to
execute (the worker does).

Replay: the run's stored tasks are loaded once per execution, keyed by idempotency key: the
output JSON of each completed task into ``Execution.outputs``, every other task whole into
``Execution.tasks``. A task already completed costs one hash, a dictionary lookup and the
decoding of its output. A new task costs one unawaited "attempt started" write and one durable
"task completed" write.

A plain (non-async) task function runs in the worker's task threads, so that a blocking call in it
never holds the event loop. Handing it there and being woken for its result costs two thread
hand-offs, each slower than the function itself when it only computes. So, when the execution is
alone in its worker (``storage.alone_in_worker``: nothing else needs the loop), the loop waits for
the function's thread for up to ``QUICK_CALL`` seconds, blocked, before it awaits the result as
usual. That call goes through the task threads' quick lane (``_task_threads``): two bare lock
hand-offs. A function whose call outlasted the wait (it does I/O) is awaited at once for its next
calls: 64 of them after its first long call, twice as many after each further one, up to 4,096,
so a function that only once met a busy machine is soon waited for again.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import json
import logging
import math
import random as _random
import traceback
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from inspect import CO_COROUTINE
from types import FunctionType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from . import _json
from ._ids import new_id
from ._keys import cache_key_json, scope_prefix, task_key
from ._loop_turn import LoopTurn
from ._records import ClaimedRun, Event, LogEntry, NewTask, RunStatus, StoredTask, TaskStatus
from ._task import Property, Task, as_property
from ._task_threads import TaskThreads
from ._validate import printable
from .errors import (
    ConfigurationError,
    DuplicateCacheKeyError,
    EventTimeoutError,
    LeaseLostError,
    NonRetryableError,
    OutputError,
    StoreError,
    TaskDepthError,
    TaskFailedError,
    TaskTimeoutError,
)
from .retry import RetryAt, RetryOptions, SkipRetrying
from .storage import Store, alone_in_worker

if TYPE_CHECKING:
    from .plugins import Lifecycle

log = logging.getLogger("runio.run")

# The enum members every task reads, bound once: on Python 3.11 a member read off its class goes
# through ``EnumType.__getattr__``'s slot, ten times a plain attribute's cost (3.12 dropped it).
_RUNNING, _COMPLETED = TaskStatus.RUNNING, TaskStatus.COMPLETED
_RUN_CANCELED = RunStatus.CANCELED
T = TypeVar("T")
_MISSING = object()
NOT_STORED: Any = object()
"""What ``Execution.replay`` returns for a call whose task an earlier execution did not complete."""

QUICK_CALL = 0.001
"""Seconds the event loop may wait, blocked, for a plain task function's thread (see above)."""
_slow_functions: weakref.WeakKeyDictionary[Any, list[int]] = weakref.WeakKeyDictionary()
"""Code of plain task functions whose call outlasted ``QUICK_CALL`` -> [calls still to await at
once, how many the next long call sets]."""
_SLOW_SKIP_FIRST, _SLOW_SKIP_MAX = 64, 4096


class _Signal(BaseException):
    """Stops a job function; a BaseException so ``except Exception`` never swallows it."""


class Suspend(_Signal):
    """The run pauses (a wait, a retry delay, a worker shutting down) and resumes later."""


class Canceled(_Signal):
    """The run was canceled; it stops at this task boundary."""


class TimedOut(_Signal):
    """The run has outlived its job's ``max_duration``."""


class StoreFailed(_Signal):
    """The database failed a write; the execution stops and the run is resumed later."""


class LeaseLost(_Signal):
    """Another worker took over the run; this execution stops writing."""


class EventOps(Protocol):
    """The app's operations on events that ``io`` calls (the client provides them)."""

    async def send_events_async(self, events: Sequence[Mapping[str, Any]]) -> list[Event]: ...

    async def get_event_async(self, id: str) -> Event: ...

    async def cancel_event_async(self, id: str) -> Event: ...


@dataclass(frozen=True, slots=True)
class Limits:
    max_output_size: int
    max_task_depth: int
    time_scale: float
    default_retry: RetryOptions | None


@dataclass(slots=True)
class Frame:
    """The task whose function is running, so tasks started inside it become its children."""

    execution: Execution
    task_id: str
    idempotency_key: str
    cache_key: Any
    depth: int
    attempt: int


current_frame: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "runio_current_task", default=None
)


def _error_json(exc: BaseException, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": printable(str(exc) or type(exc).__name__),
    }
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=20))
    data["stack"] = printable(tb[-8000:])
    if getattr(exc, "outcome_unknown", False):  # a timeout, a dropped connection...
        data["outcome_unknown"] = True
    data.update(extra)
    return data


class Execution:
    """State of one execution of one run, shared by every task call made during it."""

    def __init__(
        self,
        *,
        claimed: ClaimedRun,
        store: Store,
        clock: Any,
        limits: Limits,
        stored_tasks: list[StoredTask],
        log_marks: dict[str, int],
        outputs: dict[str, str | None] | None = None,
        executor: TaskThreads,
        loop: asyncio.AbstractEventLoop,
        send_event: Callable[..., Awaitable[Any]],
        deadline: float | None = None,
    ) -> None:
        self.claimed = claimed
        self.lease = claimed.lease
        self.run_id = claimed.lease.run_id
        self.job_id = claimed.job_id
        self.store = store
        self.clock = clock
        self.limits = limits
        self.executor = executor
        self.loop = loop
        self.send_event_fn = send_event
        self.tasks: dict[str, StoredTask] = {t.idempotency_key: t for t in stored_tasks}
        self.outputs: dict[str, str | None] = {} if outputs is None else outputs
        """Idempotency key -> output JSON of each task completed by an earlier execution, until
        this execution replays it (all a replay needs of a completed task)."""
        self.seen: dict[str, int] = {}
        """Idempotency key -> the number of the call that claimed it: a key is claimed once per
        execution, in one atomic step (``setdefault``), also from a thread (``io.sync``)."""
        self._claims = itertools.count()
        self._top_scope = scope_prefix(self.run_id, None)
        self._computed: tuple[Any, Frame | None, str] | None = None
        """The key ``replay`` computed for a call it passed on to ``run_task``."""
        self.log_marks = log_marks
        self.log_counts: dict[str, int] = {}
        # A task left RUNNING by a run that suspended was interrupted by its own subtask's wait
        # or retry delay: its attempt goes on. After a crash, release or retry it did not.
        self.resume_running = claimed.status_before == RunStatus.WAITING
        self.inflight = 0
        """Tasks (and event-wait resolutions) of this execution in progress."""
        self._settled: asyncio.Event | None = None
        """Set when ``inflight`` falls to 0, while ``settle`` waits for it (made only then)."""
        self.suspend_at: float | None = None
        self.stopping = False
        self.canceled = False
        self.lease_lost = False
        self.store_error: StoreError | None = None
        self.deadline = deadline
        self.timed_out = False
        # Lifecycle hooks of plugins: None unless one implements some (the worker decides once
        # per execution), so the hot path pays one attribute check.
        self.hooks: Lifecycle | None = None
        self.task_integrations: dict[str, str] = {}
        """Task id -> the id of the integration instance whose call it is (for the hooks)."""
        self.job_error: BaseException | None = None

    # -- boundaries ------------------------------------------------------------------------------
    def check_boundary(self) -> None:
        """Raise the signal that ends this execution, if any: a lost lease, a failed write,
        a cancellation, the run's deadline, or a pause (the run suspending, or the worker
        stopping): once a run is pausing, no new task starts."""
        self.check_live()
        if self.suspend_at is not None:
            raise Suspend()
        if self.stopping:
            self.suspend_at = self.clock.now()
            raise Suspend()

    def check_live(self) -> None:
        """``check_boundary`` without the pause: what a new wait checks. A wait reached while
        the run is pausing (another branch of an ``asyncio.gather`` reached a wait first) is
        still recorded, so parallel waits begin when they are reached, not when the run
        resumes; the run then pauses until the earliest of them ends."""
        if self.lease_lost:
            raise LeaseLost()
        if self.store_error is not None:
            raise StoreFailed()
        if self.canceled:
            raise Canceled()
        if self.deadline is not None and self.clock.now() >= self.deadline:
            self.timed_out = True
            raise TimedOut()

    async def suspend_until(self, when: float, turn: LoopTurn | None = None) -> Suspend:
        """Pause the run until ``when`` (or its deadline): the ``Suspend`` to raise. The
        branches started with this one (one ``asyncio.gather``) get a loop turn first, so each
        reaches its first step before the run is pausing: a task it starts runs and is
        recorded before the run pauses, a wait it reaches is recorded (``check_live``). Without
        the turn, a branch that pauses without awaiting anything (a wait recorded on the event
        loop's thread) would keep its siblings from starting until the run resumes. ``turn``,
        made before the write that records the pause: when the loop has had a turn since (the
        write was awaited), the siblings have had theirs, and none is added."""
        if turn is None or not turn.taken:
            await asyncio.sleep(0)
        if self.deadline is not None:
            when = min(when, self.deadline)
        self.suspend_at = when if self.suspend_at is None else min(self.suspend_at, when)
        return Suspend()

    async def settle(self) -> None:
        """Wait until no task of this execution is in progress (a job that raised may have left
        some running)."""
        while self.inflight:
            settled = self._settled
            if settled is None or settled.is_set():
                settled = self._settled = asyncio.Event()
            await settled.wait()

    def _leave(self) -> None:
        self.inflight -= 1
        if self.inflight == 0 and self._settled is not None:
            self._settled.set()

    def _note_status(self, status: str) -> None:
        if status == _RUN_CANCELED:
            self.canceled = True

    async def _persist(self, write: Awaitable[T]) -> T:
        """Await a write of this run. A lost lease or a failing database stops the execution
        (as signals, so the job cannot swallow them); the run is resumed from what is stored."""
        try:
            return await write
        except LeaseLostError:
            raise self._lost_lease() from None
        except StoreError as exc:
            raise self._store_failed(exc) from exc

    def _lost_lease(self) -> LeaseLost:
        """(A write was refused: another worker holds the run.) The signal that stops this
        execution."""
        self.lease_lost = True
        return LeaseLost()

    def _store_failed(self, exc: StoreError) -> StoreFailed:
        """(A write failed.) The signal that stops this execution."""
        self.store_error = exc
        return StoreFailed()

    # -- keys ----------------------------------------------------------------------------------
    def _key(self, cache_key: Any, parent: Frame | None) -> str:
        if parent is None:
            return task_key(self._top_scope, cache_key)
        return task_key(scope_prefix(self.run_id, parent.idempotency_key), cache_key)

    def _claim_key(self, cache_key: Any, parent: Frame | None) -> tuple[str, int]:
        computed = self._computed
        if computed is not None and computed[0] is cache_key and computed[1] is parent:
            key = computed[2]  # the same call, passed on by replay
        else:
            key = self._key(cache_key, parent)
        self._computed = None
        claim = next(self._claims)
        if self.seen.setdefault(key, claim) != claim:
            where = f"inside task {parent.cache_key!r}" if parent else "at the top level"
            raise DuplicateCacheKeyError(
                f"Task with cache key {cache_key!r} has already been executed in this run of job "
                f"{self.job_id!r} ({where}). Each task in a scope needs a unique cache key: add "
                f"what varies to the key, e.g. [{cache_key!r}, item_id].",
                run_id=self.run_id,
                job_id=self.job_id,
                cache_key=cache_key,
            )
        depth = parent.depth + 1 if parent else 1
        return key, depth

    def _new_task(
        self,
        key: str,
        cache_key: Any,
        parent: Frame | None,
        depth: int,
        kind: str,
        now: float,
        name: str | None = None,
        icon: str | None = None,
        properties: str | None = None,
        params: str | None = None,
        style: str | None = None,
        redact: str | None = None,
        description: str | None = None,
        display_key: str | None = None,
    ) -> NewTask:
        return NewTask(
            new_id("task"),
            self.run_id,
            parent.task_id if parent else None,
            key,
            cache_key_json(cache_key),
            kind,
            name or str(cache_key),
            icon,
            properties,
            params,
            style,
            redact,
            depth,
            now,
            description,
            display_key,
        )

    # -- tasks ---------------------------------------------------------------------------------
    def replay(
        self,
        cache_key: Any,
        fn: Any,
        parent: Frame | None,
        output_type: Any,
        *,
        on_loop: bool = True,
    ) -> Any:
        """The start of ``run_task``, as a plain call (no coroutine): the stored output of a task
        an earlier execution completed, claimed as ``run_task`` claims it. For any other call
        ``NOT_STORED``, and ``run_task`` does the rest (with the key computed here when
        ``on_loop``). Safe from a worker thread (``on_loop=False``): it reads the execution's
        state and claims the key in one atomic step."""
        self.check_boundary()
        if not callable(fn):
            return NOT_STORED  # run_task says what is wrong
        if parent is None:  # the top level, most often: one call fewer than _key
            key = task_key(self._top_scope, cache_key)
        else:
            key = self._key(cache_key, parent)
        if key in self.outputs:
            claim = next(self._claims)
            if self.seen.setdefault(key, claim) != claim:
                return NOT_STORED  # claimed already: run_task reports the duplicate
            text = self.outputs.pop(key)  # only the call that claimed the key takes it out
            if output_type is None:
                return _json.decode(text)
            return self._output(text, output_type, cache_key)
        if on_loop:
            self._computed = (cache_key, parent, key)
        return NOT_STORED

    async def run_task(
        self,
        cache_key: Any,
        fn: Callable[[Task], Any],
        *,
        parent: Frame | None,
        name: str | None = None,
        icon: str | None = None,
        properties: Sequence[Any] | None = None,
        params: Any = None,
        retry: RetryOptions | None = None,
        on_error: Callable[..., Any] | None = None,
        redact: list[str] | None = None,
        style: str | None = None,
        timeout: float | None = None,
        output_type: Any = None,
        kind: str = "task",
        record_start: bool = False,
        scrub_output: Callable[[str], str] | None = None,
        integration: str | None = None,
        description: str | None = None,
        display_key: str | None = None,
        delay_until: float | None = None,
    ) -> Any:
        """Run one task (see ``IO.run_task``). ``record_start`` stores the attempt's start
        before ``fn`` runs (integration tasks: a vendor call is a side effect outside the
        database); ``scrub_output`` rewrites the encoded output before it is stored (an
        integration removes its secrets); ``integration`` is the id of the integration instance
        whose call this is, told to the lifecycle hooks."""
        self.check_boundary()
        if not callable(fn):
            raise ConfigurationError(
                f"io.run_task({cache_key!r}, fn): fn must be a function taking the task, "
                f"got {fn!r}."
            )
        key, depth = self._claim_key(cache_key, parent)
        if key in self.outputs:  # completed by an earlier execution: the replay's hot path
            text = self.outputs.pop(key)
            if output_type is None:
                return _json.decode(text)
            return self._output(text, output_type, cache_key)
        stored = self.tasks.get(key)
        new_task: NewTask | None = None
        outcome_unknown = False
        now = self.clock.now()
        if stored is not None:
            status = stored.status
            if status == TaskStatus.COMPLETED:
                return self._output(stored.output, output_type, cache_key)
            if status == TaskStatus.ERRORED:
                raise self._failed_error(
                    cache_key, stored.error, stored.id, stored.attempts, stored.parent_id
                )
            if status == TaskStatus.CANCELED:
                raise Canceled()
            if status == TaskStatus.WAITING:
                if stored.retry_at is not None and stored.retry_at > now:
                    raise await self.suspend_until(stored.retry_at)
                attempt = stored.attempts + 1
                outcome_unknown = _outcome_was_unknown(stored.error)
            elif status == TaskStatus.RUNNING and self.resume_running:
                attempt = stored.attempts
            elif status == TaskStatus.RUNNING:
                attempt = stored.attempts + 1
                outcome_unknown = True
            else:  # PENDING: created, or reset by retry run (which keeps an unknown outcome)
                attempt = stored.attempts + 1
                outcome_unknown = _outcome_was_unknown(stored.error)
            task_id = stored.id
            attempt_base = stored.attempt_base
            started_at = stored.started_at
            if started_at is None:
                started_at = stored.started_at = now
        else:
            if depth > self.limits.max_task_depth:
                raise TaskDepthError(
                    f"Task {cache_key!r} would be nested {depth} levels deep, deeper than "
                    f"max_task_depth={self.limits.max_task_depth}. Flatten the task tree, or "
                    f"raise runio.Client(max_task_depth=...) if the depth is intended.",
                    run_id=self.run_id,
                    job_id=self.job_id,
                    cache_key=cache_key,
                )
            new_task = self._new_task(  # positional: keywords cost a dict per call
                key,
                cache_key,
                parent,
                depth,
                kind,
                now,
                name,
                icon,
                _properties_json(properties, cache_key) if properties else None,
                _params_json(params, cache_key) if params is not None else None,
                style,
                json.dumps(list(redact)) if redact else None,
                description,
                display_key,
            )
            if delay_until is not None:
                await self._delay(new_task, delay_until)
                now = self.clock.now()
            task_id = new_task.id
            attempt = 1
            attempt_base = 0
            started_at = now
            # A new task's StoredTask is made only if its attempt fails (``_stored``): nothing
            # else of this execution looks the task up again (its key is claimed).

        task = Task(  # positional (in the fields' order): keywords cost a dict per call
            task_id,
            key,
            attempt,
            cache_key,
            self.run_id,
            parent.task_id if parent else None,
            params,
            name or str(cache_key),
            outcome_unknown,
            started_at,
        )
        if stored is None or not (self.resume_running and stored.status == _RUNNING):
            self.store.start_attempt(
                self.lease, new_task=new_task, task_id=task_id, attempt=attempt, now=now
            )
            if record_start:
                await self._persist(self.store.flush())
        if stored is not None:
            stored.status = _RUNNING
            stored.attempts = attempt
        hooks = self.hooks
        if integration is not None:
            self.task_integrations[task_id] = integration
        if hooks is not None:
            hooks.task_started(task, kind, integration)
        frame = Frame(self, task_id, key, cache_key, depth, attempt)
        self.inflight += 1
        try:
            try:
                if timeout is None and _is_async(fn):  # _call's first case, inline (the hot path)
                    token = current_frame.set(frame)
                    try:
                        result = await fn(task)
                        if _maybe_awaitable(result):
                            result = await result
                    finally:
                        current_frame.reset(token)
                else:
                    result = await self._call(fn, task, frame, timeout, cache_key, attempt)
            except _Signal:
                raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._attempt_failed(
                    exc,
                    task,
                    _stored_of(stored, new_task, started_at),
                    cache_key,
                    attempt - attempt_base,
                    retry,
                    on_error,
                )
                raise AssertionError("unreachable") from None
            try:
                text = _json.encode(result)
            except _json.NotJsonError as exc:
                await self._refuse_output(
                    f"Task {cache_key!r} returned a value that cannot be stored as JSON: {exc}. "
                    "Return JSON-compatible data (dicts, lists, str, numbers, pydantic models, "
                    "dataclasses, datetimes).",
                    task,
                    _stored_of(stored, new_task, started_at),
                    cache_key,
                )
            fresh = result
            if scrub_output is not None:
                scrubbed = scrub_output(text)
                if scrubbed != text:
                    text, fresh = scrubbed, _MISSING
            limit = self.limits.max_output_size
            # UTF-8 takes at most 4 bytes a character: most outputs need no count
            if len(text) * 4 > limit and (size := len(text.encode("utf-8"))) > limit:
                await self._refuse_output(
                    f"Task {cache_key!r} returned {size:,} bytes of JSON, more than the "
                    f"{self.limits.max_output_size:,}-byte limit. Store large data elsewhere and "
                    "return a reference, or raise runio.Client(max_output_size=...).",
                    task,
                    _stored_of(stored, new_task, started_at),
                    cache_key,
                )
            try:
                props = (
                    _properties_json(task.output_properties, cache_key)
                    if task.output_properties
                    else None
                )
            except ConfigurationError as exc:  # a bad output property fails the task, named
                await self._refuse_output(
                    f"{exc} (in task.output_properties)",
                    task,
                    _stored_of(stored, new_task, started_at),
                    cache_key,
                )
            if props is not None and scrub_output is not None:
                props = scrub_output(props)
            try:  # as _persist does (inline: one coroutine fewer on every task's path)
                status = await self.store.complete_task(
                    self.lease,
                    task_id=task_id,
                    attempt=attempt,
                    output=text,
                    output_properties=props,
                    now=self.clock.now(),
                )
            except LeaseLostError:
                raise self._lost_lease() from None
            except StoreError as exc:
                raise self._store_failed(exc) from exc
            if status == _RUN_CANCELED:  # _note_status, inline
                self.canceled = True
            if stored is not None:
                stored.status = _COMPLETED
                stored.output = text
            if hooks is not None:
                hooks.task_completed(
                    task,
                    kind,
                    result if fresh is result else _json.decode(text),
                    integration,
                )
            return self._output(text, output_type, cache_key, fresh=fresh)
        finally:
            self._leave()

    async def _call(
        self,
        fn: Callable[[Task], Any],
        task: Task,
        frame: Frame,
        timeout: float | None,
        cache_key: Any,
        attempt: int,
    ) -> Any:
        # The frame is set in this asyncio task's context for as long as fn runs: an async fn
        # awaited here sees it, a sync fn gets a copy of the context in its thread.
        token = current_frame.set(frame)
        try:
            if _is_async(fn):
                pending: Awaitable[Any] = fn(task)
            else:
                run = contextvars.copy_context().run
                if timeout is None and _quick_call_worth_waiting(fn):
                    done, result = self.executor.call_quick(run, fn, task, wait=QUICK_CALL)
                    if done:
                        return (await result) if _maybe_awaitable(result) else result
                    _note_slow(fn)
                    call = result
                else:
                    call = self.executor.submit(run, fn, task)
                pending = asyncio.wrap_future(call, loop=self.loop)
            if timeout is None:
                result = await pending
            else:
                try:
                    result = await asyncio.wait_for(pending, timeout)
                except TimeoutError:
                    raise TaskTimeoutError(
                        f"Task {cache_key!r} attempt {attempt} ran longer than its {timeout} s "
                        "timeout.",
                        run_id=self.run_id,
                        job_id=self.job_id,
                        cache_key=cache_key,
                        attempt=attempt,
                    ) from None
            return (await result) if _maybe_awaitable(result) else result
        finally:
            current_frame.reset(token)

    async def _attempt_failed(
        self,
        exc: Exception,
        task: Task,
        stored: StoredTask,
        cache_key: Any,
        attempts_so_far: int,
        retry: RetryOptions | None,
        on_error: Callable[..., Any] | None,
    ) -> None:
        if isinstance(exc, TaskFailedError) and getattr(exc, "_parent_id", None) == task.id:
            error = _error_json(
                exc,
                type="SubtaskFailed",
                message=f"Subtask {exc.cache_key!r} failed: {exc.error_message}",
                subtask=exc.cache_key,
            )
            await self._record_failure(error, task, stored, cache_key, None, exc)
            return
        if isinstance(exc, NonRetryableError | OutputError):
            await self._record_failure(_error_json(exc), task, stored, cache_key, None, exc)
            return
        options = retry if retry is not None else self.limits.default_retry
        recorded: BaseException = exc
        retry_at: float | None = None
        decided = False
        if on_error is not None:
            try:
                verdict = on_error(exc, task)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except _Signal:
                raise
            except Exception as hook_exc:
                hook_exc.__cause__ = exc
                await self._record_failure(
                    _error_json(hook_exc, message=f"on_error raised: {hook_exc}"),
                    task,
                    stored,
                    cache_key,
                    None,
                    hook_exc,
                )
                return
            if isinstance(verdict, SkipRetrying):
                await self._record_failure(_error_json(exc), task, stored, cache_key, None, exc)
                return
            if isinstance(verdict, RetryAt) and attempts_so_far >= verdict.limit:
                error = _error_json(exc, retry_at_limit=verdict.limit)
                error["message"] += (
                    f" (gave up after {attempts_so_far} attempts: RetryAt allows {verdict.limit} "
                    "in all; see RetryAt(limit=...))"
                )
                await self._record_failure(error, task, stored, cache_key, None, exc)
                return
            if isinstance(verdict, RetryAt):
                now = self.clock.now()
                retry_at = now + max(0.0, verdict.timestamp(now) - now) * self.limits.time_scale
                decided = True
            elif isinstance(verdict, NonRetryableError):
                await self._record_failure(
                    _error_json(verdict), task, stored, cache_key, None, verdict
                )
                return
            elif isinstance(verdict, BaseException):
                recorded = verdict
            elif verdict is not None:
                bad = ConfigurationError(
                    f"on_error for task {cache_key!r} returned {verdict!r}; return None, an "
                    "exception to record instead, runio.RetryAt(...) or runio.SKIP_RETRYING."
                )
                await self._record_failure(_error_json(bad), task, stored, cache_key, None, exc)
                return
        if not decided and options is not None:
            delay = options.delay_after(attempts_so_far)
            if delay is not None:
                retry_at = self.clock.now() + delay * self.limits.time_scale
        await self._record_failure(_error_json(recorded), task, stored, cache_key, retry_at, exc)

    async def _refuse_output(
        self, message: str, task: Task, stored: StoredTask, cache_key: Any
    ) -> NoReturn:
        """Fail the task for good: its function returned an output that cannot be stored."""
        error = OutputError(
            message,
            run_id=self.run_id,
            job_id=self.job_id,
            cache_key=cache_key,
            attempt=task.attempt,
        )
        await self._record_failure(_error_json(error), task, stored, cache_key, None, error)
        raise AssertionError("unreachable")

    async def _record_failure(
        self,
        error: dict[str, Any],
        task: Task,
        stored: StoredTask,
        cache_key: Any,
        retry_at: float | None,
        cause: BaseException,
    ) -> None:
        if task.outcome_unknown:  # an earlier attempt may have had its effect: later ones know
            error.setdefault("outcome_unknown", True)
        text = json.dumps(error, ensure_ascii=False, default=str)
        turn = LoopTurn(self.loop)
        status = await self._persist(
            self.store.fail_attempt(
                self.lease,
                task_id=task.id,
                attempt=task.attempt,
                error=text,
                retry_at=retry_at,
                now=self.clock.now(),
            )
        )
        self._note_status(status)
        stored.error = text
        if self.hooks is not None:
            self.hooks.task_attempt_failed(
                task,
                stored.kind,
                error,
                cause,
                retry_at,
                self.task_integrations.get(task.id),
            )
        if retry_at is not None:
            stored.status = TaskStatus.WAITING
            stored.retry_at = retry_at
            log.info(
                "task %r attempt %d failed (%s); retrying at %s",
                cache_key,
                task.attempt,
                error["message"],
                retry_at,
            )
            raise await self.suspend_until(retry_at, turn)
        stored.status = TaskStatus.ERRORED
        raise self._failed_error(cache_key, text, task.id, task.attempt, task.parent_id) from cause

    def _failed_error(
        self,
        cache_key: Any,
        error_text: str | None,
        task_id: str,
        attempts: int,
        parent_id: str | None,
    ) -> TaskFailedError:
        error = json.loads(error_text) if error_text else {}
        etype = error.get("type", "Error")
        message = error.get("message", "unknown error")
        exc = TaskFailedError(
            f"Task {cache_key!r} failed after {attempts} attempt(s): {etype}: {message}",
            error_type=etype,
            error_message=message,
            run_id=self.run_id,
            job_id=self.job_id,
            cache_key=cache_key,
            attempt=attempts,
            task_id=task_id,
        )
        exc._parent_id = parent_id  # type: ignore[attr-defined]
        return exc

    def _output(
        self, text: str | None, output_type: Any, cache_key: Any, fresh: Any = _MISSING
    ) -> Any:
        if fresh is not _MISSING and (fresh is None or type(fresh) in (str, int, bool)):
            value = fresh  # already what a JSON round trip would give
        else:
            value = _json.decode(text)
        if output_type is None:
            return value
        try:
            return _json.parse_as(output_type, value)
        except Exception as exc:
            raise OutputError(
                f"The stored output of task {cache_key!r} does not fit output_type "
                f"{getattr(output_type, '__name__', output_type)!r}: {exc}",
                run_id=self.run_id,
                job_id=self.job_id,
                cache_key=cache_key,
            ) from exc

    # -- waits ---------------------------------------------------------------------------------
    async def wait(self, cache_key: Any, seconds: float, *, parent: Frame | None) -> None:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ConfigurationError(
                f"io.wait({cache_key!r}, seconds): seconds must be a number >= 0, got {seconds!r}."
            )
        await self._wait_until(cache_key, None, float(seconds), parent=parent)

    async def wait_until(self, cache_key: Any, when: float, *, parent: Frame | None) -> None:
        await self._wait_until(cache_key, when, None, parent=parent)

    async def _wait_until(
        self, cache_key: Any, when: float | None, seconds: float | None, *, parent: Frame | None
    ) -> None:
        self.check_live()  # a pausing run still records a new wait: ``check_live``
        key, depth = self._claim_key(cache_key, parent)
        if key in self.outputs:  # the wait ended in an earlier execution
            del self.outputs[key]
            return
        stored = self.tasks.get(key)
        now = self.clock.now()
        if stored is not None:
            if stored.status == TaskStatus.COMPLETED:
                return
            if stored.status == TaskStatus.CANCELED:
                raise Canceled()
            wake_at = stored.wake_at if stored.wake_at is not None else now
            if wake_at > now:
                raise await self.suspend_until(wake_at)
            self.store.complete_wait(self.lease, task_id=stored.id, now=now)
            stored.status = TaskStatus.COMPLETED
            return
        if depth > self.limits.max_task_depth:
            raise TaskDepthError(
                f"Wait {cache_key!r} would be nested {depth} levels deep, deeper than "
                f"max_task_depth={self.limits.max_task_depth}.",
                run_id=self.run_id,
                job_id=self.job_id,
                cache_key=cache_key,
            )
        if seconds is not None:
            wake_at = now + seconds * self.limits.time_scale
            label = f"Wait {_span(seconds)}"
        else:
            assert when is not None
            wake_at = now + max(0.0, when - now) * self.limits.time_scale
            label = "Wait until"
        new_task = self._new_task(
            key, cache_key, parent, depth, "wait", now=now, name=label, icon="clock"
        )
        # Not awaited: the pause that follows (or the run's next awaited write) is applied
        # after it, so the run never pauses with its wait unstored.
        self.store.record_wait(self.lease, new_task=new_task, wake_at=wake_at)
        self.tasks[key] = StoredTask(
            new_task.id,
            new_task.parent_id,
            key,
            "wait",
            TaskStatus.WAITING,
            None,
            None,
            0,
            0,
            None,
            wake_at,
        )
        if wake_at > now:
            raise await self.suspend_until(wake_at)
        self.store.complete_wait(self.lease, task_id=new_task.id, now=now)
        self.tasks[key].status = TaskStatus.COMPLETED

    # -- waits for events and delayed tasks -----------------------------------------------------
    events: EventOps | None = None
    """The app's event operations (``io.send_events``, ``io.get_event``, ``io.cancel_event``),
    set by the worker."""

    async def _delay(self, new_task: NewTask, when: float) -> None:
        """A new task with ``delay_until``: if that time is still ahead, record the task as
        waiting to start then (as a retry delay is recorded) and suspend the run."""
        now = self.clock.now()
        start_at = now + max(0.0, when - now) * self.limits.time_scale
        if start_at <= now:
            return
        # Not awaited, as a wait's record: the pause that follows is applied after it.
        self.store.delay_task(self.lease, new_task=new_task, start_at=start_at)
        self.tasks[new_task.idempotency_key] = StoredTask(
            new_task.id,
            new_task.parent_id,
            new_task.idempotency_key,
            new_task.kind,
            TaskStatus.WAITING,
            None,
            None,
            0,
            0,
            start_at,
            None,
        )
        raise await self.suspend_until(start_at)

    async def wait_for_event(
        self,
        cache_key: Any,
        name: str,
        filter_json: str | None,
        timeout: float,
        *,
        parent: Frame | None,
    ) -> str:
        """Suspend until an event named ``name`` (matching ``filter_json``) is sent, or
        ``timeout`` seconds pass (``EventTimeoutError``). Returns the event as stored JSON."""
        key, depth = self._claim_key(cache_key, parent)
        if key in self.outputs:  # its event came before this execution
            self.check_boundary()
            output = self.outputs.pop(key)
            assert output is not None
            return output
        stored = self.tasks.get(key)
        now = self.clock.now()
        due = (
            stored is not None
            and stored.status == TaskStatus.WAITING
            and (stored.wake_at is None or stored.wake_at <= now)
        )
        if not due:
            self.check_live()  # a pausing run still records a new wait: ``check_live``
        elif self.lease_lost or self.store_error is not None or self.canceled:
            self.check_boundary()  # raises; a due wait is resolved even by a suspending run,
            # so a wait whose event came is not left behind by a parallel one still waiting
        if stored is not None and stored.status != TaskStatus.PENDING:
            if stored.status == TaskStatus.COMPLETED:
                assert stored.output is not None
                return stored.output
            if stored.status == TaskStatus.ERRORED:
                raise self._event_timeout(cache_key, name, timeout)
            if stored.status == TaskStatus.CANCELED:
                raise Canceled()
            if stored.wake_at is not None and stored.wake_at > now:
                raise await self.suspend_until(stored.wake_at)
            error = self._event_timeout(cache_key, name, timeout)
            error_text = json.dumps(
                _error_json(error, event=name, timeout=timeout), ensure_ascii=False, default=str
            )
            self.inflight += 1  # the run suspends only once this is recorded
            turn = LoopTurn(self.loop)
            try:
                outcome, value = await self._persist(
                    self.store.resolve_event_wait(
                        self.lease, task_id=stored.id, now=now, timeout_error=error_text
                    )
                )
            finally:
                self._leave()
            if outcome == "event":
                stored.status, stored.output = TaskStatus.COMPLETED, value
                return str(value)
            if outcome == "timeout":
                stored.status, stored.error = TaskStatus.ERRORED, error_text
                raise error
            stored.wake_at = float(value)  # its event was canceled: wait on
            raise await self.suspend_until(stored.wake_at, turn)
        if depth > self.limits.max_task_depth:
            raise TaskDepthError(
                f"Wait {cache_key!r} would be nested {depth} levels deep, deeper than "
                f"max_task_depth={self.limits.max_task_depth}.",
                run_id=self.run_id,
                job_id=self.job_id,
                cache_key=cache_key,
            )
        timeout_at = now + timeout * self.limits.time_scale
        new_task: NewTask | None = None
        if stored is None:
            new_task = self._new_task(
                key,
                cache_key,
                parent,
                depth,
                "event_wait",
                now=now,
                name=f"Wait for event {name}",
                icon="bell",
                params=_params_json(
                    {
                        "name": name,
                        "filter": None if filter_json is None else json.loads(filter_json),
                        "timeout": timeout,
                    },
                    cache_key,
                ),
            )
            task_id, parent_id = new_task.id, new_task.parent_id
        else:  # ended by a timeout, then reset by *retry run*: it waits anew
            task_id, parent_id = stored.id, stored.parent_id
        self.inflight += 1  # the run pauses only once this is recorded
        turn = LoopTurn(self.loop)
        try:
            await self._persist(
                self.store.record_event_wait(
                    self.lease,
                    new_task=new_task,
                    task_id=task_id,
                    name=name,
                    filter=filter_json,
                    began_at=now,
                    timeout_at=timeout_at,
                )
            )
        finally:
            self._leave()
        self.tasks[key] = StoredTask(
            task_id,
            parent_id,
            key,
            "event_wait",
            TaskStatus.WAITING,
            None,
            None,
            0,
            0,
            None,
            timeout_at,
            now,
        )
        raise await self.suspend_until(timeout_at, turn)

    def _event_timeout(self, cache_key: Any, name: str, timeout: float) -> EventTimeoutError:
        return EventTimeoutError(
            f"No event {name!r} matching wait {cache_key!r} arrived within its {timeout:g} s "
            f"timeout (run {self.run_id} of job {self.job_id!r}). Catch "
            "runio.errors.EventTimeoutError to go on without it, or give a longer timeout.",
            event_name=name,
            timeout=timeout,
            run_id=self.run_id,
            job_id=self.job_id,
            cache_key=cache_key,
        )

    # -- logs ----------------------------------------------------------------------------------
    def log(
        self,
        level: str,
        message: str,
        data: dict[str, Any],
        parent: Frame | None,
        *,
        echo: bool = True,
    ) -> None:
        """Store a log line of the run; ``echo`` also logs it through ``runio.run`` (not for a
        captured ``logging`` record, which its own logger has already handled)."""
        # Lines logged inside a task belong to its attempt: a retry runs anew and logs anew,
        # while a replay of the same attempt (resumed after its subtask waited) is deduplicated.
        scope = f"{parent.idempotency_key}#{parent.attempt}" if parent else ""
        seq = self.log_counts.get(scope, 0) + 1
        self.log_counts[scope] = seq
        if seq <= self.log_marks.get(scope, 0):
            return  # written by an earlier execution of this run
        payload: Any = None
        if data:
            try:
                payload = json.loads(_json.encode(data))
            except _json.NotJsonError:
                payload = {k: repr(v) for k, v in data.items()}
        self.store.add_logs(
            self.lease,
            [
                LogEntry(
                    self.run_id,
                    scope,
                    seq,
                    level,
                    printable(str(message)),
                    payload,
                    self.clock.now(),
                    parent.task_id if parent else None,
                )
            ],
        )
        if not echo:
            return
        log.log(
            _LEVELS.get(level, logging.INFO),
            "[%s %s] %s%s",
            self.job_id,
            self.run_id,
            message,
            f" {payload}" if payload else "",
            extra={"run_id": self.run_id, "job_id": self.job_id},  # fields for JSON log lines
        )

    # -- misc tasks ----------------------------------------------------------------------------
    def random(self) -> float:
        return _random.random()


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def _quick_call_worth_waiting(fn: Callable[..., Any]) -> bool:
    """Whether the event loop may wait, blocked, for this plain function's call (see above)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    skip = _slow_functions.get(code)
    if skip is not None and skip[0] > 0:
        skip[0] -= 1
        return False
    alone = alone_in_worker.get()
    return alone is not None and alone()


def _note_slow(fn: Callable[..., Any]) -> None:
    code = fn.__code__
    skip = _slow_functions.setdefault(code, [0, _SLOW_SKIP_FIRST])
    skip[0] = skip[1]
    skip[1] = min(skip[1] * 2, _SLOW_SKIP_MAX)


def _is_async(fn: Any) -> bool:
    """``inspect.iscoroutinefunction``, answered from the code's flags for an ``async def``
    function. A plain function asks ``inspect`` only where one can be marked as a coroutine
    function (``inspect.markcoroutinefunction``, Python 3.12+)."""
    if type(fn) is FunctionType:
        return bool(fn.__code__.co_flags & CO_COROUTINE) or (
            _MARKABLE and inspect.iscoroutinefunction(fn)
        )
    return inspect.iscoroutinefunction(fn)


_MARKABLE = hasattr(inspect, "markcoroutinefunction")


_NEVER_AWAITABLE = frozenset({int, str, float, bool, type(None), dict, list, tuple})


def _maybe_awaitable(result: Any) -> bool:
    """Whether a task function's result is to be awaited: a plain function (e.g. a lambda) may
    return a coroutine."""
    return type(result) not in _NEVER_AWAITABLE and inspect.isawaitable(result)


def _outcome_was_unknown(error_text: str | None) -> bool:
    """Whether a stored attempt error says its write may have been applied."""
    if not error_text or '"outcome_unknown"' not in error_text:
        return False
    try:
        return bool(json.loads(error_text).get("outcome_unknown"))
    except (ValueError, AttributeError):
        return False


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _stored_of(
    stored: StoredTask | None, new_task: NewTask | None, started_at: float
) -> StoredTask:
    """The task as stored, for the bookkeeping of its failed attempt: a task new in this
    execution has none until then (``run_task``)."""
    if stored is not None:
        return stored
    assert new_task is not None
    return StoredTask(
        new_task.id,
        new_task.parent_id,
        new_task.idempotency_key,
        new_task.kind,
        _RUNNING,
        None,
        None,
        1,
        0,
        None,
        None,
        started_at,
    )


def _properties_json(properties: Sequence[Any] | None, cache_key: Any) -> str | None:
    if not properties:
        return None
    if type(properties) is not list and (
        isinstance(properties, str | Mapping) or not isinstance(properties, Sequence)
    ):
        raise ConfigurationError(
            f"Task {cache_key!r}: properties must be a list of runio.Property(...) or of dicts "
            f"with 'label' and 'text' (or 'value'); got {type(properties).__name__}."
        )
    out = []
    for given in properties:
        shown = given if type(given) is Property else as_property(given, f"Task {cache_key!r}")
        if shown.text is not None:  # a value not there is not shown
            out.append(shown.as_json())
    return _PROPERTIES_ENCODER(out) if out else None


_PROPERTIES_ENCODER = _json.one_shot(json.JSONEncoder(ensure_ascii=False))


def _params_json(params: Any, cache_key: Any) -> str | None:
    if params is None:
        return None
    try:
        return _json.encode(params)
    except _json.NotJsonError as exc:
        raise ConfigurationError(
            f"Task {cache_key!r}: params must be JSON-compatible ({exc})."
        ) from None
