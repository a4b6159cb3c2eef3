"""Where runio's time goes in a benchmark side: py-spy samples, summed per thread and function.

    python -m pip install py-spy
    python bench/profile.py B1            # runio's side of B1 (5,000 tasks), wall clock
    python bench/profile.py B3 --n 5000   # runio's side of B3
    python bench/profile.py B1 --cpu      # on-CPU samples only (leave out waiting threads)
    python bench/profile.py B2 --n 40000  # runio's side of B2: the resume of a stored run
    python bench/profile.py B6-local      # an integration call without the vendor's

    python bench/profile.py B1-normal --instructions              # CPU instructions per task
    python bench/profile.py B1-normal --instructions --source ../base   # another checkout's
    python bench/profile.py B3-drain-normal --instructions   # per run of B3's job, drained

Runs the side once in a fresh process under ``py-spy record`` (after its untimed setup, if it has
one, in another process) (raw collapsed stacks, one root
frame per thread) and prints, per thread, its share of the samples and the functions with the
most samples: "self" (the function was running) and "incl." (it was on the stack). Wall clock
(the default, ``--idle``) counts time a thread spends blocked too (in fsync, waiting on a
queue), which is what decides a single run's throughput. Not part of ``run.py``: a developer
tool, its output is for reading.

``--instructions`` counts instead the CPU instructions the side executes per task (per call for
B6-local, per run for B3-drain-normal: events stored first, untimed, in another process, then one
worker drains them): it runs the side twice under valgrind's callgrind (``apt-get install
valgrind``), at N and at 3N, and divides the difference by 2N, so the process's start, imports and
setup cancel out. Unlike a time, the count moves little between runs (0.5 to 3%) and hardly with
what else the machine runs, so it shows a change of a few percent that timings on a shared machine
hide. Some of runio's choices depend on the clock, which runs about 50 times faster against the
work under callgrind (the event loop's turn every ``YIELD_EVERY``, starts held up to
``HOLD_STARTS``, whether the worker expects a claim soon): run one count at a time, and compare two
checkouts with counts taken in turn (``--source``), not with an old figure. It leaves out the
kernel's work (the fsync, the write of SQLite's WAL) and cache misses, and callgrind runs one
thread at a time, about 50 times slower: use it for a run that stays on one thread, as the
``-normal`` sides of B1 with async task functions (each write committed on the event loop's
thread), B2 and B6-local; sides that hand work between threads count the waiting too, and vary.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

SIDES = {
    "B1": ("sides_runio:b1", {"n": 5000, "task_fn": "async"}),
    "B1-sync": ("sides_runio:b1", {"n": 5000, "task_fn": "sync"}),
    "B1-lambda": ("sides_runio:b1", {"n": 5000, "task_fn": "lambda"}),
    "B1-normal": ("sides_runio:b1", {"n": 5000, "query": "?synchronous=normal"}),
    "B1-lambda-normal": (
        "sides_runio:b1",
        {"n": 5000, "task_fn": "lambda", "query": "?synchronous=normal"},
    ),
    "B2": ("sides_runio:b2_resume", {"n": 40000, "task_fn": "lambda"}),
    "B3": ("sides_runio:b3", {"n": 5000}),
    "B3-drain-normal": (
        "sides_runio:b3_drain_stored",
        {"n": 2000, "query": "?synchronous=normal"},
    ),
    "B6": ("sides_stripe:b6_wrapper", {"n": 1000}),
    "B6-normal": ("sides_stripe:b6_wrapper", {"n": 1000, "query": "?synchronous=normal"}),
    "B6-local": ("sides_stripe:integration_loop", {"n": 5000}),
    "B6-local-normal": (
        "sides_stripe:integration_loop",
        {"n": 5000, "query": "?synchronous=normal"},
    ),
}
SETUPS = {"B2": "sides_runio:b2_build", "B3-drain-normal": "sides_runio:b3_store_events"}
"""A side's untimed setup (its benchmark's ``Setup``), run first, not profiled."""
UNITS = {"B3-drain-normal": "run", "B6-local": "call", "B6-local-normal": "call"}
"""What N counts, where it is not tasks."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", choices=sorted(SIDES))
    parser.add_argument("--n", type=int, help="size (default: 5,000)")
    parser.add_argument("--cpu", action="store_true", help="on-CPU samples only")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--lines", action="store_true", help="keep line numbers in frames")
    parser.add_argument("--raw", help="also keep the collapsed stacks here")
    parser.add_argument(
        "--instructions", action="store_true", help="count CPU instructions per task (callgrind)"
    )
    parser.add_argument(
        "--source", help="with --instructions: import runio from this checkout (its packages/*/src)"
    )
    args = parser.parse_args()
    if args.instructions:
        return instructions(args.bench, args.n, args.source, parser)
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        parser.error("py-spy is not installed: python -m pip install py-spy")
    func, params = SIDES[args.bench]
    params = dict(params)
    if args.n:
        params["n"] = args.n
    work = Path(tempfile.mkdtemp(prefix="runio-profile-"))
    try:
        raw = work / "stacks.txt"
        ctx = {"workdir": str(work), "shared": str(work), "params": params}
        if args.bench in SETUPS:
            setup = [sys.executable, str(HERE / "_child.py"), SETUPS[args.bench], json.dumps(ctx)]
            setup.append(str(work / "setup.json"))
            subprocess.run(setup, cwd=work, check=True, env=_env(), stdout=subprocess.DEVNULL)
        cmd = [pyspy, "record", "--rate", str(args.rate), "--threads", "--format", "raw"]
        cmd += [] if args.cpu else ["--idle"]
        cmd += ["-o", str(raw), "--", sys.executable, str(HERE / "_child.py"), func]
        cmd += [json.dumps(ctx), str(work / "result.json")]
        subprocess.run(cmd, cwd=work, check=True, env=_env(), stdout=subprocess.DEVNULL)
        if not (work / "result.json").exists():
            print("the side failed (its output is above); nothing to report", file=sys.stderr)
            return 1
        result = json.loads((work / "result.json").read_text())
        print(
            f"{args.bench} {params}: "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
            )
        )
        report(raw.read_text(), args.top, lines=args.lines)
        if args.raw:
            shutil.copyfile(raw, args.raw)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def instructions(
    bench: str, n: int | None, source: str | None, parser: argparse.ArgumentParser
) -> int:
    """Print the instructions the side executes per task: callgrind's total at 3N minus at N,
    over 2N (see the module's docstring)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        parser.error("valgrind is not installed: apt-get install valgrind")
    func, params = SIDES[bench]
    params = dict(params)
    if source:
        paths = [str(p) for p in sorted((Path(source) / "packages").glob("*/src"))]
        if not paths:
            parser.error(f"--source {source}: no packages/*/src in that directory")
        params["source"] = paths
    small = n or min(int(params["n"]), 1000)
    totals = []
    for size in (small, 3 * small):
        work = Path(tempfile.mkdtemp(prefix="runio-instructions-"))
        try:
            ctx = {"workdir": str(work), "shared": str(work), "params": {**params, "n": size}}
            if bench in SETUPS:
                setup = [sys.executable, str(HERE / "_child.py"), SETUPS[bench], json.dumps(ctx)]
                setup.append(str(work / "setup.json"))
                subprocess.run(setup, cwd=work, check=True, env=_env(), stdout=subprocess.DEVNULL)
            cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={work / 'out'}"]
            cmd += [sys.executable, str(HERE / "_child.py"), func, json.dumps(ctx)]
            cmd.append(str(work / "result.json"))
            done = subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True)
            counted = re.search(r"Collected : (\d+)", done.stderr)
            if done.returncode != 0 or counted is None or not (work / "result.json").exists():
                print(done.stdout + done.stderr, file=sys.stderr)
                print("the side failed (its output is above); nothing to report", file=sys.stderr)
                return 1
            totals.append(int(counted.group(1)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    per = (totals[1] - totals[0]) / (2 * small)
    unit = UNITS.get(bench, "task")
    print(f"{bench}, runio from {source or 'this checkout'}: {per:,.0f} instructions per {unit}")
    print(f"  (callgrind totals: {totals[0]:,} at N={small:,}, {totals[1]:,} at N={3 * small:,})")
    return 0


def _env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNIO_")}
    env["PYTHONPATH"] = str(HERE)
    return env


def report(text: str, top: int, *, lines: bool = False) -> None:
    short = _keep if lines else _short
    threads: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        name = _thread_name(frames[0])
        threads[name].append((frames[1:], int(count)))
    grand = sum(c for stacks in threads.values() for _, c in stacks)
    print(f"{grand} samples in {len(threads)} threads")
    for name, stacks in sorted(threads.items(), key=lambda kv: -sum(c for _, c in kv[1])):
        total = sum(c for _, c in stacks)
        if total < grand * 0.02:
            continue
        own: Counter[str] = Counter()
        incl: Counter[str] = Counter()
        for frames, count in stacks:
            if frames:
                own[short(frames[-1])] += count
            for f in {short(f) for f in frames}:
                incl[f] += count
        print(f"\n== thread {name}: {total} samples ({100 * total / grand:.0f}% of all)")
        print(f"   {'self':>6}  {'incl.':>6}  function")
        shown = set()
        for f, c in own.most_common(top):
            shown.add(f)
            print(f"   {100 * c / total:5.1f}%  {100 * incl[f] / total:5.1f}%  {f}")
        print("   -- most inclusive (runio and sqlite3 frames) --")
        k = 0
        for f, c in incl.most_common():
            if f in shown or not ("runio/" in f or "sqlite3" in f or "sides_" in f):
                continue
            print(f"   {100 * own[f] / total:5.1f}%  {100 * c / total:5.1f}%  {f}")
            k += 1
            if k >= top:
                break


def _thread_name(frame: str) -> str:
    # py-spy's thread root frame: 'thread (0x7f..)' or 'thread (123): Name' depending on version
    return frame.split(":", 1)[1].strip() if ":" in frame else frame


def _keep(frame: str) -> str:
    return frame


def _short(frame: str) -> str:
    # 'Execution.run_task (runio/_execution.py:260)' -> 'Execution.run_task (runio/_execution.py)'
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    return f"{name} ({path})" if path else name


if __name__ == "__main__":
    sys.exit(main())
