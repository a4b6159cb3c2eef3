"""SQLite's real file faults, in worker subprocesses: a full disk and a read-only database file.

A full disk is made with ``RLIMIT_FSIZE`` in the worker's process (which ignores ``SIGXFSZ``, so
a write past the limit fails with an error instead of killing it). A read-only file is a file
and directory without write permission; when the tests run as root, the worker runs without
the capability to override file modes (``setpriv``). Each job's task functions look in the
database before they work and note a call whose result is already stored: no such call may ever
happen.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from procs import Procs, read_lines

import runio

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

_APP = """
import os
import sqlite3
from pathlib import Path

import runio

HERE = Path(__file__).resolve().parent
SIDE = HERE / "calls.log"
client = runio.Client(id="file-app")


def note(line: str) -> None:
    with open(SIDE, "a", encoding="utf-8") as f:
        f.write(line + "\\n")


def stored(task_id: str) -> bool:
    db = sqlite3.connect(f"file:{HERE / 'runio.db'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
    finally:
        db.close()
    return row is not None and row[0] == "COMPLETED"


@client.define_job(id="big", trigger=runio.event_trigger("go"))
async def big(payload, io):
    for i in range(TASKS):
        async def fn(task, i=i):
            if stored(task.id):
                note(f"RERUN {task.run_id} {i}")
            note(f"call {task.run_id} {i}")
            return f"{i}:" + "x" * 10_000
        await io.run_task(f"t{i}", fn)
    return "done"
"""

_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
sys.argv = ["runio", *sys.argv[1:]]
from runio.cli import main
main()
"""

_PLAIN = "from runio.cli import main; main()"


def _write_app(directory: Path, tasks: int) -> None:
    body = textwrap.dedent(_APP).replace("TASKS", str(tasks))
    (directory / "app.py").write_text(body, encoding="utf-8")


def _send(database_url: str, count: int) -> list[str]:
    client = runio.Client("file-app", database_url=database_url)
    client.define_job(id="big", trigger=runio.event_trigger("go"))(lambda payload, io: None)
    try:
        return [client.send_event("go", {}, id=f"e{i}").run_ids[0] for i in range(count)]
    finally:
        client.close()


def _worker(
    procs: Procs, prelude: str, *args: str, wrapper: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wrapper, sys.executable, "-c", prelude, "worker", "app.py:client", "--until-idle", *args],
        cwd=procs.cwd,
        env=procs.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _expire_leases(db_path: Path) -> None:
    """What a crashed worker's leases come to once their time is up (no waiting for it)."""
    db = sqlite3.connect(db_path)
    try:
        db.execute("UPDATE runs SET lease_expires = 0 WHERE status = 'EXECUTING'")
        db.commit()
    finally:
        db.close()


def _check_every_result_stored_once(procs: Procs, run_ids: list[str], tasks: int) -> None:
    calls = read_lines(procs.cwd / "calls.log")
    assert [c for c in calls if c.startswith("RERUN")] == [], "a stored task ran again"
    client = runio.Client("file-app", database_url=procs.database_url)
    try:
        for run_id in run_ids:
            run = client.get_run(run_id)
            assert run.status == "COMPLETED", (run_id, run.status, run.error)
            assert len(run.tasks) == tasks
            assert all(t.status == "COMPLETED" for t in run.tasks)
            assert [t.output for t in run.tasks] == [f"{i}:" + "x" * 10_000 for i in range(tasks)]
    finally:
        client.close()


def test_a_full_disk_stops_runs_without_losing_or_rerunning_a_stored_result(
    tmp_path: Path,
) -> None:
    """100 tasks of 10 KB in each of 5 runs, with room for about half of it."""
    procs = Procs(tmp_path, f"sqlite:///{tmp_path / 'runio.db'}")
    try:
        _write_app(tmp_path, 100)
        run_ids = _send(procs.database_url, 5)
        limit = (tmp_path / "runio.db").stat().st_size + 3000 * 1024
        starved = _worker(
            procs, _LIMITED.format(limit=limit), "--lease-seconds", "1", "--max-store-failures", "3"
        )
        output = starved.stdout + starved.stderr
        assert starved.returncode == 1, output
        assert "The database kept failing" in output, output
        assert "Traceback" not in output, output
        calls_before = len(read_lines(tmp_path / "calls.log"))
        assert 0 < calls_before < 500  # the disk filled up part way

        _expire_leases(tmp_path / "runio.db")
        normal = _worker(procs, _PLAIN)
        assert normal.returncode == 0, normal.stdout + normal.stderr
        _check_every_result_stored_once(procs, run_ids, 100)
    finally:
        procs.kill_all()


def _without_write_permission() -> tuple[str, ...]:
    """A command prefix under which file modes apply (root overrides them otherwise)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to apply")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")


def test_a_read_only_database_file_stops_the_worker_with_a_clear_error(tmp_path: Path) -> None:
    wrapper = _without_write_permission()
    home = tmp_path / "app"
    home.mkdir()
    procs = Procs(home, f"sqlite:///{home / 'runio.db'}")
    try:
        _write_app(home, 3)
        run_ids = _send(procs.database_url, 2)
        (home / "calls.log").touch()
        (home / "calls.log").chmod(0o666)
        (home / "runio.db").chmod(0o444)
        home.chmod(0o555)  # no journal or WAL file can be created either

        refused = _worker(procs, _PLAIN, wrapper=wrapper)
        output = refused.stdout + refused.stderr
        assert refused.returncode == 1, output
        assert "readonly" in output or "unable to open" in output, output
        assert "writable" in output, output
        assert "Traceback" not in output, output
        assert read_lines(home / "calls.log") == []  # nothing ran that could not be stored

        home.chmod(0o755)
        (home / "runio.db").chmod(0o644)
        allowed = _worker(procs, _PLAIN)
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        _check_every_result_stored_once(procs, run_ids, 3)
    finally:
        home.chmod(0o755)
        procs.kill_all()
