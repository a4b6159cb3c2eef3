"""The benchmark runner: a registry of benchmarks, fresh processes, alternating rounds, statistics.

A benchmark is a list of *sides* (runio, the peer, the floor, or variants of one of them). Every
side is a plain function ``fn(ctx) -> dict`` in one of the ``sides_*.py`` modules; the runner calls
it in a fresh Python process with a fresh, empty working directory (so fresh database files), and
the function returns its measurements as a dict of numbers (plus any notes). Rounds alternate the
sides, rotating their order each round so that no side always runs first or last; the first
``warmup`` rounds are run and thrown away. Ratios are computed per round, from sides measured side
by side, and summarised like every other figure: median and min–max.

Adding a benchmark is adding a ``Benchmark`` to ``benchmarks.py``: its sides (module:function and
parameters), the rows to print, and the ratios with their targets. Nothing here knows what a
benchmark measures. Nothing here asserts a time either: targets are printed, never enforced.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_child.py"

# Settings a developer may have exported for the demo or the tests; a benchmark never inherits them.
_SCRUBBED_ENV = ("RUNIO_DATABASE_URL", "RUNIO_TIME_SCALE", "PYTHONBREAKPOINT")


# -- definitions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One contender: ``func`` ("module:function" in bench/) called with ``params``."""

    name: str
    func: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 600.0


@dataclass(frozen=True)
class Target:
    """A target printed next to a figure: ``op`` is ">=" or "<="."""

    op: str
    value: float
    text: str = ""

    def met(self, value: float) -> bool:
        return value >= self.value if self.op == ">=" else value <= self.value

    def __str__(self) -> str:
        return self.text or f"{'≥' if self.op == '>=' else '≤'} {_fmt(self.value)}"


@dataclass(frozen=True)
class Row:
    """One figure of one side: ``metric`` is a key of the dict the side returns."""

    side: str
    metric: str
    unit: str
    label: str = ""
    target: Target | None = None


@dataclass(frozen=True)
class Ratio:
    """``num`` / ``den``, each a (side, metric) pair, computed per round."""

    label: str
    num: tuple[str, str]
    den: tuple[str, str]
    target: Target | None = None


@dataclass(frozen=True)
class Derived:
    """A figure computed per round from several sides' numbers (e.g. a difference in µs, or a
    slope between two sizes): ``compute(round)`` gets ``{side name: returned dict}`` and returns
    the value, or None when a side it needs is missing. Printed in the ratio table."""

    label: str
    compute: Callable[[dict[str, dict[str, Any]]], float | None]
    unit: str
    target: Target | None = None


@dataclass(frozen=True)
class Setup:
    """Work done once per benchmark before its rounds, in its own fresh process (untimed), e.g.
    building stored state that every round copies into a fresh database file."""

    name: str
    func: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 1800.0


@dataclass(frozen=True)
class Benchmark:
    id: str
    title: str
    sides: Sequence[Side]
    rows: Sequence[Row]
    ratios: Sequence[Ratio] = ()
    derived: Sequence[Derived] = ()
    setups: Sequence[Setup] = ()
    rounds: int = 5
    warmup: int = 1
    notes: str = ""
    facts: Sequence[str] = ()
    """Keys of the sides' results to report as settings (e.g. the worker's concurrency)."""
    postgres: bool = False
    """Whether its sides need the local PostgreSQL server that ``run.py`` starts (see _pg.py)."""


BASELINE = " [baseline]"


def with_baseline(bench: Benchmark, paths: Sequence[str]) -> Benchmark:
    """``bench`` with each runio side measured twice in every round: as it is, and importing
    runio from ``paths`` first (another checkout's ``packages/*/src``, e.g. the code before a
    change), named with a " [baseline]" suffix. Rows, ratios and derived figures are repeated
    for the baseline, and a ratio "this / baseline" is added for each runio row: a before/after
    comparison measured side by side, under the same load."""
    ours = {
        s.name
        for s in bench.sides
        if s.func.startswith(("sides_runio:", "sides_stripe:b6_w", "sides_stripe:b6_i"))
    }

    def twin(name: str) -> str:
        return name + BASELINE if name in ours else name

    def twin_derived(d: Derived) -> Derived:
        def compute(r: dict[str, dict[str, Any]]) -> float | None:
            return d.compute({**r, **{n: r[n + BASELINE] for n in ours if n + BASELINE in r}})

        return Derived(d.label + BASELINE, compute, d.unit, d.target)

    mine = [r for r in bench.rows if r.side in ours]
    # The baseline builds its own stored state (its schema may be older than this code's) in a
    # shared directory of its own.
    theirs = {"source": list(paths), "shared_as": "baseline"}
    built = {s.name for s in bench.setups if s.func.startswith("sides_runio:")}

    def twin_params(params: dict[str, Any]) -> dict[str, Any]:
        needs = params.get("needs_setup")
        return {**params, **theirs, **({"needs_setup": needs + BASELINE} if needs else {})}

    return replace(
        bench,
        setups=[
            *bench.setups,
            *[
                Setup(s.name + BASELINE, s.func, {**s.params, **theirs}, s.timeout)
                for s in bench.setups
                if s.name in built
            ],
        ],
        sides=[
            *bench.sides,
            *[
                Side(twin(s.name), s.func, twin_params(s.params), s.timeout)
                for s in bench.sides
                if s.name in ours
            ],
        ],
        rows=[*bench.rows, *[replace(r, side=twin(r.side)) for r in mine]],
        ratios=[
            *bench.ratios,
            *[
                Ratio(r.label + BASELINE, (twin(r.num[0]), r.num[1]), (twin(r.den[0]), r.den[1]))
                for r in bench.ratios
                if r.num[0] in ours or r.den[0] in ours
            ],
            *[
                Ratio(
                    f"{r.side}, {r.label or r.metric}: this / baseline",
                    (r.side, r.metric),
                    (twin(r.side), r.metric),
                )
                for r in mine
            ],
        ],
        derived=[*bench.derived, *[twin_derived(d) for d in bench.derived]],
    )


# -- results ------------------------------------------------------------------------------------
@dataclass
class Summary:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary | None:
        values = [v for v in values if v is not None]
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class BenchResult:
    bench: Benchmark
    rounds: list[dict[str, dict[str, Any]]]  # measured rounds: side name -> returned dict
    failures: list[str]
    seconds: float
    setup_info: dict[str, dict[str, Any]]
    warmup: int = 0

    def values(self, side: str, metric: str) -> list[float]:
        out = []
        for r in self.rounds:
            v = r.get(side, {}).get(metric)
            if isinstance(v, int | float):
                out.append(float(v))
        return out

    def ratio_values(self, ratio: Ratio) -> list[float]:
        out = []
        for r in self.rounds:
            a = r.get(ratio.num[0], {}).get(ratio.num[1])
            b = r.get(ratio.den[0], {}).get(ratio.den[1])
            if isinstance(a, int | float) and isinstance(b, int | float) and b:
                out.append(a / b)
        return out

    def derived_values(self, derived: Derived) -> list[float]:
        out = []
        for r in self.rounds:
            try:
                v = derived.compute(r)
            except (KeyError, TypeError, ZeroDivisionError):
                v = None
            if isinstance(v, int | float):
                out.append(float(v))
        return out

    def first(self, side: str, key: str) -> Any:
        for r in self.rounds:
            if key in r.get(side, {}):
                return r[side][key]
        return None


# -- running ------------------------------------------------------------------------------------
class ChildFailed(RuntimeError):
    pass


def _shared(shared: Path, params: dict[str, Any]) -> Path:
    """The shared directory of a side or setup: its own subdirectory when it names one."""
    own = params.get("shared_as")
    if not own:
        return shared
    path = shared / str(own)
    path.mkdir(parents=True, exist_ok=True)
    return path


def call_in_child(
    func: str, params: dict[str, Any], workdir: Path, shared: Path, timeout: float
) -> dict[str, Any]:
    """Run ``func(ctx)`` in a fresh interpreter with ``workdir`` as its empty working directory."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "_result.json"
    log = workdir / "_output.log"
    ctx = {"workdir": str(workdir), "shared": str(shared), "params": params}
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    with open(log, "wb") as fh:
        try:
            proc = subprocess.run(
                [sys.executable, str(CHILD), func, json.dumps(ctx), str(out)],
                cwd=workdir,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ChildFailed(f"{func} timed out after {timeout:.0f} s\n{_tail(log)}") from None
    if proc.returncode != 0 or not out.exists():
        raise ChildFailed(f"{func} exited with {proc.returncode}\n{_tail(log)}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    | " + line for line in text[-lines:])


def run_benchmark(
    bench: Benchmark,
    root: Path,
    *,
    rounds: int | None = None,
    warmup: int | None = None,
    log: Callable[[str], None] = print,
    keep: bool = False,
) -> BenchResult:
    rounds = bench.rounds if rounds is None else rounds
    warmup = bench.warmup if warmup is None else warmup
    shared = root / bench.id / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failures: list[str] = []
    setup_info: dict[str, dict[str, Any]] = {}
    broken: set[str] = set()
    for setup in bench.setups:
        t0 = time.perf_counter()
        try:
            setup_info[setup.name] = call_in_child(
                setup.func,
                setup.params,
                root / bench.id / f"setup-{_slug(setup.name)}",
                _shared(shared, setup.params),
                setup.timeout,
            )
            log(f"  setup {setup.name}: {time.perf_counter() - t0:.1f} s")
        except ChildFailed as exc:
            failures.append(f"setup {setup.name}: {exc}")
            log(f"  setup {setup.name} FAILED: {exc}")
            broken.add(setup.name)
    measured: list[dict[str, dict[str, Any]]] = []
    total = warmup + rounds
    for i in range(total):
        label = "warm-up" if i < warmup else f"round {i - warmup + 1}/{rounds}"
        order = list(bench.sides)
        k = i % len(order)
        order = order[k:] + order[:k]
        this: dict[str, dict[str, Any]] = {}
        parts = []
        for side in order:
            needs = side.params.get("needs_setup")
            if needs in broken:
                continue
            workdir = root / bench.id / f"r{i:02d}-{_slug(side.name)}"
            try:
                this[side.name] = call_in_child(
                    side.func, side.params, workdir, _shared(shared, side.params), side.timeout
                )
                parts.append(f"{side.name} {_brief(this[side.name], bench, side.name)}")
            except ChildFailed as exc:
                failures.append(f"{label} {side.name}: {exc}")
                parts.append(f"{side.name} FAILED")
                log(f"  {label}: {side.name} FAILED:\n{exc}")
            finally:
                if not keep:
                    shutil.rmtree(workdir, ignore_errors=True)
        log(f"  {label}: " + "; ".join(parts))
        if i >= warmup:
            measured.append(this)
    if not keep:
        shutil.rmtree(root / bench.id, ignore_errors=True)
    return BenchResult(bench, measured, failures, time.perf_counter() - started, setup_info, warmup)


def _brief(result: dict[str, Any], bench: Benchmark, side: str) -> str:
    rows = [r for r in bench.rows if r.side == side]
    bits = []
    for r in rows[:2]:
        v = result.get(r.metric)
        if isinstance(v, int | float):
            bits.append(f"{_fmt(v)} {r.unit}")
    return ", ".join(bits)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:40]


# -- printing -----------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _fmt_ratio(v: float) -> str:
    return f"{v:.1f}×" if abs(v) >= 10 else f"{v:.2f}×"


def render_tables(results: Sequence[BenchResult]) -> str:
    """Two markdown tables: every figure, then every ratio with its target."""
    lines = [
        "| id | side | measure | median | min–max | rounds | target |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for res in results:
        for row in res.bench.rows:
            s = Summary.of(res.values(row.side, row.metric))
            measure = row.label or row.metric
            if s is None:
                lines.append(f"| {res.bench.id} | {row.side} | {measure} | n/a | | 0 | |")
                continue
            target = ""
            if row.target is not None:
                target = f"{row.target} ({'met' if row.target.met(s.median) else 'not met'})"
            lines.append(
                f"| {res.bench.id} | {row.side} | {measure} | {_fmt(s.median)} {row.unit} | "
                f"{_fmt(s.low)}–{_fmt(s.high)} | {s.n} | {target} |"
            )
    lines += [
        "",
        "| id | ratio (per round, side by side) | median | min–max | target |",
        "|---|---|---:|---:|---|",
    ]
    any_ratio = False
    for res in results:
        for ratio in res.bench.ratios:
            any_ratio = True
            s = Summary.of(res.ratio_values(ratio))
            if s is None:
                lines.append(f"| {res.bench.id} | {ratio.label} | n/a | | |")
                continue
            target = ""
            if ratio.target is not None:
                target = f"{ratio.target} ({'met' if ratio.target.met(s.median) else 'not met'})"
            lines.append(
                f"| {res.bench.id} | {ratio.label} | {_fmt_ratio(s.median)} | "
                f"{_fmt_ratio(s.low)}–{_fmt_ratio(s.high)} | {target} |"
            )
        for derived in res.bench.derived:
            any_ratio = True
            s = Summary.of(res.derived_values(derived))
            if s is None:
                lines.append(f"| {res.bench.id} | {derived.label} | n/a | | |")
                continue
            target = ""
            if derived.target is not None:
                met = derived.target.met(s.median)
                target = f"{derived.target} ({'met' if met else 'not met'})"
            lines.append(
                f"| {res.bench.id} | {derived.label} | {_fmt(s.median)} {derived.unit} | "
                f"{_fmt(s.low)}–{_fmt(s.high)} {derived.unit} | {target} |"
            )
    if not any_ratio:
        lines = lines[:-3]
    return "\n".join(lines)
