"""runio's side of each benchmark, each a function ``fn(ctx) -> dict`` run in a fresh process.

Jobs are written the way the README writes them: ``async def`` jobs calling ``io.run_task`` with a
cache key and a task function, run by a worker of the client, on a SQLite file at runio's default
durability (WAL; ``synchronous=FULL`` for every commit that must survive a power cut).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _pg

import runio
from runio.testing import TestClock

HERE = Path(__file__).resolve().parent


def _db(ctx: dict[str, Any], name: str = "runio.db") -> Path:
    return Path(ctx["workdir"]) / name


def _url(path: Path) -> str:
    return f"sqlite:///{path}"  # an absolute path gives sqlite:////abs/path


def _database(ctx: dict[str, Any]) -> tuple[str, str | None]:
    """The side's database: a fresh SQLite file in its workdir, or (``postgres`` in its params) a
    fresh database on the benchmark's PostgreSQL server. Returns the URL and the PostgreSQL
    database's name (to drop when the side is done), else None."""
    if ctx["params"].get("postgres"):
        return _pg.fresh_database("runio")
    return _url(_db(ctx)), None


def _drop(name: str | None) -> None:
    if name is not None:
        _pg.drop_database(name)


def _settings(client: runio.Client, pg_name: str | None) -> dict[str, Any]:
    if pg_name is None:
        return settings(client)
    return {"runio_version": runio.__version__, **_pg.settings(client.database_url)}


def settings(client: runio.Client) -> dict[str, Any]:
    """The durability runio actually runs with, read back from the open database."""
    store: Any = client.store
    (mode,) = asyncio.run(store.execute_raw("PRAGMA journal_mode"))[0]
    return {
        "journal_mode": str(mode).lower(),
        "synchronous": str(getattr(store, "synchronous", "?")).upper(),
        "sqlite_version": sqlite3.sqlite_version,
        "runio_version": runio.__version__,
    }


def probe(ctx: dict[str, Any]) -> dict[str, Any]:
    """The settings a fresh runio database gets by default."""
    client = runio.Client("bench", database_url=_url(_db(ctx)))
    client.list_runs(limit=1)  # opens the database and creates the schema
    out = settings(client)
    client.close()
    return out


async def _trivial(task: runio.Task) -> int:
    return 1


def _trivial_sync(task: runio.Task) -> int:
    return 1


def _task_fn(params: dict[str, Any]) -> Any:
    """The side's task function: ``async def`` (the default), ``def``, or a lambda (the form
    Trigger.dev's examples take in Python)."""
    kind = params.get("task_fn", "async")
    if kind == "async":
        return _trivial
    if kind == "sync":
        return _trivial_sync
    return lambda task: 1


# -- B1: one run of N trivial tasks, first execution ----------------------------------------------
def b1(ctx: dict[str, Any]) -> dict[str, Any]:
    n = int(ctx["params"]["n"])
    fn = _task_fn(ctx["params"])
    url, pg_name = _database(ctx)
    url += ctx["params"].get("query", "")
    client = runio.Client("bench", database_url=url)
    marks: dict[str, float] = {}

    if ctx["params"].get("job") == "sync":  # a `def` job: each io.sync call waits for the loop

        @client.define_job(id="b1", trigger=runio.event_trigger("b1"))
        def b1_sync_job(payload: Any, io: runio.SyncIO) -> int:
            marks["first"], marks["first_cpu"] = time.perf_counter(), time.process_time()
            for i in range(n):
                io.run_task(f"t{i}", fn)
            marks["last"], marks["last_cpu"] = time.perf_counter(), time.process_time()
            return n

    else:

        @client.define_job(id="b1", trigger=runio.event_trigger("b1"))
        async def b1_job(payload: Any, io: runio.IO) -> int:
            marks["first"], marks["first_cpu"] = time.perf_counter(), time.process_time()
            for i in range(n):
                await io.run_task(f"t{i}", fn)
            marks["last"], marks["last_cpu"] = time.perf_counter(), time.process_time()
            return n

    client.send_event("b1", {})  # untimed: the event is stored before the clock starts
    t0, cpu0 = time.perf_counter(), time.process_time()
    client.run_worker(until_idle=True)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # every thread of this process, user + system
    run = client.list_runs(limit=1)[0]
    assert run.status == "COMPLETED", run.status
    out = {
        "tasks_per_s": n / elapsed,
        "seconds": elapsed,
        "in_job_tasks_per_s": n / (marks["last"] - marks["first"]),
        "cpu_us_per_task": cpu / n * 1e6,
        # the job's loop alone: the worker's start, the claim and the run's end left out
        "in_job_cpu_us_per_task": (marks["last_cpu"] - marks["first_cpu"]) / n * 1e6,
        **_settings(client, pg_name),
    }
    client.close()
    _drop(pg_name)
    return out


# -- B2: resume a run whose N tasks are all stored ------------------------------------------------
def _b2_client(
    path: Path, n: int, marks: dict[str, float], clock: Any = None, task_fn: str = "async"
) -> runio.Client:
    client = runio.Client("bench", database_url=_url(path), clock=clock)
    fn = _task_fn({"task_fn": task_fn})

    @client.define_job(id="b2", trigger=runio.event_trigger("b2"))
    async def b2_job(payload: Any, io: runio.IO) -> int:
        marks["start"] = time.perf_counter()
        for i in range(n):
            await io.run_task(f"t{i}", fn)
        marks["replayed"] = time.perf_counter()
        await io.wait("end", 3600)  # the first execution stops here: the run is WAITING
        return n

    return client


def b2_build(ctx: dict[str, Any]) -> dict[str, Any]:
    """Untimed: one execution stores N task results, then the run waits an hour."""
    n = int(ctx["params"]["n"])
    path = Path(ctx["shared"]) / f"runio-b2-{n}.db"
    client = _b2_client(path, n, {}, task_fn=ctx["params"].get("task_fn", "async"))
    client.send_event("b2", {})
    t0 = time.perf_counter()
    client.run_worker(until_idle=True)
    built = time.perf_counter() - t0
    run = client.list_runs(limit=1)[0]
    assert run.status == "WAITING", run.status
    client.close()  # the last connection checkpoints the WAL into the file
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{path}{suffix}").exists() or Path(f"{path}{suffix}").stat().st_size == 0
    return {"template": str(path), "build_s": built, "tasks": n}


def b2_resume(ctx: dict[str, Any]) -> dict[str, Any]:
    """Timed: in a fresh process, with the database opened, a worker (its clock past the wait)
    claims the run and executes it again; every ``io.run_task`` returns its stored result.
    Measured for the replay loop alone and for the whole worker call (start the worker, claim,
    load the task rows, replay, complete the wait, finish the run)."""
    n = int(ctx["params"]["n"])
    template = Path(ctx["shared"]) / f"runio-b2-{n}.db"
    path = _db(ctx)
    shutil.copyfile(template, path)  # a fresh file per round, with the stored state in it
    marks: dict[str, float] = {}
    client = _b2_client(
        path,
        n,
        marks,
        clock=TestClock(start=time.time() + 7200),
        task_fn=ctx["params"].get("task_fn", "async"),
    )
    client.list_runs(limit=1)  # untimed: open the database (DBOS's launch is untimed too)
    t0 = time.perf_counter()
    client.run_worker(until_idle=True)
    elapsed = time.perf_counter() - t0
    run = client.list_runs(limit=1)[0]
    assert run.status == "COMPLETED", run.status
    client.close()
    replay = marks["replayed"] - marks["start"]
    return {
        "replay_us_per_task": replay / n * 1e6,
        "resume_us_per_task": elapsed / n * 1e6,
        "resume_s": elapsed,
        "tasks": n,
    }


# -- B3: N events, each a run of 3 trivial tasks, one worker --------------------------------------
def b3(ctx: dict[str, Any]) -> dict[str, Any]:
    """One worker runs in this process while the main thread sends the events (as a web app in
    front of a worker would); timed from the first event sent to the last run completed."""
    n = int(ctx["params"]["n"])
    url, pg_name = _database(ctx)
    client = _b3_client(url)
    counter = _Counter()
    worker = client.worker(on_run_finished=counter.finished)
    thread = threading.Thread(target=asyncio.run, args=(worker.run(),), daemon=True)
    thread.start()
    client.send_event("b3", {"i": -1})  # untimed warm-up run: the worker is up when timing starts
    counter.wait_for(1)
    t0 = time.perf_counter()
    for i in range(n):
        client.send_event("b3", {"i": i})
    sent = time.perf_counter() - t0
    counter.wait_for(n + 1)
    elapsed = time.perf_counter() - t0
    worker.stop()
    thread.join()
    client.close()
    _drop(pg_name)
    return {
        "runs_per_s": n / elapsed,
        "seconds": elapsed,
        "send_s": sent,
        "completed": counter.completed - 1,
        "concurrency": worker.concurrency,
        "other": counter.other,
    }


def b3_drain(ctx: dict[str, Any]) -> dict[str, Any]:
    """Diagnostic: the N events are stored first (untimed); timed is one worker draining them,
    ``client.run_worker(until_idle=True)``."""
    n = int(ctx["params"]["n"])
    client = _b3_client(_url(_db(ctx)))
    t0 = time.perf_counter()
    for i in range(n):
        client.send_event("b3", {"i": i})
    sent = time.perf_counter() - t0
    return {**_drain(client, n), "send_s": sent}


def _b3_client(url: str) -> runio.Client:
    """A client with B3's job: a run of 3 trivial tasks."""
    client = runio.Client("bench", database_url=url)

    @client.define_job(id="b3", trigger=runio.event_trigger("b3"))
    async def b3_job(payload: Any, io: runio.IO) -> int:
        await io.run_task("a", _trivial)
        await io.run_task("b", _trivial)
        return await io.run_task("c", _trivial)

    return client


def _drain(client: runio.Client, n: int) -> dict[str, Any]:
    """Timed: one worker running the client's n stored runs (``run_worker(until_idle=True)``),
    all of which must complete; the client is closed after."""
    t0 = time.perf_counter()
    client.run_worker(until_idle=True)
    elapsed = time.perf_counter() - t0
    done = client.list_runs(status="COMPLETED", limit=n + 1)
    assert len(done) == n, len(done)
    client.close()
    return {"runs_per_s": n / elapsed, "seconds": elapsed}


def _b3_drain_client(ctx: dict[str, Any]) -> runio.Client:
    return _b3_client(_url(_db(ctx)) + ctx["params"].get("query", ""))


def b3_store_events(ctx: dict[str, Any]) -> dict[str, Any]:
    """Untimed setup (``profile.py``'s drain side): B3's N events stored in one transaction."""
    n = int(ctx["params"]["n"])
    client = _b3_drain_client(ctx)
    client.send_events([{"name": "b3", "payload": {"i": i}} for i in range(n)])
    client.close()
    return {"events": n}


def b3_drain_stored(ctx: dict[str, Any]) -> dict[str, Any]:
    """One worker draining the events ``b3_store_events`` stored, in a process of its own: what
    a run costs the worker (its claim, first execution and end), without the sends."""
    return _drain(_b3_drain_client(ctx), int(ctx["params"]["n"]))


# -- B5: B3's events drained by 1 or 2 worker processes on PostgreSQL -----------------------------
_B5_APP = """\
import os

import runio

client = runio.Client("bench", database_url=os.environ["RUNIO_DATABASE_URL"])
_ledger = os.open(os.environ["BENCH_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def _called(task: runio.Task, key: str) -> int:
    # one line per call of a task function, appended in a single write
    os.write(_ledger, f"{os.getpid()} {task.run_id} {key}\\n".encode())
    return 1


async def a(task: runio.Task) -> int:
    return _called(task, "a")


async def b(task: runio.Task) -> int:
    return _called(task, "b")


async def c(task: runio.Task) -> int:
    return _called(task, "c")


@client.define_job(id="b3", trigger=runio.event_trigger("b3"))
async def b3_job(payload, io: runio.IO) -> int:
    await io.run_task("a", a)
    await io.run_task("b", b)
    return await io.run_task("c", c)
"""


def b5_workers(ctx: dict[str, Any]) -> dict[str, Any]:
    """The N events are stored first (untimed) in a fresh PostgreSQL database; timed is starting
    ``workers`` worker processes (``runio worker app.py:client --until-idle``, default options)
    until every one has exited. Then the database and the task functions' ledger are checked:
    every run COMPLETED with execution_count == 1, every task function called exactly once."""
    n, workers = int(ctx["params"]["n"]), int(ctx["params"]["workers"])
    workdir = Path(ctx["workdir"])
    ledger = workdir / "ledger.txt"
    (workdir / "app.py").write_text(_B5_APP)
    url, pg_name = _pg.fresh_database("runio")
    env = {**os.environ, "RUNIO_DATABASE_URL": url, "BENCH_LEDGER": str(ledger)}
    os.environ.update(RUNIO_DATABASE_URL=url, BENCH_LEDGER=str(ledger))
    sys.path.insert(0, str(workdir))
    import app  # type: ignore[import-not-found]  # the workers' own module, same job definition

    t0 = time.perf_counter()
    for i in range(n):
        app.client.send_event("b3", {"i": i})
    sent = time.perf_counter() - t0
    app.client.close()
    command = [
        sys.executable,
        "-c",
        "from runio.cli import main; main()",
        "worker",
        "app.py:client",
        "--until-idle",
    ]
    logs = [open(workdir / f"worker{k}.log", "wb") for k in range(workers)]  # noqa: SIM115
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(command, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT)
        for fh in logs
    ]
    codes = [proc.wait(timeout=600) for proc in procs]
    elapsed = time.perf_counter() - t0
    for fh in logs:
        fh.close()
    assert codes == [0] * workers, (codes, [_tail_text(fh.name) for fh in logs])

    import psycopg

    with psycopg.connect(url) as conn:
        runs = conn.execute(
            b"SELECT id, status, execution_count, started_at, ended_at FROM runs"
        ).fetchall()
        events = conn.execute(b"SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    _pg.drop_database(pg_name)
    calls: dict[tuple[str, str], int] = {}
    per_pid: dict[str, int] = {}
    for line in ledger.read_text().splitlines():
        pid, run_id, key = line.split()
        calls[(run_id, key)] = calls.get((run_id, key), 0) + 1
        per_pid[pid] = per_pid.get(pid, 0) + 1
    completed = [r for r in runs if r[1] == "COMPLETED"]
    expected = {(r[0], k) for r in runs for k in ("a", "b", "c")}
    missing_calls = len(expected - calls.keys())
    extra_calls = sum(c - 1 for c in calls.values()) + len(calls.keys() - expected)
    reexecuted = sum(1 for r in runs if r[2] != 1)
    lost_runs = n - len(completed)
    extra_runs = max(0, len(runs) - n)
    first_claim = min(r[3] for r in runs if r[3] is not None)
    last_end = max(r[4] for r in runs if r[4] is not None)
    shares = sorted(per_pid.values())
    return {
        "runs_per_s": n / elapsed,
        "seconds": elapsed,
        "claim_to_end_runs_per_s": n / (last_end - first_claim),
        "send_s": sent,
        "lost": lost_runs + missing_calls,
        "duplicated": reexecuted + extra_calls + extra_runs,
        "events": events,
        "runs": len(runs),
        "completed": len(completed),
        "not_completed": lost_runs,
        "execution_count_not_1": reexecuted,
        "task_calls": sum(calls.values()),
        "task_calls_missing": missing_calls,
        "task_calls_extra": extra_calls,
        "workers": workers,
        "processes_that_ran_tasks": len(per_pid),
        "smallest_worker_share": shares[0] / sum(shares) if len(shares) == workers else 0.0,
    }


def _tail_text(path: str) -> str:
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-15:])


class _Counter:
    def __init__(self) -> None:
        self.completed = 0
        self.other: dict[str, int] = {}
        self._cond = threading.Condition()

    def finished(self, run_id: str, status: str) -> None:
        with self._cond:
            if status == runio.RunStatus.COMPLETED:
                self.completed += 1
                self._cond.notify_all()
            else:
                key = str(getattr(status, "value", status))
                self.other[key] = self.other.get(key, 0) + 1

    def wait_for(self, completed: int, timeout: float = 600.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.completed >= completed, timeout):
                raise TimeoutError(f"only {self.completed} of {completed} runs completed")


# -- B4: N runs each waiting W seconds: worker memory and wake-up lateness ------------------------
def _b4_client(path: Path, wait_s: float) -> runio.Client:
    client = runio.Client("bench", database_url=_url(path))

    async def woke(task: runio.Task) -> float:
        return time.time()  # when the task after the wait actually started

    @client.define_job(id="b4", trigger=runio.event_trigger("b4"))
    async def b4_job(payload: Any, io: runio.IO) -> float:
        await io.wait("nap", wait_s)
        return await io.run_task("after", woke)

    return client


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def b4(ctx: dict[str, Any]) -> dict[str, Any]:
    """This process is the worker. A separate producer process sends the N events (all at once,
    or ``rate`` per second). RSS is sampled every 50 ms from just before the first event; the
    lateness of each run is the start of its task after the wait minus the wait's due time
    (``wake_at`` as stored)."""
    p = ctx["params"]
    n, wait_s = int(p["n"]), float(p["wait_s"])
    path = _db(ctx)
    client = _b4_client(path, wait_s)
    counter = _Counter()
    # worker_options: a diagnostic knob (e.g. poll_interval); the benchmark uses the defaults
    worker = client.worker(on_run_finished=counter.finished, **p.get("worker_options", {}))
    thread = threading.Thread(target=asyncio.run, args=(worker.run(),), daemon=True)
    thread.start()
    client.send_event("b4", {"i": -1})  # warm-up run, so the baseline is a worker in service
    counter.wait_for(1, timeout=wait_s + 60)
    baseline = _rss()
    peak = [baseline]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    producer = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_child.py"),
            "sides_runio:b4_produce",
            json.dumps(ctx),
            str(Path(ctx["workdir"]) / "_producer.json"),
        ],
        cwd=ctx["workdir"],
    )
    counter.wait_for(n + 1, timeout=600)
    elapsed = time.perf_counter() - t0
    end = _rss()
    peak[0] = max(peak[0], end)
    sampling.set()
    sampler.join()
    producer.wait()
    worker.stop()
    thread.join()
    client.close()
    late = _lateness(path)
    late.sort()

    def q(f: float) -> float:
        return late[min(len(late) - 1, int(f * len(late)))] * 1000

    produced = Path(ctx["workdir"]) / "_producer.json"
    return {
        "late_p50_ms": q(0.50),
        "late_p90_ms": q(0.90),
        "late_p99_ms": q(0.99),
        "late_max_ms": late[-1] * 1000,
        "rss_base_mb": baseline / 1e6,
        "rss_growth_mb": (peak[0] - baseline) / 1e6,
        "rss_end_growth_mb": (end - baseline) / 1e6,
        "seconds": elapsed,
        "runs": len(late),
        "concurrency": worker.concurrency,
        "poll_interval_s": worker.poll_interval,
        "send_s": json.loads(produced.read_text()).get("send_s") if produced.exists() else None,
    }


def b4_pauses(ctx: dict[str, Any]) -> dict[str, Any]:
    """Diagnostic: the N events are stored first (untimed); timed is one worker taking every run
    to its wait (``client.run_worker(until_idle=True)``: a run's first execution, the wait's
    record and the pause), none of them due again meanwhile."""
    n = int(ctx["params"]["n"])
    client = _b4_client(_db(ctx), 3600.0)
    client.send_events([{"name": "b4", "payload": {"i": i}} for i in range(n)])
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    client.run_worker(until_idle=True)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    waiting = client.list_runs(status="WAITING", limit=n + 1)
    assert len(waiting) == n, len(waiting)
    client.close()
    return {"runs_per_s": n / elapsed, "cpu_us_per_run": cpu / n * 1e6}


def b4_produce(ctx: dict[str, Any]) -> dict[str, Any]:
    p = ctx["params"]
    n, wait_s, rate = int(p["n"]), float(p["wait_s"]), float(p.get("rate", 0))
    client = _b4_client(_db(ctx), wait_s)
    t0 = time.perf_counter()
    for i in range(n):
        if rate > 0:
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        client.send_event("b4", {"i": i})
    sent = time.perf_counter() - t0
    client.close()
    return {"send_s": sent}


def _lateness(path: Path) -> list[float]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT w.wake_at, a.output FROM tasks w JOIN tasks a ON a.run_id = w.run_id "
            "AND a.kind = 'task' JOIN runs r ON r.id = w.run_id JOIN events e "
            "ON e.app_id = r.app_id AND e.id = r.event_id "
            "WHERE w.kind = 'wait' AND json_extract(e.payload, '$.i') >= 0"
        ).fetchall()
    finally:
        conn.close()
    return [float(out) - float(wake_at) for wake_at, out in rows]
