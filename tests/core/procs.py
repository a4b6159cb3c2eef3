"""Helpers for tests that run the real ``runio`` command in subprocesses.

Owns: starting ``runio`` processes with their output in files (a pipe nobody reads can block a
worker), polling with a deadline, reading the side files that job functions append to, and
killing every process a test started, whatever happened. It must not import test modules.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import runio

T = TypeVar("T")

RUNIO = [sys.executable, "-c", "from runio.cli import main; main()"]
"""The ``runio`` console script, run by this interpreter (no ``__main__`` module exists)."""

POLL = 0.02


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds.

    Used only to observe another process, which cannot be awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(POLL)


def read_lines(path: Path) -> list[str]:
    """The complete lines of a side file (a line being written is not complete yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return [line for line in lines[:-1] if line]


@dataclass
class Proc:
    """One ``runio`` subprocess with its stdout and stderr in files."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        out = self.stdout_path.read_text(encoding="utf-8", errors="replace")
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return f"--- {self.name} (pid {self.pid}) stdout ---\n{out}--- stderr ---\n{err}"

    def send(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        """The exit code, once the process has exited; fail after ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not exit within {timeout:g} s\n{self.output()}"
            ) from None

    def wait_signal_delivered(self, timeout: float = 5.0) -> None:
        """Wait until the kernel has handed every pending signal to the process.

        After this, a signal handler installed by the process has run (at C level), so what the
        test does next happens after the process learnt of the signal. Linux only; elsewhere it
        returns at once.
        """
        status = Path(f"/proc/{self.pid}/status")
        if not status.exists():
            return

        def delivered() -> bool:
            try:
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
            except FileNotFoundError:
                return True  # exited: nothing pending any more
            return all(int(fields.get(k, "0").strip(), 16) == 0 for k in ("SigPnd", "ShdPnd"))

        wait_until(delivered, timeout=timeout, what=f"{self.name} to receive its signal")


@dataclass
class Procs:
    """Starts ``runio`` processes in one directory on one database; ``kill_all`` cleans up."""

    cwd: Path
    database_url: str
    started: list[Proc] = field(default_factory=list)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNIO_")}
        env.update(
            RUNIO_DATABASE_URL=self.database_url,
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
            COLUMNS="200",
        )
        env.update(extra or {})
        return env

    def start(self, *args: str, name: str, env: Mapping[str, str] | None = None) -> Proc:
        n = len(self.started)
        out = self.cwd / f"{name}-{n}.stdout"
        err = self.cwd / f"{name}-{n}.stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [*RUNIO, *args],
                cwd=self.cwd,
                env=self.env(env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        proc = Proc(name, popen, out, err)
        self.started.append(proc)
        return proc

    def run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a short ``runio`` command to completion and return its result."""
        return subprocess.run(
            [*RUNIO, *args],
            cwd=self.cwd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def outputs(self) -> str:
        return "\n".join(p.output() for p in self.started)

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGKILL)
        for proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):  # a zombie we cannot reap
                proc.popen.wait(timeout=10)


@contextmanager
def running(directory: Path) -> Iterator[Procs]:
    """Processes in ``directory`` on its ``runio.db``; all are killed on leaving the block."""
    procs = Procs(directory, f"sqlite:///{directory / 'runio.db'}")
    try:
        yield procs
    finally:
        procs.kill_all()


def sender(database_url: str, app_id: str, triggers: Mapping[str, str]) -> runio.Client:
    """A client of app ``app_id`` that can send events for jobs ``{job_id: event_name}``.

    The jobs run in worker subprocesses; here they only route events, so their functions are
    never called.
    """
    client = runio.Client(app_id, database_url=database_url)
    for job_id, event_name in triggers.items():

        async def never_run(payload: Any, io: runio.IO) -> None:  # pragma: no cover
            raise AssertionError("jobs of a sender client never run in the test process")

        client.define_job(id=job_id, trigger=runio.event_trigger(event_name))(never_run)
    return client


def wait_for_status(
    client: runio.Client,
    run_ids: list[str],
    statuses: set[str],
    *,
    timeout: float,
    detail: Callable[[], str] | None = None,
) -> list[runio.Run]:
    """Poll the database until every run is in one of ``statuses``; return the runs with their
    tasks. One light query per poll, so polling does not compete much with the workers."""
    wanted = set(run_ids)

    def current() -> dict[str, str]:
        listed = client.list_runs(limit=len(run_ids) + 1000)
        return {r.id: r.status for r in listed if r.id in wanted}

    def check() -> bool:
        found = current()
        return len(found) == len(wanted) and all(s in statuses for s in found.values())

    def describe() -> str:
        counts = Counter(current().values())
        return f"run statuses: {dict(counts)}" + (f"\n{detail()}" if detail is not None else "")

    wait_until(
        check,
        timeout=timeout,
        what=f"{len(run_ids)} run(s) to be {'/'.join(sorted(statuses))}",
        detail=describe,
    )
    return [client.get_run(run_id) for run_id in run_ids]


HOLD_STARTS_ENV = "TEST_HOLD_STARTS"
"""Read by a test app that sets ``runio.storage._deferred.HOLD_STARTS`` from it: how long a task's
start may wait to be written (an hour: a kill always loses it)."""


def settle_start_window(
    window: str, client: runio.Client, run_id: str, cache_key: str, procs: Procs
) -> None:
    """Before a worker is killed inside task ``cache_key``: for ``"stored"``, wait until the
    attempt's start is in the database; for ``"lost"`` (the worker was started with
    ``HOLD_STARTS_ENV`` at an hour), check that it is not."""

    def started() -> bool:
        run = client.get_run(run_id)
        return any(t.cache_key == cache_key and t.status == "RUNNING" for t in run.tasks)

    if window == "stored":
        wait_until(
            started, timeout=30, what="the attempt's start to be stored", detail=procs.outputs
        )
    else:
        assert window == "lost", window
        assert not started()
