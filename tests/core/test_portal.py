"""The client's sync methods (``send_event``, ``get_run``...): their coroutines run on the
client's own loop thread, alone there they read and commit on it without the database thread,
together they share its commits, and nobody is left waiting when the client closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

import runio
from runio import _task_threads as task_threads
from runio._portal import Portal


@pytest.fixture
def client(tmp_path: Path) -> Iterator[runio.Client]:
    client = runio.Client("portal", database_url=f"sqlite:///{tmp_path / 'p.db'}")

    @client.define_job(id="j", trigger=runio.event_trigger("go"))
    async def job(payload: Any, io: runio.IO) -> int:
        return 1

    client.list_runs()  # the database is open and its schema ready
    yield client
    client.close()


@pytest.fixture
def handed_to_thread(client: runio.Client, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every list of operations handed to the SQLite store's database thread from now on."""
    runner: Any = client.store._runner  # type: ignore[attr-defined]
    handed: list[Any] = []
    real = runner.put

    def put(items: list[Any]) -> None:
        handed.append(items)
        real(items)

    monkeypatch.setattr(runner, "put", put)
    return handed


def test_a_call_alone_reads_and_commits_without_the_database_thread(
    client: runio.Client, handed_to_thread: list[Any]
) -> None:
    event = client.send_event("go", {"n": 1})
    assert client.get_event(event.id).run_ids == event.run_ids
    assert client.get_run(event.run_ids[0]).status == "QUEUED"
    assert handed_to_thread == []


def test_calls_running_together_share_the_database_thread(
    client: runio.Client, handed_to_thread: list[Any]
) -> None:
    started, release = threading.Event(), asyncio.Event()

    async def still_running() -> str:
        started.set()
        await release.wait()
        return "done"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        other = pool.submit(client._run_sync, still_running())
        assert started.wait(30)
        event = client.send_event("go", {"n": 2})  # not alone on the client's loop
        assert handed_to_thread, "the write went around the database thread"
        loop = client._portal.loop  # type: ignore[union-attr]
        loop.call_soon_threadsafe(release.set)
        assert other.result(30) == "done"
    assert client.get_event(event.id).run_ids == event.run_ids


def test_sync_methods_work_from_a_thread_running_its_own_loop(client: runio.Client) -> None:
    async def app_code() -> list[str]:
        event = client.send_event("go", {"n": 3})  # blocks this loop, as any sync call does
        return client.get_event(event.id).run_ids

    assert len(asyncio.run(app_code())) == 1


def test_the_calling_thread_keeps_its_cpus(client: runio.Client, pinned: list[int]) -> None:
    if task_threads._cpu() is None:
        pytest.skip("threads cannot be pinned to a CPU here")
    mine = os.sched_getaffinity(0)
    one = {min(mine)}
    seen: dict[str, Any] = {}

    def caller() -> None:
        os.sched_setaffinity(0, one)
        client.send_event("go", {"n": 4})
        seen["cpus"] = os.sched_getaffinity(0)
        seen["tid"] = threading.get_native_id()

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(30)
    client.send_event("go", {"n": 5})
    assert seen["cpus"] == one  # what it had, not the loop's CPU nor all of them
    assert os.sched_getaffinity(0) == mine
    assert seen["tid"] in pinned  # it did sleep on the loop's CPU


def _orders_checked_by(client: runio.Client, check: Any) -> None:
    """A job on event "order" whose payload schema's validator calls ``check(order_id)``: code
    the client runs on its own thread as it sends the event."""

    class Order(pydantic.BaseModel):
        id: str

        @pydantic.field_validator("id")
        @classmethod
        def known(cls, value: str) -> str:
            check(value)
            return value

    @client.define_job(id="orders", trigger=runio.event_trigger("order", schema=Order))
    async def orders(payload: Order, io: runio.IO) -> None:
        return None


def test_a_sync_method_called_from_code_the_client_runs_says_why_it_cannot_wait(
    client: runio.Client,
) -> None:
    def known(order_id: str) -> None:
        client.list_runs()  # runs on the client's own thread: it would wait for itself

    _orders_checked_by(client, known)

    with pytest.raises(Exception, match="would wait for itself forever") as raised:
        client.send_event("order", {"id": "o1"})
    assert "send_event_async" in str(raised.value)
    assert client.list_runs(job_id="orders") == []  # nothing stored, and the client still works


@pytest.mark.parametrize("store", ["opened by the client", "given"])
def test_closing_the_client_from_code_it_runs_says_why_it_cannot(
    make_client: Any, tmp_path: Path, store: str
) -> None:
    given = None
    if store == "given":
        given = runio.storage.create_store(f"sqlite:///{tmp_path / 'given.db'}")
        client = runio.Client("given", store=given)
    else:
        client = make_client()

    _orders_checked_by(client, lambda order_id: client.close())

    for _ in range(3):
        with pytest.raises(RuntimeError, match="Close the client after the call"):
            client.send_event("order", {"id": "o1"})
    assert client.list_runs(job_id="orders") == []  # nothing stored, and the client still works
    client.close()
    # No thread was left behind by the refused closes: the one portal the client had is gone.
    assert not [t for t in threading.enumerate() if t.name.startswith(f"runio-client-{client.id}")]
    if given is not None:
        asyncio.run(given.close())


def test_closing_the_client_cancels_a_call_still_running(client: runio.Client) -> None:
    started = threading.Event()

    async def never_ends() -> None:
        started.set()
        await asyncio.Event().wait()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client._run_sync, never_ends())
        assert started.wait(30)
        client.close()
        with pytest.raises(concurrent.futures.CancelledError):
            waiting.result(30)
    event = client.send_event("go", {"n": 6})  # a closed client opens again on use
    assert client.get_event(event.id).id == event.id


def _in_a_forked_child(action: Any) -> tuple[int, str]:
    """Fork; the child runs ``action()`` (a hang ends it after 20 s) and reports what it got
    through a pipe. Returns the child's exit code and report."""
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns that a thread may hold a lock: the
        warnings.simplefilter("ignore", DeprecationWarning)  # point of these tests
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 0
        try:
            signal.alarm(20)
            report = str(action())
        except BaseException as exc:
            report, code = f"{type(exc).__name__}: {exc}", 1
        os.write(write, report.encode())
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), report


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_opens_its_own_postgresql_pool_and_loop(postgres_url: str) -> None:
    client = runio.Client("forked", database_url=postgres_url)

    @client.define_job(id="j", trigger=runio.event_trigger("go"))
    async def job(payload: Any, io: runio.IO) -> int:
        return 1

    try:
        client.send_event("go", {"from": "parent"})  # the parent's pool and loop are open

        def child() -> str:
            event = client.send_event("go", {"from": "child"})
            return client.get_event(event.id).id

        code, report = _in_a_forked_child(child)
        assert code == 0, report
        assert client.get_event(report).payload == {"from": "child"}  # seen by the parent
        assert len(client.list_runs()) == 2  # and the parent's client goes on working
    finally:
        client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_sqlite_database_open_before_a_fork_is_refused_in_the_child(
    client: runio.Client, tmp_path: Path
) -> None:
    client.send_event("go", {"from": "parent"})
    code, report = _in_a_forked_child(lambda: client.send_event("go", {"from": "child"}))
    assert code == 1
    assert "StoreError" in report and "Close the client before forking" in report
    given = runio.storage.create_store(f"sqlite:///{tmp_path / 'given.db'}")
    with_store = runio.Client("given", store=given)
    with_store.list_runs()
    code, report = _in_a_forked_child(lambda: with_store.list_runs())
    assert code == 1 and "Close the client before forking" in report
    assert len(client.list_runs()) == 1  # nothing reached the parent's database
    assert with_store.list_runs() == []  # whose clients go on working
    with_store.close()
    asyncio.run(given.close())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_opens_no_new_connection_to_a_file_its_parent_had_open(
    client: runio.Client, tmp_path: Path
) -> None:
    client.send_event("go", {"from": "parent"})  # the parent's connection to p.db is open

    def child() -> int:
        again = runio.Client(client.id, database_url=f"sqlite:///{tmp_path / 'p.db'}")
        return len(again.list_runs())

    code, report = _in_a_forked_child(child)
    assert code == 1
    assert "StoreError" in report and "was open in the process this one was forked" in report

    def elsewhere() -> int:  # another file is the child's to open
        other = runio.Client("other", database_url=f"sqlite:///{tmp_path / 'other.db'}")
        return len(other.list_runs())

    assert _in_a_forked_child(elsewhere) == (0, "0")
    assert len(client.list_runs()) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_the_file_refused_in_a_forked_child_is_the_one_the_parent_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    parent = runio.Client("relative", database_url="sqlite:///p.db")  # first/p.db
    parent.list_runs()
    monkeypatch.chdir(second)  # a daemon changes directory before it forks

    def opened(url: str) -> Any:
        return lambda: len(runio.Client("relative", database_url=url).list_runs())

    code, report = _in_a_forked_child(opened(f"sqlite:///{first / 'p.db'}"))
    assert code == 1 and "was open in the process this one was forked" in report
    assert _in_a_forked_child(opened("sqlite:///p.db")) == (0, "0")  # second/p.db: another file
    parent.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_client_closed_before_a_fork_opens_the_database_anew_in_the_child(
    client: runio.Client,
) -> None:
    client.send_event("go", {"from": "parent"})
    client.close()

    def child() -> str:
        event = client.send_event("go", {"from": "child"})
        return client.get_event(event.id).id

    code, report = _in_a_forked_child(child)
    assert code == 0, report
    assert client.get_event(report).payload == {"from": "child"}


def test_a_call_made_as_the_portal_stops_is_canceled_not_left_waiting() -> None:
    portal = Portal("stopping")
    busy, release = threading.Event(), threading.Event()

    def blocks_the_loop() -> None:  # as a long call would
        busy.set()
        release.wait(30)

    portal.loop.call_soon_threadsafe(blocks_the_loop)
    assert busy.wait(30)
    stopping = threading.Thread(target=portal.stop)  # client.close(), in another thread
    stopping.start()
    while not portal._stopping:
        stopping.join(0.001)
    with pytest.raises(concurrent.futures.CancelledError):
        portal.run(asyncio.sleep(0))
    release.set()
    stopping.join(30)
    assert not stopping.is_alive() and portal.loop.is_closed()


@pytest.mark.parametrize("closed_first", [False, True])
def test_a_call_that_reaches_the_loop_after_it_stopped_is_canceled(
    monkeypatch: pytest.MonkeyPatch, closed_first: bool
) -> None:
    portal = Portal("late")
    real = portal.loop.call_soon_threadsafe

    def too_late(callback: Any, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.undo()
        if closed_first:  # the whole stop happens before the call is handed over
            portal.stop()
        else:  # the loop's thread ends first; stop() comes once the call is handed over
            real(portal.loop.stop)
            portal._thread.join(30)
        return real(callback, *args, **kwargs)

    monkeypatch.setattr(portal.loop, "call_soon_threadsafe", too_late)
    outcome: list[BaseException] = []

    def caller() -> None:
        try:
            portal.run(asyncio.sleep(0))
        except BaseException as exc:
            outcome.append(exc)

    calling = threading.Thread(target=caller)
    calling.start()
    if not closed_first:
        while not (portal._waits and not portal._thread.is_alive()):
            calling.join(0.001)
        portal.stop()
    calling.join(30)
    assert not calling.is_alive()
    assert [type(exc) for exc in outcome] == [concurrent.futures.CancelledError]


def test_an_exit_raised_by_code_on_the_clients_thread_reaches_the_caller_only(
    client: runio.Client,
) -> None:
    def known(order_id: str) -> None:
        if order_id == "quit":
            raise SystemExit("the validator exits")

    _orders_checked_by(client, known)

    with pytest.raises(SystemExit, match="the validator exits"):
        client.send_event("order", {"id": "quit"})
    assert client.send_event("order", {"id": "o2"}).run_ids  # the client's loop still runs
