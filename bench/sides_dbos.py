"""The peer's side of each benchmark: DBOS Transact, driven the way its users drive it.

``@DBOS.workflow`` functions calling ``@DBOS.step`` functions, its SQLite system database file
(``system_database_url="sqlite:///..."``), every other setting at its default, launched with
``DBOS.launch()``. DBOS keeps process-wide state, which is one reason every side runs in a fresh
process. Its SQLite settings are read back from its own engine, not assumed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _pg
from dbos import DBOS, SetWorkflowID

HERE = Path(__file__).resolve().parent


def _start(path: Path | str) -> None:
    """DBOS with its system database at ``path`` (a SQLite file) or a PostgreSQL URL."""
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    DBOS(config={"name": "bench", "system_database_url": url})


def _database(ctx: dict[str, Any]) -> tuple[Path | str, str | None]:
    """A fresh SQLite file in the workdir, or (``postgres`` in the params) a fresh database on the
    benchmark's PostgreSQL server; with the PostgreSQL database's name, to drop at the end."""
    if ctx["params"].get("postgres"):
        return _pg.fresh_database("dbos")
    return Path(ctx["workdir"]) / "dbos.sqlite", None


def _finish(pg_name: str | None) -> None:
    DBOS.destroy()
    if pg_name is not None:
        _pg.drop_database(pg_name)


def pg_settings() -> dict[str, Any]:
    """The PostgreSQL settings DBOS's own system-database engine runs with."""
    import sqlalchemy as sa
    from dbos import _dbos

    instance: Any = _dbos._dbos_global_instance
    with instance._sys_db.engine.connect() as conn:
        got = {k: conn.execute(sa.text(f"SHOW {k}")).scalar() for k in _pg.SHOWN}
    return {**got, "dbos_version": version("dbos")}


def settings() -> dict[str, Any]:
    """journal_mode and synchronous as DBOS's own system-database engine sees them."""
    import sqlalchemy as sa
    from dbos import _dbos

    instance: Any = _dbos._dbos_global_instance
    with instance._sys_db.engine.connect() as conn:
        mode = conn.execute(sa.text("PRAGMA journal_mode")).scalar()
        sync = conn.execute(sa.text("PRAGMA synchronous")).scalar()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {
        "journal_mode": str(mode).lower(),
        "synchronous": names.get(int(sync), str(sync)),
        "dbos_version": version("dbos"),
    }


def probe(ctx: dict[str, Any]) -> dict[str, Any]:
    """The settings a fresh DBOS system database gets by default."""
    _start(Path(ctx["workdir"]) / "dbos.sqlite")
    DBOS.launch()
    out = settings()
    DBOS.destroy()
    return out


# -- B1: one workflow of N trivial steps ---------------------------------------------------------
def b1(ctx: dict[str, Any]) -> dict[str, Any]:
    n = int(ctx["params"]["n"])
    where, pg_name = _database(ctx)
    _start(where)

    @DBOS.step()
    def step(i: int) -> int:
        return i

    @DBOS.workflow()
    def workflow(count: int) -> int:
        for i in range(count):
            step(i)
        return count

    DBOS.launch()  # untimed
    t0 = time.perf_counter()
    workflow(n)
    elapsed = time.perf_counter() - t0
    out = {
        "steps_per_s": n / elapsed,
        "seconds": elapsed,
        **(settings() if pg_name is None else pg_settings()),
    }
    _finish(pg_name)
    return out


# -- B2: recovery of a workflow whose N steps are recorded ----------------------------------------
_CRASH = {"now": False}
_MARKS: dict[str, float] = {}


def _b2_define() -> Any:
    @DBOS.step()
    def step(i: int) -> int:
        return i

    @DBOS.step()
    def last() -> str:
        if _CRASH["now"]:
            os._exit(3)  # the process dies after N recorded steps, as in a crash
        return "done"

    @DBOS.workflow()
    def workflow(count: int) -> str:
        _MARKS["start"] = time.perf_counter()
        for i in range(count):
            step(i)
        _MARKS["replayed"] = time.perf_counter()
        out = last()
        _MARKS["finished"] = time.perf_counter()
        return out

    return workflow


def b2_crash(ctx: dict[str, Any]) -> dict[str, Any]:
    n = int(ctx["params"]["n"])
    _start(Path(ctx["params"]["path"]))
    workflow = _b2_define()
    DBOS.launch()
    _CRASH["now"] = True
    with SetWorkflowID("b2"):
        workflow(n)
    raise AssertionError("the workflow should have ended this process")


def b2_build(ctx: dict[str, Any]) -> dict[str, Any]:
    """Untimed: a process runs the workflow's N steps and dies; its database is the template."""
    n = int(ctx["params"]["n"])
    path = Path(ctx["shared"]) / f"dbos-b2-{n}.sqlite"
    child_ctx = {**ctx, "params": {"n": n, "path": str(path)}}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "_child.py"),
            "sides_dbos:b2_crash",
            json.dumps(child_ctx),
            str(Path(ctx["workdir"]) / "_crash.json"),
        ],
        cwd=ctx["workdir"],
    )
    assert proc.returncode == 3, f"the crashing process exited with {proc.returncode}"
    conn = sqlite3.connect(path)
    status = conn.execute("SELECT status FROM workflow_status WHERE workflow_uuid='b2'").fetchone()
    steps = conn.execute("SELECT COUNT(*) FROM operation_outputs").fetchone()[0]
    conn.close()
    assert status == ("PENDING",) and steps == n, (status, steps)
    return {"template": str(path), "build_s": time.perf_counter() - t0, "steps": steps}


def b2_resume(ctx: dict[str, Any]) -> dict[str, Any]:
    """Timed: DBOS.launch() in a fresh process recovers the pending workflow; its N recorded
    steps return their stored outputs and the last step runs."""
    n = int(ctx["params"]["n"])
    template = Path(ctx["shared"]) / f"dbos-b2-{n}.sqlite"
    path = Path(ctx["workdir"]) / "dbos.sqlite"
    shutil.copyfile(template, path)
    _start(path)
    _b2_define()
    t0 = time.perf_counter()
    DBOS.launch()
    result = DBOS.retrieve_workflow("b2").get_result()
    done = time.perf_counter()
    assert result == "done", result
    DBOS.destroy()
    replay = _MARKS["replayed"] - _MARKS["start"]
    return {
        "replay_us_per_step": replay / n * 1e6,
        "resume_us_per_step": (_MARKS["finished"] - _MARKS["start"]) / n * 1e6,
        "launch_to_result_s": done - t0,
        "recovery_starts_after_s": _MARKS["start"] - t0,
        "steps": n,
    }


# -- B3: N workflows of 3 steps through a DBOS queue ---------------------------------------------
def b3(ctx: dict[str, Any]) -> dict[str, Any]:
    n = int(ctx["params"]["n"])
    where, pg_name = _database(ctx)
    _start(where)

    @DBOS.step()
    def a(i: int) -> int:
        return i

    @DBOS.step()
    def b(i: int) -> int:
        return i

    @DBOS.step()
    def c(i: int) -> int:
        return i

    @DBOS.workflow()
    def workflow(i: int) -> int:
        a(i)
        b(i)
        return c(i)

    DBOS.launch()
    DBOS.register_queue("bench")
    DBOS.enqueue_workflow("bench", workflow, -1).get_result()  # untimed warm-up
    t0 = time.perf_counter()
    handles = [DBOS.enqueue_workflow("bench", workflow, i) for i in range(n)]
    sent = time.perf_counter() - t0
    for h in handles:
        h.get_result()
    elapsed = time.perf_counter() - t0
    _finish(pg_name)
    return {"runs_per_s": n / elapsed, "seconds": elapsed, "send_s": sent}
