"""Bad input, row by row: each is refused where it is given, with an error that says what was
wrong, and nothing is stored or lost.

One table, one parametrised case per row, across four surfaces:

- ``api``: the ``Client``, ``define_job``, ``send_event``, ``RetryOptions``, workers. The call
  raises; the database holds exactly what it held before (one earlier run, still completed).
- ``run``: calls on ``io`` inside a job (``io.run_task``, ``io.wait``, integrations). The job
  first completes a task, then makes the bad call; the run fails with the error, the completed
  task keeps its result, and the bad call leaves no task behind (or, for an output that cannot
  be stored, an ERRORED task saying why, never a silently changed value).
- ``cli``: ``runio`` through click's ``CliRunner``: the exit code and a one-paragraph message
  without a traceback; nothing stored.
- ``env``: ``RUNIO_*`` environment variables, read by the API and the CLI alike.

Integrations appear on every surface: definitions (``define_job(integrations=...)``) and calls
(``io.http``, the built-in HTTP integration, and ``io.testnotes`` from tests/plugins).
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from runio_testplugin import TestNotes

import runio
from runio.cli import cli
from runio.errors import (
    ConfigurationError,
    InvalidCacheKeyError,
    InvalidRetryOptionsError,
    JobDefinitionError,
)
from runio.integrations import HTTP
from runio.testing import TestClock

APP_ID = "bad-input"
APP = f'''
import runio

client = runio.Client("{APP_ID}")


@client.define_job(id="echo", trigger=runio.event_trigger("echo"))
async def echo(payload, io):
    return payload
'''


class World:
    """A database holding one completed run, an app file for the CLI, and the environment."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.db_path = tmp_path / "runio.db"
        self.url = f"sqlite:///{self.db_path}"
        self.clock = TestClock(start=1_800_000_000.0)
        self.client = runio.Client(APP_ID, database_url=self.url, clock=self.clock)
        self.calls: dict[str, Callable[[Any], Awaitable[Any]]] = {}

        @self.client.define_job(id="echo", trigger=runio.event_trigger("echo"))
        async def echo(payload: Any, io: runio.IO) -> Any:
            return payload

        @self.client.define_job(id="body", trigger=runio.event_trigger("body"))
        async def body(payload: Any, io: runio.IO) -> Any:
            await io.run_task("before", lambda task: "kept")
            return await self.calls[payload["row"]](io)

        first = self.client.send_event("echo", {"n": 1})
        self.client.run_worker(until_idle=True)
        self.first_run = first.run_ids[0]
        assert self.client.get_run(self.first_run).output == {"n": 1}
        (tmp_path / "app.py").write_text(APP, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        for name in ("RUNIO_TIME_SCALE", "RUNIO_MAX_PAYLOAD_SIZE", "RUNIO_LEASE_SECONDS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("RUNIO_DATABASE_URL", self.url)
        # io.testnotes (the test plugin) is configured; its server is never reached, since
        # every call in the table is refused before it is made.
        monkeypatch.setenv("TESTNOTES_TOKEN", "token")
        monkeypatch.setenv("TESTNOTES_URL", "http://127.0.0.1:9")
        self.before = self.counts()

    def counts(self) -> dict[str, int]:
        with sqlite3.connect(self.db_path) as conn:
            return {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("events", "runs", "tasks", "attempts", "logs")
            }

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        runner = CliRunner(env={"RUNIO_APP": None, "COLUMNS": "250", **(env or {})})
        return runner.invoke(cli, list(args), prog_name="runio")

    def send(self, payload: Any, **options: Any) -> Any:
        return self.client.send_event("echo", payload, **options)

    def job(self, **options: Any) -> Any:
        """define_job with ``options`` (on a fresh id each time)."""
        options.setdefault("trigger", runio.event_trigger("echo"))
        return self.client.define_job(id=f"job-{len(self.client.jobs)}", **options)(_two_args)

    def close(self) -> None:
        self.client.close()


def _two_args(payload: Any, io: Any) -> None:
    return None


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    made = World(tmp_path, monkeypatch)
    try:
        yield made
    finally:
        made.close()
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if name.startswith("runio_app_"):
                del sys.modules[name]


@dataclass(frozen=True)
class Row:
    id: str
    surface: str  # "api", "run", "cli" or "env"
    act: Callable[..., Any]
    error: type[BaseException] | int  # an exception type, or the CLI's exit code
    words: tuple[str, ...]
    task_errored: bool = False  # "run" rows: the bad call left an ERRORED task saying why
    absent: tuple[str, ...] = ()  # words the message must not hold (a secret, say)


NAN, INF = math.nan, math.inf
FAR = datetime(9999, 1, 1, tzinfo=UTC)
CLI_WORKER = ("worker", "app.py:client", "--until-idle")


def _http_call(**params: Any) -> Callable[[Any], Awaitable[Any]]:
    async def call(io: Any) -> Any:
        return await io.http.request("call", url="http://127.0.0.1:9/x", **params)

    return call


ROWS: list[Row] = [
    # -- API: the client and workers --------------------------------------------------------
    Row(
        "client-time-scale-nan",
        "api",
        lambda w: runio.Client("x", time_scale=NAN),
        ConfigurationError,
        ("time_scale", "> 0", "nan"),
    ),
    Row(
        "client-time-scale-inf",
        "api",
        lambda w: runio.Client("x", time_scale=INF),
        ConfigurationError,
        ("time_scale", "at most 100", "inf"),
    ),
    Row(
        "client-time-scale-zero",
        "api",
        lambda w: runio.Client("x", time_scale=0),
        ConfigurationError,
        ("time_scale", "> 0", "got 0"),
    ),
    Row(
        "client-time-scale-bool",
        "api",
        lambda w: runio.Client("x", time_scale=True),
        ConfigurationError,
        ("time_scale", "got True"),
    ),
    Row(
        "client-max-payload-zero",
        "api",
        lambda w: runio.Client("x", max_payload_size=0),
        ConfigurationError,
        ("max_payload_size", ">= 1", "got 0"),
    ),
    Row(
        "client-max-output-float",
        "api",
        lambda w: runio.Client("x", max_output_size=1.5),
        ConfigurationError,
        ("max_output_size", "an int", "1.5"),
    ),
    Row(
        "worker-lease-nan",
        "api",
        lambda w: w.client.worker(lease_seconds=NAN),
        ConfigurationError,
        ("lease_seconds", "nan"),
    ),
    Row(
        "worker-lease-absurd",
        "api",
        lambda w: w.client.worker(lease_seconds=1e9),
        ConfigurationError,
        ("lease_seconds", "at most 86,400 s (1 day)", "1000000000.0"),
    ),
    Row(
        "worker-grace-inf",
        "api",
        lambda w: w.client.worker(grace_period=INF),
        ConfigurationError,
        ("grace_period", "inf"),
    ),
    Row(
        "worker-poll-nan",
        "api",
        lambda w: w.client.worker(poll_interval=NAN),
        ConfigurationError,
        ("poll_interval", "nan"),
    ),
    Row(
        "worker-heartbeat-past-lease",
        "api",
        lambda w: w.client.worker(lease_seconds=5, heartbeat_interval=10),
        ConfigurationError,
        ("heartbeat_interval", "before the lease runs out"),
    ),
    Row(
        "worker-concurrency-bool",
        "api",
        lambda w: w.client.worker(concurrency=True),
        ConfigurationError,
        ("concurrency", "got True"),
    ),
    Row(
        "run-worker-lease-nan",
        "api",
        lambda w: w.client.run_worker(until_idle=True, lease_seconds=NAN),
        ConfigurationError,
        ("lease_seconds", "nan"),
    ),
    Row(
        "list-runs-limit-bool",
        "api",
        lambda w: w.client.list_runs(limit=True),
        ConfigurationError,
        ("limit", "got True"),
    ),
    # -- API: retry options -----------------------------------------------------------------
    Row(
        "retry-factor-nan",
        "api",
        lambda w: runio.RetryOptions(factor=NAN),
        InvalidRetryOptionsError,
        ("factor", "finite", "nan"),
    ),
    Row(
        "retry-max-timeout-inf",
        "api",
        lambda w: runio.RetryOptions(max_timeout=INF),
        InvalidRetryOptionsError,
        ("max_timeout", "inf"),
    ),
    Row(
        "retry-min-timeout-absurd",
        "api",
        lambda w: runio.RetryOptions(min_timeout=1e12, max_timeout=1e12),
        InvalidRetryOptionsError,
        ("min_timeout", "at most 315,360,000 (10 years)"),
    ),
    Row(
        "retry-at-absurd",
        "api",
        lambda w: runio.RetryAt(1e12),
        InvalidRetryOptionsError,
        ("RetryAt", "10 years", "1000000000000.0"),
    ),
    Row(
        "retry-at-nan",
        "api",
        lambda w: runio.RetryAt(NAN),
        InvalidRetryOptionsError,
        ("RetryAt", "nan"),
    ),
    # -- API: job definitions ---------------------------------------------------------------
    Row(
        "job-max-duration-nan",
        "api",
        lambda w: w.job(max_duration=NAN),
        JobDefinitionError,
        ("max_duration", "nan"),
    ),
    Row(
        "job-max-duration-inf",
        "api",
        lambda w: w.job(max_duration=INF),
        JobDefinitionError,
        ("max_duration", "inf", "None for no limit"),
    ),
    Row(
        "job-max-duration-absurd",
        "api",
        lambda w: w.job(max_duration=1e12),
        JobDefinitionError,
        ("max_duration", "10 years", "1000000000000.0"),
    ),
    Row(
        "job-name-surrogate",
        "api",
        lambda w: w.job(name="bad \ud800"),
        JobDefinitionError,
        ("name", "lone surrogate"),
    ),
    Row(
        "trigger-filter-nan",
        "api",
        lambda w: runio.event_trigger("echo", filter={"score": [NAN]}),
        JobDefinitionError,
        ("Event filter echo.score", "NaN and infinity are not JSON numbers"),
    ),
    Row(
        "trigger-name-surrogate",
        "api",
        lambda w: runio.event_trigger("new.\ud800"),
        JobDefinitionError,
        ("event name", "lone surrogate"),
    ),
    Row(
        "interval-seconds-nan",
        "api",
        lambda w: runio.interval_trigger(seconds=NAN),
        JobDefinitionError,
        ("interval_trigger(seconds=...)", "whole number of seconds", "nan"),
    ),
    Row(
        "interval-seconds-inf",
        "api",
        lambda w: runio.interval_trigger(seconds=INF),
        JobDefinitionError,
        ("whole number of seconds", "inf", "cron_trigger"),
    ),
    Row(
        "cron-six-fields",
        "api",
        lambda w: runio.cron_trigger("0 0 9 * * 1-5"),
        JobDefinitionError,
        ("five fields", "'0 9 * * 1-5'"),
    ),
    Row(
        "cron-unknown-timezone",
        "api",
        lambda w: runio.cron_trigger("0 9 * * *", timezone="Paris"),
        JobDefinitionError,
        ("unknown time zone 'Paris'", "Europe/Paris"),
    ),
    Row(
        "cron-catch-up-bound-absurd",
        "api",
        lambda w: runio.cron_trigger("0 9 * * *", missed="catch_up", max_catch_up=10**9),
        JobDefinitionError,
        ("max_catch_up", "from 1 to 1000", "1000000000"),
    ),
    # -- API: flow control and versions ------------------------------------------------------
    Row(
        "concurrency-limit-zero",
        "api",
        lambda w: w.job(concurrency_limit=0),
        JobDefinitionError,
        ("concurrency_limit must be an int", ">= 1", "got 0"),
    ),
    Row(
        "concurrency-limit-nan",
        "api",
        lambda w: w.job(concurrency_limit=NAN),
        JobDefinitionError,
        ("concurrency_limit must be an int", "nan"),
    ),
    Row(
        "concurrency-key-without-limit",
        "api",
        lambda w: w.job(concurrency_key=lambda payload: payload["customer"]),
        JobDefinitionError,
        ("concurrency_key limits runs per key value", "concurrency_limit=N"),
    ),
    Row(
        "concurrency-key-not-a-function",
        "api",
        lambda w: w.job(concurrency_limit=1, concurrency_key="customer_id"),
        JobDefinitionError,
        ("concurrency_key must be a function of the payload", "'customer_id'"),
    ),
    Row(
        "compatible-versions-a-string",
        "api",
        lambda w: w.job(compatible_versions="1.0.0"),
        JobDefinitionError,
        ("compatible_versions must be a list of version strings", "'1.0.0'"),
    ),
    # -- API: integrations declared by a job ------------------------------------------------
    Row(
        "integration-not-an-instance",
        "api",
        lambda w: w.job(integrations={"http": 5}),
        JobDefinitionError,
        ("integrations['http']", "integration instance", "of type int"),
    ),
    Row(
        "integration-secret-not-shown",
        "api",
        lambda w: w.job(integrations={"stripe": "sk_test_not_shown_123"}),
        JobDefinitionError,
        ("integrations['stripe']", "of type str", "may be a secret"),
        absent=("sk_test_not_shown_123",),
    ),
    Row(
        "integration-class-not-instance",
        "api",
        lambda w: w.job(integrations={"http": HTTP}),
        JobDefinitionError,
        ("is the class HTTP", "HTTP(...)"),
    ),
    Row(
        "integration-plugin-class",
        "api",
        lambda w: w.job(integrations={"notes": TestNotes}),
        JobDefinitionError,
        ("is the class TestNotes",),
    ),
    Row(
        "integration-shadows-run-task",
        "api",
        lambda w: w.job(integrations={"run_task": HTTP()}),
        JobDefinitionError,
        ("would hide io.run_task", "choose another name"),
    ),
    Row(
        "integration-shadows-logger",
        "api",
        lambda w: w.job(integrations={"logger": HTTP()}),
        JobDefinitionError,
        ("would hide io.logger",),
    ),
    Row(
        "integration-key-not-identifier",
        "api",
        lambda w: w.job(integrations={"my-api": HTTP()}),
        JobDefinitionError,
        ("'my-api'", "Python identifier"),
    ),
    Row(
        "integration-key-private",
        "api",
        lambda w: w.job(integrations={"_api": HTTP()}),
        JobDefinitionError,
        ("'_api'", "does not start with '_'"),
    ),
    Row(
        "integrations-not-a-mapping",
        "api",
        lambda w: w.job(integrations=[HTTP()]),
        JobDefinitionError,
        ("must map names", "list"),
    ),
    # -- API: events ------------------------------------------------------------------------
    Row(
        "payload-keys-collide",
        "api",
        lambda w: w.send({1: "a", "1": "b"}),
        ConfigurationError,
        ("keys 1 and '1'", "one value would be lost", "Nothing was stored"),
    ),
    Row(
        "payload-nested-keys-collide",
        "api",
        lambda w: w.send({"x": [{2: "a", "2": "b"}]}),
        ConfigurationError,
        ("keys 2 and '2'",),
    ),
    Row(
        "payload-surrogate",
        "api",
        lambda w: w.send({"name": "caf\udce9"}),
        ConfigurationError,
        ("lone surrogate", "errors='replace'", "Nothing was stored"),
    ),
    Row(
        "payload-surrogate-key",
        "api",
        lambda w: w.send({"\ud800": 1}),
        ConfigurationError,
        ("lone surrogate",),
    ),
    Row(
        "payload-nan",
        "api",
        lambda w: w.send({"score": NAN}),
        ConfigurationError,
        ("NaN and infinity are not JSON numbers",),
    ),
    Row(
        "payload-huge-int",
        "api",
        lambda w: w.send({"n": 10**5000}),
        ConfigurationError,
        ("more digits", "store it as a string"),
    ),
    Row(
        "payload-circular",
        "api",
        lambda w: w.send(_circular()),
        ConfigurationError,
        ("contains itself",),
    ),
    Row(
        "payload-too-large",
        "api",
        lambda w: w.send({"blob": "x" * (3 * 1024 * 1024)}),
        ConfigurationError,
        ("3,145,728-byte limit", "nothing was stored", "max_payload_size"),
    ),
    Row(
        "payload-over-configured-limit",
        "api",
        lambda w: _with_client(
            w,
            lambda c: c.send_event("echo", {"text": "y" * 64}),
            database_url=w.url,
            max_payload_size=64,
        ),
        ConfigurationError,
        ("more than the 64-byte limit",),
    ),
    Row(
        "event-name-surrogate",
        "api",
        lambda w: w.client.send_event("echo\udc80", {}),
        ConfigurationError,
        ("event name", "lone surrogate"),
    ),
    Row(
        "event-id-surrogate",
        "api",
        lambda w: w.send({}, id="evt-\udc80"),
        ConfigurationError,
        ("event id", "lone surrogate"),
    ),
    Row(
        "event-delay-nan",
        "api",
        lambda w: w.send({}, delay=NAN),
        ConfigurationError,
        ("Event 'echo': delay", "nan", "seconds (a number) or a timedelta"),
    ),
    Row(
        "event-delay-negative",
        "api",
        lambda w: w.send({}, delay=timedelta(seconds=-5)),
        ConfigurationError,
        ("Event 'echo': delay", ">= 0", "-5.0"),
    ),
    Row(
        "event-delay-and-deliver-at",
        "api",
        lambda w: w.send({}, delay=5, deliver_at=datetime.now(UTC)),
        ConfigurationError,
        ("deliver_at or delay, not both",),
    ),
    Row(
        "send-events-not-a-list",
        "api",
        lambda w: w.client.send_events({"name": "echo"}),  # type: ignore[arg-type]
        ConfigurationError,
        ("send_events takes a list of events", "got dict"),
    ),
    Row(
        "send-events-unknown-key",
        "api",
        lambda w: w.client.send_events([{"name": "echo"}, {"name": "echo", "deliver": 1}]),
        ConfigurationError,
        ("item 1 has unknown key(s) deliver", "Nothing was stored"),
    ),
    Row(
        "send-events-naive-deliver-at",
        "api",
        lambda w: w.client.send_events([{"name": "echo", "deliver_at": datetime(2030, 1, 1)}]),
        ConfigurationError,
        ("deliver_at must be a timezone-aware datetime",),
    ),
    Row(
        "get-event-empty-id",
        "api",
        lambda w: w.client.get_event(""),
        ConfigurationError,
        ("get_event needs an event id", "got ''"),
    ),
    Row(
        "cancel-event-not-a-string",
        "api",
        lambda w: w.client.cancel_event(42),  # type: ignore[arg-type]
        ConfigurationError,
        ("cancel_event needs an event id", "got 42"),
    ),
    Row(
        "database-under-a-file",
        "api",
        lambda w: _with_client(
            w, lambda c: c.list_runs(), database_url=f"sqlite:///{_file(w)}/sub/runio.db"
        ),
        ConfigurationError,
        ("Cannot open the database", "is a file", "RUNIO_DATABASE_URL"),
    ),
    # -- io calls inside a run --------------------------------------------------------------
    Row(
        "wait-absurd",
        "run",
        lambda io: io.wait("w", 1e12),
        ConfigurationError,
        ("io.wait('w', seconds)", "10 years", "1000000000000.0"),
    ),
    Row(
        "wait-nan",
        "run",
        lambda io: io.wait("w", NAN),
        ConfigurationError,
        ("io.wait('w', seconds)", "nan"),
    ),
    Row(
        "wait-until-year-9999",
        "run",
        lambda io: io.wait_until("w", FAR),
        ConfigurationError,
        ("io.wait_until('w', when)", "more than ten years ahead"),
    ),
    Row(
        "property-dict-without-text",
        "run",
        lambda io: io.run_task("t", lambda t: 1, properties=[{"label": "User"}]),
        ConfigurationError,
        ("Task 't'", "property 'User' needs exactly one of 'text' and 'value'"),
    ),
    Row(
        "property-not-a-property",
        "run",
        lambda io: io.run_task("t", lambda t: 1, properties=[("User", "u_1")]),
        ConfigurationError,
        ("Task 't'", "runio.Property(label, text), or a dict", "('User', 'u_1')"),
    ),
    Row(
        "display-key-empty",
        "run",
        lambda io: io.run_task("t", lambda t: 1, display_key=" "),
        ConfigurationError,
        ("io.run_task('t'): display_key must not be empty",),
    ),
    Row(
        "wait-for-event-empty-name",
        "run",
        lambda io: io.wait_for_event("w", " "),
        ConfigurationError,
        ("io.wait_for_event('w', name)", "non-empty event name", "got ' '"),
    ),
    Row(
        "wait-for-event-timeout-nan",
        "run",
        lambda io: io.wait_for_event("w", "approved", timeout=NAN),
        ConfigurationError,
        ("io.wait_for_event('w', name): timeout", "> 0", "nan"),
    ),
    Row(
        "wait-for-event-timeout-zero",
        "run",
        lambda io: io.wait_for_event("w", "approved", timeout=0),
        ConfigurationError,
        ("timeout must be a number of seconds > 0", "got 0"),
    ),
    Row(
        "wait-for-event-filter-scalar",
        "run",
        lambda io: io.wait_for_event("w", "approved", filter={"plan": "pro"}),
        ConfigurationError,
        ("Event filter approved.plan must list the allowed values", "{'plan': ['pro']}"),
    ),
    Row(
        "wait-for-event-schema-dict",
        "run",
        lambda io: io.wait_for_event("w", "approved", schema=dict),
        ConfigurationError,
        ("schema must be a pydantic BaseModel subclass", "dict"),
    ),
    Row(
        "delay-until-naive",
        "run",
        lambda io: io.run_task("t", lambda task: 1, delay_until=datetime(2030, 1, 1)),
        ConfigurationError,
        ("io.run_task('t', delay_until)", "timezone-aware datetime"),
    ),
    Row(
        "delay-until-year-9999",
        "run",
        lambda io: io.run_task("t", lambda task: 1, delay_until=FAR),
        ConfigurationError,
        ("io.run_task('t', delay_until)", "more than ten years ahead"),
    ),
    Row(
        "io-send-events-mapping",
        "run",
        lambda io: io.send_events("s", {"name": "echo"}),
        ConfigurationError,
        ("io.send_events('s', events)", "list of mappings", "got dict"),
    ),
    Row(
        "io-send-events-no-name",
        "run",
        lambda io: io.send_events("s", [{"payload": {}}]),
        ConfigurationError,
        ("io.send_events('s', events): item 0 has no 'name'",),
    ),
    Row(
        "io-send-events-empty-name",
        "run",
        lambda io: io.send_events("s", [{"name": ""}]),
        ConfigurationError,
        ("An event needs a non-empty name",),
    ),
    Row(
        "store-value-nan",
        "run",
        lambda io: io.store.app.set("s", "k", NAN),
        ConfigurationError,
        ("io.store.app.set('s', 'k', value)", "cannot be stored as JSON"),
    ),
    Row(
        "store-key-empty",
        "run",
        lambda io: io.store.run.get("s", ""),
        ConfigurationError,
        ("io.store.run.get('s', key)", "key must be a non-empty string"),
    ),
    Row(
        "store-key-surrogate",
        "run",
        lambda io: io.store.job.delete("s", "k\udc80"),
        ConfigurationError,
        ("io.store.job.delete('s', key): key", "lone surrogate"),
    ),
    Row(
        "cache-key-range",
        "run",
        lambda io: io.run_task(range(3), lambda t: 1),
        InvalidCacheKeyError,
        ("list or tuple", "range(0, 3)"),
    ),
    Row(
        "cache-key-surrogate",
        "run",
        lambda io: io.run_task("caf\udce9", lambda t: 1),
        InvalidCacheKeyError,
        ("lone surrogate",),
    ),
    Row(
        "cache-key-nested-surrogate",
        "run",
        lambda io: io.run_task(["send", ("\ud800",)], lambda t: 1),
        InvalidCacheKeyError,
        ("lone surrogate",),
    ),
    Row(
        "cache-key-nan",
        "run",
        lambda io: io.run_task(["score", NAN], lambda t: 1),
        InvalidCacheKeyError,
        ("nan", "finite numbers"),
    ),
    Row(
        "cache-key-set",
        "run",
        lambda io: io.run_task(["ids", {1, 2}], lambda t: 1),
        InvalidCacheKeyError,
        ("holds a set", "lists or tuples"),
    ),
    Row(
        "on-error-not-callable",
        "run",
        lambda io: io.run_task("t", lambda t: 1, on_error="x"),
        ConfigurationError,
        ("on_error must be a function", "str: 'x'"),
    ),
    Row(
        "timeout-nan",
        "run",
        lambda io: io.run_task("t", lambda t: 1, timeout=NAN),
        ConfigurationError,
        ("timeout", "nan"),
    ),
    Row(
        "task-name-surrogate",
        "run",
        lambda io: io.run_task("t", lambda t: 1, name="\ud800"),
        ConfigurationError,
        ("name", "lone surrogate"),
    ),
    Row(
        "params-keys-collide",
        "run",
        lambda io: io.run_task("t", lambda t: 1, params={1: "a", "1": "b"}),
        ConfigurationError,
        ("params must be JSON-compatible", "keys 1 and '1'"),
    ),
    Row(
        "random-nan",
        "run",
        lambda io: io.random("r", min=NAN),
        ConfigurationError,
        ("io.random('r')", "min must be a finite number"),
    ),
    Row(
        "send-event-surrogate",
        "run",
        lambda io: io.send_event("s", "echo", {"a": "\ud800"}),
        ConfigurationError,
        ("lone surrogate",),
    ),
    Row(
        "output-keys-collide",
        "run",
        lambda io: io.run_task("t", lambda t: {1: "a", "1": "b"}),
        runio.errors.TaskFailedError,
        ("OutputError", "keys 1 and '1'"),
        task_errored=True,
    ),
    Row(
        "output-surrogate",
        "run",
        lambda io: io.run_task("t", lambda t: "caf\udce9"),
        runio.errors.TaskFailedError,
        ("OutputError", "lone surrogate"),
        task_errored=True,
    ),
    # -- integrations called inside a run ---------------------------------------------------
    Row(
        "http-cache-key-range",
        "run",
        lambda io: io.http.request(range(2), url="http://127.0.0.1:9/"),
        InvalidCacheKeyError,
        ("list or tuple",),
    ),
    Row(
        "http-cache-key-surrogate",
        "run",
        lambda io: io.http.request("\udcff", url="http://127.0.0.1:9/"),
        InvalidCacheKeyError,
        ("lone surrogate",),
    ),
    Row(
        "http-json-surrogate",
        "run",
        _http_call(json={"name": "caf\udce9"}),
        ConfigurationError,
        ("params must be JSON-compatible", "lone surrogate"),
    ),
    Row(
        "http-run-task-name-surrogate",
        "run",
        lambda io: io.http.run_task("t", lambda client, task: 1, name="\udce9"),
        ConfigurationError,
        ("name", "lone surrogate"),
    ),
    Row(
        "http-run-task-on-error-not-callable",
        "run",
        lambda io: io.http.run_task("t", lambda client, task: 1, on_error=42),
        ConfigurationError,
        ("io.http.run_task('t', ...)", "on_error must be a function"),
    ),
    Row(
        "http-params-keys-json-would-merge",
        "run",
        _http_call(json={1: "a", "1": "b"}),
        ConfigurationError,
        ("HTTP: the call's parameters cannot be recorded", "both become '1'"),
    ),
    Row(
        "plugin-cache-key-surrogate",
        "run",
        lambda io: io.testnotes.post_note("\udce9", board="b", text="t"),
        InvalidCacheKeyError,
        ("lone surrogate",),
    ),
    Row(
        "http-run-task-timeout-inf",
        "run",
        lambda io: io.http.run_task("t", lambda client, task: 1, timeout=INF),
        ConfigurationError,
        ("timeout", "inf"),
    ),
    Row(
        "plugin-cache-key-nan",
        "run",
        lambda io: io.testnotes.post_note(["note", NAN], board="b", text="t"),
        InvalidCacheKeyError,
        ("nan",),
    ),
    # -- the command line -------------------------------------------------------------------
    Row(
        "cli-lease-nan",
        "cli",
        lambda w: w.cli(*CLI_WORKER, "--lease-seconds", "nan"),
        2,
        ("--lease-seconds", "'nan' is not a finite number of seconds"),
    ),
    Row(
        "cli-lease-inf",
        "cli",
        lambda w: w.cli(*CLI_WORKER, "--lease-seconds", "inf"),
        2,
        ("--lease-seconds", "not in the range 0.1<=x<=86400"),
    ),
    Row(
        "cli-grace-nan",
        "cli",
        lambda w: w.cli(*CLI_WORKER, "--grace-period", "nan"),
        2,
        ("--grace-period", "not a finite number"),
    ),
    Row(
        "cli-concurrency-zero",
        "cli",
        lambda w: w.cli(*CLI_WORKER, "--concurrency", "0"),
        2,
        ("--concurrency", "not in the range"),
    ),
    Row(
        "cli-payload-duplicate-key",
        "cli",
        lambda w: w.cli("send-event", "echo", '{"a": 1, "a": 2}', "--app", "app.py:client"),
        2,
        ("PAYLOAD", "'a' appears twice"),
    ),
    Row(
        "cli-payload-nan",
        "cli",
        lambda w: w.cli("send-event", "echo", '{"a": NaN}', "--app", "app.py:client"),
        1,
        ("NaN and infinity are not JSON numbers", "Nothing was stored"),
    ),
    Row(
        "cli-payload-surrogate",
        "cli",
        lambda w: w.cli("send-event", "echo", '{"a": "\\udc80"}', "--app", "app.py:client"),
        1,
        ("lone surrogate",),
    ),
    Row(
        "cli-database-under-a-file",
        "cli",
        lambda w: w.cli("--database-url", f"sqlite:///{_file(w)}/x/runio.db", "runs", "list"),
        1,
        ("Cannot open the database", "is a file"),
    ),
    # -- environment variables --------------------------------------------------------------
    Row(
        "env-time-scale-nan",
        "env",
        lambda w: _env(w, "RUNIO_TIME_SCALE", "nan"),
        ConfigurationError,
        ("RUNIO_TIME_SCALE", "> 0", "nan"),
    ),
    Row(
        "env-time-scale-inf",
        "env",
        lambda w: _env(w, "RUNIO_TIME_SCALE", "inf"),
        ConfigurationError,
        ("RUNIO_TIME_SCALE", "at most 100"),
    ),
    Row(
        "env-time-scale-text",
        "env",
        lambda w: _env(w, "RUNIO_TIME_SCALE", "fast"),
        ConfigurationError,
        ("RUNIO_TIME_SCALE='fast'", "not a number", "fix or unset it"),
    ),
    Row(
        "env-max-payload-fraction",
        "env",
        lambda w: _env(w, "RUNIO_MAX_PAYLOAD_SIZE", "1.5"),
        ConfigurationError,
        ("RUNIO_MAX_PAYLOAD_SIZE='1.5'", "not a whole number"),
    ),
    Row(
        "env-max-payload-zero",
        "env",
        lambda w: _env(w, "RUNIO_MAX_PAYLOAD_SIZE", "0"),
        ConfigurationError,
        ("RUNIO_MAX_PAYLOAD_SIZE", ">= 1"),
    ),
    Row(
        "env-max-payload-exceeded",
        "env",
        lambda w: _env(
            w,
            "RUNIO_MAX_PAYLOAD_SIZE",
            "10",
            lambda c: c.send_event("echo", {"text": "0123456789"}),
        ),
        ConfigurationError,
        ("more than the 10-byte limit", "RUNIO_MAX_PAYLOAD_SIZE"),
    ),
    Row(
        "env-database-under-a-file",
        "env",
        lambda w: _env(
            w,
            "RUNIO_DATABASE_URL",
            f"sqlite:///{_file(w)}/db/runio.db",
            lambda c: c.list_runs(),
            database_url=None,
        ),
        ConfigurationError,
        ("Cannot open the database", "is a file"),
    ),
    Row(
        "env-cli-lease-nan",
        "env",
        lambda w: w.cli(*CLI_WORKER, env={"RUNIO_LEASE_SECONDS": "nan"}),
        2,
        ("env var: 'RUNIO_LEASE_SECONDS'", "not a finite number"),
    ),
    Row(
        "env-cli-concurrency-negative",
        "env",
        lambda w: w.cli(*CLI_WORKER, env={"RUNIO_CONCURRENCY": "-1"}),
        2,
        ("RUNIO_CONCURRENCY", "not in the range"),
    ),
    Row(
        "env-cli-time-scale-in-app",
        "env",
        lambda w: w.cli(*CLI_WORKER, env={"RUNIO_TIME_SCALE": "nan"}),
        1,
        ("RUNIO_TIME_SCALE", "nan"),
    ),
    Row(
        "env-cli-payload-limit",
        "env",
        lambda w: w.cli(
            "send-event",
            "echo",
            '{"a": "0123456789"}',
            "--app",
            "app.py:client",
            env={"RUNIO_MAX_PAYLOAD_SIZE": "8"},
        ),
        1,
        ("more than the 8-byte limit", "nothing was stored"),
    ),
]


def _circular() -> Any:
    loop: list[Any] = []
    loop.append(loop)
    return {"loop": loop}


def _file(world: World) -> Path:
    path = world.tmp_path / "a-regular-file"
    path.write_text("not a directory")
    return path


def _with_client(world: World, action: Callable[[runio.Client], Any], **options: Any) -> Any:
    """``action`` on a client of the app built with ``options``, closed afterwards."""
    options.setdefault("database_url", world.url)
    client = runio.Client(APP_ID, clock=world.clock, **options)
    try:
        return action(client)
    finally:
        client.close()


def _env(
    world: World,
    name: str,
    value: str,
    action: Callable[[runio.Client], Any] = lambda client: None,
    **options: Any,
) -> Any:
    world.monkeypatch.setenv(name, value)
    return _with_client(world, action, **options)


def test_the_table_covers_every_surface() -> None:
    surfaces = [row.surface for row in ROWS]
    assert len(ROWS) >= 40
    assert len({row.id for row in ROWS}) == len(ROWS)
    assert min(surfaces.count(s) for s in ("api", "run", "cli", "env")) >= 8
    integration_rows = [
        r for r in ROWS if "integration" in r.id or r.id.startswith(("http-", "plugin-"))
    ]
    assert len(integration_rows) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_refused_clearly_and_nothing_is_stored_or_lost(row: Row, world: World) -> None:
    if row.surface == "run":
        _check_in_run(row, world)
    elif isinstance(row.error, int):
        result = row.act(world)
        assert result.exit_code == row.error, (result.output, result.exception)
        assert isinstance(result.exception, SystemExit), f"unhandled: {result.exception!r}"
        assert "Traceback" not in result.output
        assert "looks like a bug" not in result.output
        for word in row.words:
            assert word in result.output, result.output
        _assert_nothing_changed(world)
    else:
        with pytest.raises(row.error) as raised:
            row.act(world)
        for word in row.words:
            assert word in str(raised.value), str(raised.value)
        for word in row.absent:
            assert word not in str(raised.value)
        _assert_nothing_changed(world)


def _assert_nothing_changed(world: World) -> None:
    assert world.counts() == world.before
    first = world.client.get_run(world.first_run)
    assert (first.status, first.output) == ("COMPLETED", {"n": 1})


def _check_in_run(row: Row, world: World) -> None:
    world.calls[row.id] = row.act
    event = world.client.send_event("body", {"row": row.id})
    world.client.run_worker(until_idle=True)
    run = world.client.get_run(event.run_ids[0])
    assert run.status == "FAILED"
    assert run.error is not None
    assert isinstance(row.error, type)
    assert run.error["type"] == row.error.__name__, run.error
    for word in row.words:
        assert word in run.error["message"], run.error["message"]
    before = run.task("before")
    assert (before.status, before.output) == ("COMPLETED", "kept")
    others = [t for t in run.tasks if t.cache_key != "before"]
    if row.task_errored:  # refused output: recorded as the task's error, never a changed value
        assert [(t.status, t.output) for t in others] == [("ERRORED", None)]
        assert others[0].error is not None and others[0].error["type"] == "OutputError"
    else:
        assert others == []  # the bad call stored nothing
    # The earlier run is untouched; only this run's event, run and "before" task are new.
    after = world.counts()
    assert after["events"] == world.before["events"] + 1
    assert after["runs"] == world.before["runs"] + 1
    assert after["tasks"] == world.before["tasks"] + 1 + len(others)
    first = world.client.get_run(world.first_run)
    assert (first.status, first.output) == ("COMPLETED", {"n": 1})


# -- limits that hold: the largest values accepted, and computed delays clamped -----------------


def test_a_payload_at_the_limit_is_stored_and_one_byte_more_is_not(world: World) -> None:
    client = runio.Client(APP_ID, database_url=world.url, clock=world.clock, max_payload_size=20)
    try:
        payload = {"t": "é" * 6}  # {"t":"éééééé"}: 8 bytes of punctuation, 12 of text
        assert len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()) == 20
        event = client.send_event("echo", payload)
        assert client.get_run(event.run_ids[0]).payload == payload
        with pytest.raises(ConfigurationError, match="21 bytes of JSON, more than the 20-byte"):
            client.send_event("echo", {"t": "é" * 6 + "x"})
        assert world.counts()["events"] == world.before["events"] + 1
    finally:
        client.close()


def test_a_huge_backoff_factor_waits_max_timeout_instead_of_overflowing(world: World) -> None:
    retry = runio.RetryOptions(
        limit=6, factor=1e308, min_timeout=1, max_timeout=45, randomize=False
    )

    def always_fails(task: runio.Task) -> None:
        raise ConnectionError(f"down (attempt {task.attempt})")

    @world.client.define_job(id="overflow", trigger=runio.event_trigger("overflow"))
    async def overflow(payload: Any, io: runio.IO) -> Any:
        return await io.run_task("call", always_fails, retry=retry)

    run_id = world.client.send_event("overflow", {}).run_ids[0]
    delays = []
    for _ in range(5):
        world.client.run_worker(until_idle=True)
        task = world.client.get_run(run_id).task("call")
        assert task.status == "WAITING" and task.retry_at is not None
        delays.append(task.retry_at - world.clock.now())
        world.clock.advance(task.retry_at - world.clock.now())
    world.client.run_worker(until_idle=True)
    run = world.client.get_run(run_id)
    assert delays == [1, 45, 45, 45, 45]  # 1e308 ** 2 overflows a float: max_timeout instead
    assert run.status == "FAILED"
    assert run.error is not None and "down (attempt 6)" in run.error["message"]
    assert len(run.task("call").attempts) == 6


def test_a_wait_of_ten_years_is_accepted_and_shows_its_date(world: World) -> None:
    ten_years = 10 * 365 * 86400

    @world.client.define_job(id="long", trigger=runio.event_trigger("long"))
    async def long(payload: Any, io: runio.IO) -> Any:
        await io.wait("decade", ten_years)

    run_id = world.client.send_event("long", {}).run_ids[0]
    world.client.run_worker(until_idle=True)
    run = world.client.get_run(run_id)
    assert run.status == "WAITING"
    wake = datetime.fromtimestamp(world.clock.now(), UTC) + timedelta(seconds=ten_years)
    shown = world.cli("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert f"until {wake:%Y-%m-%d %H:%M:%S} UTC" in shown.output


def test_a_stored_time_past_year_9999_renders_instead_of_crashing(world: World) -> None:
    """A database written before these limits existed may hold such times: they still show."""

    @world.client.define_job(id="nap", trigger=runio.event_trigger("nap"))
    async def nap(payload: Any, io: runio.IO) -> Any:
        await io.wait("nap", 60)

    run_id = world.client.send_event("nap", {}).run_ids[0]
    world.client.run_worker(until_idle=True)
    with sqlite3.connect(world.db_path) as conn:
        conn.execute("UPDATE tasks SET wake_at = ? WHERE run_id = ?", (1e12 + 1.8e9, run_id))
    shown = world.cli("runs", "show", run_id)
    assert shown.exit_code == 0, (shown.output, shown.exception)
    assert "until after year 9999" in shown.output
    listed = world.cli("runs", "list", "--json")
    assert listed.exit_code == 0 and run_id in listed.output
