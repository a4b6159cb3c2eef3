"""Standard ``logging`` calls inside runs, captured into the run's logs when a job or client asks
for it (``capture_logging=``), and the worker's ``--log-format json``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import runio
from runio.cli._logging import JsonFormatter
from runio.testing import TestClock

log = logging.getLogger("shop.orders")


@pytest.fixture
def make(sqlite_url: str, clock: TestClock) -> Iterator[Callable[..., runio.Client]]:
    made: list[runio.Client] = []

    def build(**options: Any) -> runio.Client:
        client = runio.Client("logs-app", database_url=sqlite_url, clock=clock, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def lines(run: runio.Run) -> list[tuple[str, str, str | None]]:
    """(level, message, logger) of each stored log line, in order."""
    return [(g.level, g.message, (g.data or {}).get("logger")) for g in run.logs]


def run_once(client: runio.Client, event: str) -> runio.Run:
    run_id = client.send_event(event).run_ids[0]
    client.run_worker(until_idle=True)
    return client.get_run(run_id)


def test_a_capturing_job_stores_its_logging_records(make: Callable[..., runio.Client]) -> None:
    client = make()

    @client.define_job(id="orders", trigger=runio.event_trigger("orders"), capture_logging=True)
    async def orders(payload: Any, io: runio.IO) -> int:
        log.info("syncing %d orders", 3)
        log.debug("too chatty for INFO")

        async def fetch(task: runio.Task) -> int:
            log.warning("page %s slow", 2)
            return 3

        def save(task: runio.Task) -> int:  # runs in a worker thread
            logging.getLogger("shop.db").error("deadlock, retried")
            return 3

        await io.run_task("fetch", fetch)
        return await io.run_task("save", save)

    @client.define_job(id="quiet", trigger=runio.event_trigger("quiet"))
    async def quiet(payload: Any, io: runio.IO) -> None:
        log.warning("not captured: this job does not ask")

    run = run_once(client, "orders")
    assert run.status == "COMPLETED"
    assert lines(run) == [
        ("info", "syncing 3 orders", "shop.orders"),
        ("warn", "page 2 slow", "shop.orders"),
        ("error", "deadlock, retried", "shop.db"),
    ]
    fetch, save = run.tasks
    assert [g.task_id for g in run.logs] == [None, fetch.id, save.id]
    assert run_once(client, "quiet").logs == []


def test_a_synchronous_job_and_its_tasks_are_captured(make: Callable[..., runio.Client]) -> None:
    client = make(capture_logging=True)

    @client.define_job(id="sync", trigger=runio.event_trigger("sync"))
    def sync(payload: Any, io: runio.SyncIO) -> int:
        log.info("in the job's thread")

        def step(task: runio.Task) -> int:
            log.info("in its task")
            return 1

        return io.run_task("step", step)

    run = run_once(client, "sync")
    assert run.status == "COMPLETED", run.error
    assert [(g.message, g.task_id) for g in run.logs] == [
        ("in the job's thread", None),
        ("in its task", run.task("step").id),
    ]


def test_the_client_setting_applies_unless_the_job_says_otherwise(
    make: Callable[..., runio.Client],
) -> None:
    client = make(capture_logging=logging.DEBUG)

    @client.define_job(id="chatty", trigger=runio.event_trigger("chatty"))
    async def chatty(payload: Any, io: runio.IO) -> None:
        log.debug("details")

    @client.define_job(id="private", trigger=runio.event_trigger("private"), capture_logging=False)
    async def private(payload: Any, io: runio.IO) -> None:
        log.warning("kept out of the run")

    @client.define_job(id="errors", trigger=runio.event_trigger("errors"), capture_logging="ERROR")
    async def errors(payload: Any, io: runio.IO) -> None:
        log.warning("below ERROR")
        log.error("kept")

    assert lines(run_once(client, "chatty")) == [("debug", "details", "shop.orders")]
    assert run_once(client, "private").logs == []
    assert lines(run_once(client, "errors")) == [("error", "kept", "shop.orders")]


def test_records_are_stored_once_however_often_the_run_replays(
    make: Callable[..., runio.Client], clock: TestClock
) -> None:
    client = make(capture_logging=True)
    flaky = runio.RetryOptions(limit=2, min_timeout=1, max_timeout=1, randomize=False)

    @client.define_job(id="replays", trigger=runio.event_trigger("replays"))
    async def replays(payload: Any, io: runio.IO) -> str:
        log.info("started")

        def call(task: runio.Task) -> str:
            log.info("attempt %d", task.attempt)
            if task.attempt == 1:
                raise ConnectionError("refused")
            return "ok"

        await io.wait("nap", 60)
        log.info("woke up")
        return await io.run_task("call", call, retry=flaky)

    run_id = client.send_event("replays").run_ids[0]
    for _ in range(3):  # the wait, then the retry delay: three executions
        client.run_worker(until_idle=True)
        clock.advance(seconds=60)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED" and run.execution_count == 3
    assert [g.message for g in run.logs] == ["started", "woke up", "attempt 1", "attempt 2"]


def test_an_exception_is_stored_with_its_traceback(make: Callable[..., runio.Client]) -> None:
    client = make(capture_logging=True)

    @client.define_job(id="oops", trigger=runio.event_trigger("oops"))
    async def oops(payload: Any, io: runio.IO) -> None:
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed")

    (line,) = run_once(client, "oops").logs
    assert line.level == "error" and line.message == "lookup failed"
    assert "Traceback" in line.data["exception"] and "KeyError: 'missing'" in line.data["exception"]


def test_io_logger_lines_are_not_stored_twice(make: Callable[..., runio.Client]) -> None:
    client = make(capture_logging=logging.DEBUG)

    @client.define_job(id="both", trigger=runio.event_trigger("both"))
    async def both(payload: Any, io: runio.IO) -> None:
        io.logger.warn("from io.logger", n=1)
        log.warning("from logging")

    run = run_once(client, "both")
    assert [(g.message, g.data) for g in run.logs] == [
        ("from io.logger", {"n": 1}),
        ("from logging", {"logger": "shop.orders"}),
    ]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_capturing_changes_nothing_your_handlers_print(make: Callable[..., runio.Client]) -> None:
    """INFO records are captured under a WARNING root logger, yet the app's own handler still
    sees only what it saw before; the logging setup is restored when the worker stops."""
    client = make(capture_logging=True)

    @client.define_job(id="mixed", trigger=runio.event_trigger("mixed"))
    async def mixed(payload: Any, io: runio.IO) -> None:
        log.info("info line")
        log.warning("warning line")

    root = logging.getLogger()
    mine = Collect()
    before = (root.level, [h.level for h in root.handlers])
    root.addHandler(mine)
    try:
        run = run_once(client, "mixed")
        log.warning("outside any run")
    finally:
        root.removeHandler(mine)
    assert [g.message for g in run.logs] == ["info line", "warning line"]
    assert mine.messages == ["warning line", "outside any run"]
    assert (root.level, [h.level for h in root.handlers]) == before
    assert mine.level == logging.NOTSET


@pytest.mark.parametrize("value", ["LOUD", -1, 2.5])
def test_a_bad_capture_setting_is_refused(make: Callable[..., runio.Client], value: Any) -> None:
    with pytest.raises(runio.errors.ConfigurationError, match="capture_logging must be"):
        make(capture_logging=value)
    client = make()
    with pytest.raises(runio.errors.JobDefinitionError, match=r"Job 'bad'.*capture_logging"):

        @client.define_job(id="bad", trigger=runio.event_trigger("bad"), capture_logging=value)
        async def bad(payload: Any, io: runio.IO) -> None: ...


# -- runio worker --log-format json -------------------------------------------------------------


def test_the_json_format_is_one_object_per_record() -> None:
    record = logging.LogRecord(
        "runio.run", logging.WARNING, __file__, 1, "disk %s", ("full",), None
    )
    record.run_id, record.job_id = "run_1", "backup"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "runio.run"
    assert line["message"] == "disk full"
    assert (line["run_id"], line["job_id"]) == ("run_1", "backup")
    assert line["time"].endswith("+00:00")
    try:
        raise ValueError("bad [value]")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, sys.exc_info())
    assert "ValueError: bad [value]" in json.loads(JsonFormatter().format(failed))["exception"]


JSON_APP = """
import runio

client = runio.Client(id="json-logs")


@client.define_job(id="backup", trigger=runio.event_trigger("backup"))
async def backup(payload: dict, io: runio.IO) -> None:
    io.logger.warn("disk [almost] full", free_gb=3)
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_worker_logs_json_lines_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(JSON_APP, encoding="utf-8")
    env = {"RUNIO_DATABASE_URL": f"sqlite:///{tmp_path / 'runio.db'}", "PATH": ""}
    runio_cmd = [sys.executable, "-c", "from runio.cli import main; main()"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*runio_cmd, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    sent = run("send-event", "backup", "--app", "app.py:client")
    assert sent.returncode == 0, sent.stderr
    (run_id,) = json.loads(sent.stdout)["run_ids"]
    worker = run("worker", "app.py:client", "--until-idle", "--log-format", "json")
    assert worker.returncode == 0, worker.stderr
    records = [json.loads(line) for line in worker.stderr.splitlines()]
    (warning,) = [r for r in records if r["logger"] == "runio.run"]
    assert warning["level"] == "WARNING"
    assert warning["run_id"] == run_id and warning["job_id"] == "backup"
    assert "disk [almost] full" in warning["message"]
    assert "worker stopped after 1 execution(s)" in worker.stdout


def test_a_root_logger_that_lets_everything_through_is_left_alone(
    make: Callable[..., runio.Client],
) -> None:
    client = make(capture_logging=True)
    levels: list[int] = []

    @client.define_job(id="open", trigger=runio.event_trigger("open"))
    async def open_(payload: Any, io: runio.IO) -> None:
        levels.append(logging.getLogger().level)
        log.info("captured")

    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.NOTSET)
    try:
        run = run_once(client, "open")
        after = root.level
    finally:
        root.setLevel(saved)
    assert [g.message for g in run.logs] == ["captured"]
    assert levels == [logging.NOTSET] and after == logging.NOTSET
