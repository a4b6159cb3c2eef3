"""Workers as real processes: a crash (SIGKILL), two workers on one SQLite file, a graceful
SIGTERM, and a worker whose lease expired (fencing, in-process through the store API).

Each job function appends to a side file (flushed and fsynced before it returns), so the test
can see what ran, where and how often, independently of what runio recorded.
"""

from __future__ import annotations

import itertools
import signal
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from procs import Procs, read_lines, running, sender, wait_for_status, wait_until

import runio
from runio._records import Event, LogEntry, NewRun, NewTask
from runio.errors import LeaseLostError
from runio.storage import Store, create_store
from runio.testing import TestClock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_NOTE = """
import os
import time
from pathlib import Path

import runio

HERE = Path(__file__).resolve().parent
SIDE = HERE / "side.log"
GO = HERE / "go"


def note(line: str) -> None:
    with open(SIDE, "a", encoding="utf-8") as f:
        f.write(line + "\\n")
        f.flush()
        os.fsync(f.fileno())


def block_until_go() -> None:
    deadline = time.monotonic() + 60  # never outlive a failed test by much
    while not GO.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never created the go file")
        time.sleep(0.01)
"""


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    with running(tmp_path) as procs:
        yield procs


def _write_app(directory: Path, body: str) -> None:
    (directory / "app.py").write_text(_NOTE + textwrap.dedent(body), encoding="utf-8")


# -- a worker killed with SIGKILL in the middle of a task -----------------------------------------

_CRASH_APP = """
client = runio.Client(id="crash-app")


def step(n: int):
    def fn(task: runio.Task) -> str:
        note(f"start task-{n} attempt={task.attempt} unknown={task.outcome_unknown} "
             f"pid={os.getpid()}")
        if n == 3:
            block_until_go()
        note(f"done task-{n} attempt={task.attempt} pid={os.getpid()}")
        return f"result-{n}"
    return fn


@client.define_job(id="five-steps", trigger=runio.event_trigger("five"))
async def five_steps(payload: dict, io: runio.IO) -> list[str]:
    return [await io.run_task(f"task-{n}", step(n)) for n in range(1, 6)]
"""


@dataclass
class Crash:
    run: runio.Run
    lines: list[str]
    first_pid: int
    second_pid: int
    lines_at_kill: list[str]


def _attempts_of(client: runio.Client, run_id: str, cache_key: str) -> list[str]:
    try:
        return [a.status for a in client.get_run(run_id).task(cache_key).attempts]
    except KeyError:
        return []


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    """Kill a worker while task-3 of five is running, then let a second worker finish."""
    directory = tmp_path_factory.mktemp("crash")
    _write_app(directory, _CRASH_APP)
    side = directory / "side.log"
    with (
        running(directory) as procs,
        sender(procs.database_url, "crash-app", {"five-steps": "five"}) as client,
    ):
        run_id = client.send_event("five", {}).run_ids[0]
        first = procs.start("worker", "app.py:client", "--lease-seconds", "1", name="first")
        wait_until(
            lambda: any(line.startswith("start task-3 ") for line in read_lines(side)),
            timeout=30,
            what="the first worker to start task-3",
            detail=procs.outputs,
        )
        # A plain task's start is written within 20 ms of its function starting
        # (docs/guarantees.md): kill once it is stored, as a crash mid-task would find it.
        wait_until(
            lambda: _attempts_of(client, run_id, "task-3") == ["STARTED"],
            timeout=30,
            what="task-3's attempt to be stored",
            detail=procs.outputs,
        )
        first.send(signal.SIGKILL)
        assert first.wait_exit(10) == -signal.SIGKILL
        lines_at_kill = read_lines(side)
        (directory / "go").touch()
        second = procs.start("worker", "app.py:client", "--lease-seconds", "1", name="second")
        (run,) = wait_for_status(
            client, [run_id], {"COMPLETED", "FAILED"}, timeout=30, detail=procs.outputs
        )
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()
    yield Crash(run, read_lines(side), first.pid, second.pid, lines_at_kill)


def test_a_run_whose_worker_was_killed_completes_on_another_worker(crash: Crash) -> None:
    assert crash.run.status == "COMPLETED", crash.run.error
    assert crash.run.output == [f"result-{n}" for n in range(1, 6)]
    assert crash.run.execution_count == 2
    assert [t.status for t in crash.run.tasks] == ["COMPLETED"] * 5


def test_the_kill_happened_while_task_3_was_running(crash: Crash) -> None:
    # Guards the scenario itself: tasks 1 and 2 done, task 3 started and not done.
    assert crash.lines_at_kill == [
        f"start task-1 attempt=1 unknown=False pid={crash.first_pid}",
        f"done task-1 attempt=1 pid={crash.first_pid}",
        f"start task-2 attempt=1 unknown=False pid={crash.first_pid}",
        f"done task-2 attempt=1 pid={crash.first_pid}",
        f"start task-3 attempt=1 unknown=False pid={crash.first_pid}",
    ]


def test_no_completed_task_runs_twice_after_a_crash(crash: Crash) -> None:
    done = Counter(line.split()[1] for line in crash.lines if line.startswith("done "))
    assert done == {f"task-{n}": 1 for n in range(1, 6)}
    started = Counter(line.split()[1] for line in crash.lines if line.startswith("start "))
    # Only the task the kill interrupted is started again.
    assert started == {"task-1": 1, "task-2": 1, "task-3": 2, "task-4": 1, "task-5": 1}
    first, second = crash.first_pid, crash.second_pid
    assert f"done task-1 attempt=1 pid={first}" in crash.lines
    assert f"done task-2 attempt=1 pid={first}" in crash.lines
    assert f"done task-3 attempt=2 pid={second}" in crash.lines
    assert f"done task-4 attempt=1 pid={second}" in crash.lines
    assert f"done task-5 attempt=1 pid={second}" in crash.lines


def test_the_interrupted_attempt_is_recorded_and_the_retry_knows_it(crash: Crash) -> None:
    # The second attempt is told its predecessor's outcome is unknown.
    assert f"start task-3 attempt=2 unknown=True pid={crash.second_pid}" in crash.lines
    task3 = crash.run.task("task-3")
    assert [a.number for a in task3.attempts] == [1, 2]
    interrupted, retried = task3.attempts
    assert interrupted.status != "COMPLETED"
    assert interrupted.started_at is not None
    assert retried.status == "COMPLETED"
    assert retried.ended_at is not None
    assert interrupted.started_at <= retried.started_at
    for n in (1, 2, 4, 5):
        task = crash.run.task(f"task-{n}")
        assert [(a.number, a.status) for a in task.attempts] == [(1, "COMPLETED")]


def test_the_interrupted_attempt_is_closed_once_the_task_moves_on(crash: Crash) -> None:
    """A run that has COMPLETED shows no attempt as still running: the attempt the crash cut
    short ends (ERRORED, with an error saying its outcome is unknown) when the next starts."""
    interrupted = crash.run.task("task-3").attempts[0]
    assert interrupted.status == "ERRORED"
    assert interrupted.ended_at is not None
    assert interrupted.error is not None


# -- two workers on one SQLite file ---------------------------------------------------------------

_SHARED_APP = """
client = runio.Client(id="shared-app")


def step(n: int):
    def fn(task: runio.Task) -> int:
        note(f"{task.run_id} step-{n} {os.getpid()} start {time.monotonic_ns()}")
        time.sleep(0.01)  # a little work, so the two workers' runs interleave
        note(f"{task.run_id} step-{n} {os.getpid()} end {time.monotonic_ns()}")
        return n
    return fn


@client.define_job(id="three-steps", trigger=runio.event_trigger("three"))
async def three_steps(payload: dict, io: runio.IO) -> dict:
    total = 0
    for n in range(1, 4):
        total += await io.run_task(f"step-{n}", step(n))
    return {"i": payload["i"], "total": total}
"""


def test_two_workers_share_one_database_without_running_a_run_twice(
    procs: Procs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_app(tmp_path, _SHARED_APP)
    side = tmp_path / "side.log"
    with sender(procs.database_url, "shared-app", {"three-steps": "three"}) as client:
        # The schema exists before the workers start: opening a brand-new file from two
        # processes at once is test_storage_sqlite's business; this test is about claims.
        assert client.list_runs() == []
        workers = [
            procs.start("worker", "app.py:client", "--concurrency", "4", name=f"worker-{i}")
            for i in range(2)
        ]
        wait_until(
            lambda: all("runio worker" in w.stdout_path.read_text() for w in workers),
            timeout=20,
            what="both workers to start",
            detail=procs.outputs,
        )
        run_ids = [client.send_event("three", {"i": i}).run_ids[0] for i in range(60)]
        runs = wait_for_status(
            client, run_ids, {"COMPLETED", "FAILED"}, timeout=60, detail=procs.outputs
        )
        for w in workers:
            w.send(signal.SIGTERM)
        for w in workers:
            assert w.wait_exit(15) == 0, procs.outputs()

    assert [r.status for r in runs] == ["COMPLETED"] * 60
    assert [r.output for r in runs] == [{"i": i, "total": 6} for i in range(60)]
    for run in runs:
        assert run.execution_count == 1
        assert [(t.cache_key, len(t.attempts)) for t in run.tasks] == [
            ("step-1", 1),
            ("step-2", 1),
            ("step-3", 1),
        ]

    calls: dict[tuple[str, str], list[tuple[int, str, int]]] = defaultdict(list)
    for line in read_lines(side):
        run_id, step, pid, edge, at = line.split()
        calls[(run_id, step)].append((int(pid), edge, int(at)))
    wanted = set(run_ids)
    ours = {key: value for key, value in calls.items() if key[0] in wanted}
    assert len(ours) == 60 * 3
    for key, events in ours.items():
        assert [edge for _, edge, _ in events] == ["start", "end"], (key, events)
        assert events[0][0] == events[1][0], (key, events)

    # Per run and worker process, the span of time it spent executing the run's tasks: two
    # workers' spans on one run must never overlap.
    pids_by_run: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for (run_id, _), events in ours.items():
        ((pid, _, start), (_, _, end)) = events
        span = pids_by_run[run_id].get(pid, (start, end))
        pids_by_run[run_id][pid] = (min(span[0], start), max(span[1], end))
    for run_id, spans in pids_by_run.items():
        ordered = sorted(spans.values())
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end <= start, f"run {run_id} executed by two workers at once: {spans}"

    split = Counter(next(iter(spans)) for spans in pids_by_run.values() if len(spans) == 1)
    with capsys.disabled():
        print(
            f"\n[two workers] runs per worker pid: {dict(split)}; runs moved between workers: "
            f"{sum(1 for s in pids_by_run.values() if len(s) > 1)}"
        )
    assert sum(split.values()) == 60, "no run should change workers when none dies"


# -- graceful shutdown on SIGTERM -----------------------------------------------------------------

_GRACEFUL_APP = """
client = runio.Client(id="graceful-app")


def step(n: int):
    def fn(task: runio.Task) -> str:
        note(f"start step-{n} attempt={task.attempt} pid={os.getpid()}")
        if n == 2:
            block_until_go()
        note(f"done step-{n} attempt={task.attempt} pid={os.getpid()}")
        return f"out-{n}"
    return fn


@client.define_job(id="three-steps", trigger=runio.event_trigger("three"))
async def three_steps(payload: dict, io: runio.IO) -> list[str]:
    return [await io.run_task(f"step-{n}", step(n)) for n in range(1, 4)]
"""


def test_sigterm_lets_the_running_task_finish_then_stops_before_the_next(
    procs: Procs, tmp_path: Path
) -> None:
    _write_app(tmp_path, _GRACEFUL_APP)
    side = tmp_path / "side.log"
    with sender(procs.database_url, "graceful-app", {"three-steps": "three"}) as client:
        run_id = client.send_event("three", {}).run_ids[0]
        # A grace period no machine comes near: the worker stops because step-2 ended
        first = procs.start("worker", "app.py:client", "--grace-period", "3600", name="first")
        wait_until(
            lambda: any(line.startswith("start step-2 ") for line in read_lines(side)),
            timeout=30,
            what="the worker to start step-2",
            detail=procs.outputs,
        )
        first.send(signal.SIGTERM)
        first.wait_signal_delivered()
        (tmp_path / "go").touch()
        assert first.wait_exit(60) == 0, procs.outputs()

        lines = read_lines(side)
        assert lines == [
            f"start step-1 attempt=1 pid={first.pid}",
            f"done step-1 attempt=1 pid={first.pid}",
            f"start step-2 attempt=1 pid={first.pid}",
            f"done step-2 attempt=1 pid={first.pid}",
        ], "the stopping worker must finish step-2 and start nothing after it"
        paused = client.get_run(run_id)
        assert paused.status in ("QUEUED", "WAITING"), "the run is left ready for another worker"
        assert paused.lease_owner is None
        step2 = paused.task("step-2")
        assert step2.status == "COMPLETED", "the finished task's result must be recorded"
        assert step2.output == "out-2"
        assert [t.cache_key for t in paused.tasks] == ["step-1", "step-2"]

        second = procs.start("worker", "app.py:client", "--until-idle", name="second")
        assert second.wait_exit(30) == 0, procs.outputs()
        run = client.get_run(run_id)

    assert run.status == "COMPLETED", run.error
    assert run.output == ["out-1", "out-2", "out-3"]
    lines = read_lines(side)
    assert Counter(line.split()[1] for line in lines if line.startswith("start ")) == {
        "step-1": 1,
        "step-2": 1,
        "step-3": 1,
    }
    assert f"done step-3 attempt=1 pid={second.pid}" in lines
    assert [len(t.attempts) for t in run.tasks] == [1, 1, 1]


@pytest.mark.parametrize(
    ("grace", "signals"),
    [
        pytest.param("1", [signal.SIGTERM], id="grace-period-over"),
        # the grace period never ends here: only the second signal can stop the worker
        pytest.param("3600", [signal.SIGINT, signal.SIGINT], id="second-ctrl-c"),
    ],
)
def test_a_task_still_running_when_the_worker_must_stop_is_interrupted_and_released(
    procs: Procs, tmp_path: Path, grace: str, signals: list[signal.Signals]
) -> None:
    """Past the grace period (or on a second signal) the worker exits even though a task
    function is still running, and gives the run back for another worker at once."""
    _write_app(tmp_path, _GRACEFUL_APP)
    side = tmp_path / "side.log"
    with sender(procs.database_url, "graceful-app", {"three-steps": "three"}) as client:
        run_id = client.send_event("three", {}).run_ids[0]
        worker = procs.start("worker", "app.py:client", "--grace-period", grace, name="worker")
        wait_until(
            lambda: any(line.startswith("start step-2 ") for line in read_lines(side)),
            timeout=30,
            what="the worker to start step-2",
            detail=procs.outputs,
        )
        for sig in signals:
            worker.send(sig)
            worker.wait_signal_delivered()
        try:  # the task function stays blocked until "go": the worker exits without it
            code = worker.wait_exit(60)
        finally:
            (tmp_path / "go").touch()  # let the blocked task function end, whatever happened
        assert code >= 0, "the worker exits by itself, not by a signal's default action"
        run = client.get_run(run_id)
        assert run.status == "QUEUED", "an interrupted run is released, ready at once"
        assert run.lease_owner is None
        assert run.task("step-2").status != "COMPLETED"
        assert not any(line.startswith("start step-3") for line in read_lines(side))


def test_a_run_canceled_from_another_process_stops_at_its_next_task_boundary(
    procs: Procs, tmp_path: Path
) -> None:
    _write_app(tmp_path, _GRACEFUL_APP)
    side = tmp_path / "side.log"
    with sender(procs.database_url, "graceful-app", {"three-steps": "three"}) as client:
        run_id = client.send_event("three", {}).run_ids[0]
        # One run at a time: when a later run completes, this one's execution is over.
        worker = procs.start("worker", "app.py:client", "--concurrency", "1", name="worker")
        wait_until(
            lambda: any(line.startswith("start step-2 ") for line in read_lines(side)),
            timeout=30,
            what="the worker to start step-2",
            detail=procs.outputs,
        )
        assert client.cancel_run(run_id).status == "CANCELED"
        (tmp_path / "go").touch()
        (later,) = client.send_event("three", {}).run_ids
        (done,) = wait_for_status(client, [later], {"COMPLETED"}, timeout=30, detail=procs.outputs)
        assert done.output == ["out-1", "out-2", "out-3"]
        assert worker.popen.poll() is None, "the worker goes on after a canceled run"

        run = client.get_run(run_id)
        assert run.status == "CANCELED"
        assert [(t.cache_key, t.status) for t in run.tasks] == [
            ("step-1", "COMPLETED"),
            ("step-2", "COMPLETED"),
        ], "the running task's result is kept; no task starts after the cancel"
        starts = Counter(line.split()[1] for line in read_lines(side) if line.startswith("start"))
        assert starts == {"step-1": 2, "step-2": 2, "step-3": 1}


# -- a worker whose lease expired: its late writes are rejected (fencing) -------------------------


async def _new_run(store: Store, now: float) -> str:
    event = Event("evt_1", "fence-app", "go", {}, now, None)
    await store.create_event(event, [NewRun("run_1", "job", "1", now)], now)
    return "run_1"


def _new_task(run_id: str, now: float) -> NewTask:
    return NewTask(
        id="task_1",
        run_id=run_id,
        parent_id=None,
        idempotency_key="key_1",
        cache_key='"step"',
        kind="task",
        name="step",
        icon=None,
        properties=None,
        params=None,
        style=None,
        redact=None,
        depth=1,
        created_at=now,
    )


async def _snapshot(store: Store, run_id: str) -> tuple[object, ...]:
    run_rows = await store.execute_raw(
        "SELECT status, output, error, ended_at, lease_owner, lease_token, lease_expires, "
        "ready_at FROM runs WHERE id=?",
        (run_id,),
    )
    tasks = await store.execute_raw(
        "SELECT id, status, output, error, attempts, retry_at, ended_at FROM tasks "
        "WHERE run_id=? ORDER BY id",
        (run_id,),
    )
    attempts = await store.execute_raw(
        "SELECT task_id, number, status, ended_at, error FROM attempts ORDER BY task_id, number"
    )
    logs = await store.execute_raw("SELECT COUNT(*) FROM logs WHERE run_id=?", (run_id,))
    return (run_rows, tasks, attempts, logs)


@pytest.mark.anyio
async def test_writes_made_under_an_expired_lease_are_rejected_and_change_nothing(
    sqlite_url: str, clock: TestClock
) -> None:
    old_worker, new_worker = create_store(sqlite_url), create_store(sqlite_url)
    try:
        await old_worker.upgrade()
        run_id = await _new_run(old_worker, clock.now())
        (claimed,) = await old_worker.claim_runs(
            app_id="fence-app",
            job_ids=["job"],
            worker_id="old",
            limit=5,
            now=clock.now(),
            lease_seconds=30,
        )
        old = claimed.lease
        old_worker.start_attempt(
            old,
            new_task=_new_task(run_id, clock.now()),
            task_id="task_1",
            attempt=1,
            now=clock.now(),
        )
        assert await old_worker.heartbeat([old], now=clock.now(), lease_seconds=30) == {}

        clock.advance(31)  # the old worker stalled: no heartbeat for longer than its lease
        (reclaimed,) = await new_worker.claim_runs(
            app_id="fence-app",
            job_ids=["job"],
            worker_id="new",
            limit=5,
            now=clock.now(),
            lease_seconds=30,
        )
        new = reclaimed.lease
        assert reclaimed.status_before == "EXECUTING"
        assert reclaimed.execution_count == 2
        assert new.run_id == run_id and new.token > old.token
        now = clock.now()
        # The new owner parks the run on a wait, which the old worker must not end either.
        wait = _new_task(run_id, now)
        wait.id, wait.idempotency_key, wait.kind = "task_wait", "key_wait", "wait"
        new_worker.record_wait(new, new_task=wait, wake_at=now + 3600)
        await new_worker.flush()  # stored before the snapshot below
        before = await _snapshot(new_worker, run_id)

        with pytest.raises(LeaseLostError) as lost:
            await old_worker.complete_task(
                old, task_id="task_1", attempt=1, output='"late"', output_properties=None, now=now
            )
        assert lost.value.run_id == run_id
        with pytest.raises(LeaseLostError):
            await old_worker.finish_run(
                old, status="COMPLETED", output='"late"', error=None, now=now
            )
        with pytest.raises(LeaseLostError):
            await old_worker.fail_attempt(
                old, task_id="task_1", attempt=1, error='{"type": "X"}', retry_at=None, now=now
            )
        with pytest.raises(LeaseLostError):
            await old_worker.suspend_run(old, ready_at=now + 60, now=now)
        # Unawaited writes are fenced too: they are applied in order, before the next read.
        stale_wait = _new_task(run_id, now)
        stale_wait.id, stale_wait.idempotency_key, stale_wait.kind = "task_w", "key_w", "wait"
        old_worker.record_wait(old, new_task=stale_wait, wake_at=now + 60)
        old_worker.start_attempt(old, new_task=None, task_id="task_1", attempt=2, now=now)
        old_worker.complete_wait(old, task_id="task_wait", now=now)
        old_worker.add_logs(old, [LogEntry(run_id, "", 1, "info", "late", None, now)])
        await old_worker.release_run(old, now=now)
        assert await old_worker.heartbeat([old], now=now, lease_seconds=30) == {run_id: "lost"}

        assert await _snapshot(old_worker, run_id) == before
        run = await new_worker.get_run(run_id)
        assert run is not None
        assert (run.status, run.lease_owner, run.output) == ("EXECUTING", "new", None)

        # The worker that holds the lease now writes normally.
        new_worker.start_attempt(new, new_task=None, task_id="task_1", attempt=2, now=now)
        await new_worker.complete_task(
            new, task_id="task_1", attempt=2, output='"fresh"', output_properties=None, now=now
        )
        assert await new_worker.finish_run(
            new, status="COMPLETED", output='"done"', error=None, now=now
        )
        run = await new_worker.get_run(run_id)
        assert run is not None
        assert (run.status, run.output, run.task("step").output) == ("COMPLETED", "done", "fresh")
    finally:
        await old_worker.close()
        await new_worker.close()


@pytest.mark.anyio
async def test_a_lease_kept_alive_by_heartbeats_is_not_taken_over(
    sqlite_url: str, clock: TestClock
) -> None:
    store = create_store(sqlite_url)
    try:
        await store.upgrade()
        run_id = await _new_run(store, clock.now())
        (claimed,) = await store.claim_runs(
            app_id="fence-app",
            job_ids=["job"],
            worker_id="a",
            limit=1,
            now=clock.now(),
            lease_seconds=10,
        )
        for _ in range(5):
            clock.advance(8)
            assert await store.heartbeat([claimed.lease], now=clock.now(), lease_seconds=10) == {}
            taken = await store.claim_runs(
                app_id="fence-app",
                job_ids=["job"],
                worker_id="b",
                limit=1,
                now=clock.now(),
                lease_seconds=10,
            )
            assert taken == [], "a run whose lease is renewed is never claimed by another worker"
        run = await store.get_run(run_id)
        assert run is not None and run.lease_owner == "a"
    finally:
        await store.close()
