"""The integration conformance suite: the tests every integration package runs.

An integration package's tests subclass ``IntegrationConformance`` once (pytest collects it by
its ``Test...`` name) and say which integration, which fake server, and which wrapper call
writes::

    class TestAcmeConformance(runio.testing.IntegrationConformance):
        integration_class = Acme
        fake_server_class = FakeAcme
        write = ("create_item", {"title": "Hello"})

        def make_integration(self, server, secret):
            return Acme(api_key=secret, base_url=server.url)

Each test drives real runs (a real worker, a SQLite database in the test's temporary directory,
a ``TestClock``) against the fake vendor server, through the vendor's real SDK. What they prove:
metadata and icon; the plugin is found through the ``runio`` entry point; every wrapper is
documented; a wrapper is recorded as a task with its name, icon, properties and params;
transient errors are retried (at the vendor's time when it gives one); permanent errors fail at
once; the idempotency key reaches the vendor; a write whose connection dropped after it was
applied takes effect once; secrets never reach the store, the logs or the server's pages;
settings come from arguments or the environment; ``io.<namespace>`` resolves to a configured
default instance.
"""

from __future__ import annotations

import itertools
import logging
import secrets as secrets_module
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from .. import _json
from .. import server as http_server
from .._client import Client
from .._job import event_trigger
from .._records import RunRecord, TaskRecord
from .._task import Task
from ..errors import IntegrationSettingError
from ..integrations._base import Integration, IntegrationTask
from ..plugins import create_plugin_manager, hookimpl
from ..retry import RetryOptions
from ._clock import TestClock
from ._fake_server import FakeVendorServer

_FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


@dataclass
class ConformanceHarness:
    """One test's world: the fake server, the integration under test, a client on a fresh
    SQLite database with a ``TestClock``, and the secret its settings were given."""

    server: FakeVendorServer
    integration: Integration[Any]
    client: Client
    clock: TestClock
    secret: str
    database: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def namespace(self) -> str:
        return type(self.integration).namespace

    def start(self, body: Callable[[Any], Awaitable[Any]], *, declare: bool = True) -> str:
        """Define a job whose function awaits ``body(io.<namespace>)``, send its event, and
        return the run id (nothing runs until ``work``/``drive``)."""
        number = next(self._jobs)
        namespace = self.namespace
        integrations = {namespace: self.integration} if declare else None

        @self.client.define_job(
            id=f"conformance-{number}",
            trigger=event_trigger(f"conformance.{number}"),
            integrations=integrations,
        )
        async def job(payload: Any, io: Any) -> Any:
            return await body(getattr(io, namespace))

        event = self.client.send_event(f"conformance.{number}", {})
        return event.run_ids[0]

    def work(self) -> None:
        """Run a worker until no run is ready."""
        self.client.run_worker(until_idle=True)

    def get(self, run_id: str) -> RunRecord:
        return self.client.get_run(run_id)

    def drive(self, run_id: str, *, max_steps: int = 20) -> RunRecord:
        """Run the worker, moving the clock to each wake-up, until the run has finished."""
        for _ in range(max_steps):
            self.work()
            run = self.get(run_id)
            if run.status in _FINISHED:
                return run
            assert run.status == "WAITING", run.status
            assert run.ready_at is not None
            self.clock.advance(max(0.0, run.ready_at - self.clock.now()))
        raise AssertionError(f"run {run_id} did not finish in {max_steps} steps")

    def run(self, body: Callable[[Any], Awaitable[Any]], *, declare: bool = True) -> RunRecord:
        return self.drive(self.start(body, declare=declare))


def _as_task(record: TaskRecord) -> Task:
    return Task(
        id=record.id,
        idempotency_key=record.idempotency_key,
        attempt=len(record.attempts),
        cache_key=record.cache_key,
        run_id=record.run_id,
        parent_id=record.parent_id,
        params=record.params,
        name=record.name,
    )


class IntegrationConformance:
    """Base class of an integration package's conformance tests (subclass it as ``Test...``).

    Set ``integration_class``, ``fake_server_class`` and ``write``, and implement
    ``make_integration``; override the other hooks where the vendor differs.
    """

    integration_class: ClassVar[type[Integration[Any]]]
    """The ``runio.Integration`` subclass under test."""
    fake_server_class: ClassVar[type[FakeVendorServer]]
    """Its fake vendor server (a ``runio.testing.FakeVendorServer`` subclass)."""
    write: ClassVar[tuple[str, dict[str, Any]]]
    """A task wrapper that writes, and the keyword parameters of a call that succeeds:
    ``("create_item", {"title": "Hello"})``."""
    readme: ClassVar[Path | None] = None
    """The package's README: when set, every task wrapper must be mentioned in it."""
    check_entry_point: ClassVar[bool] = True
    """Require the integration to be registered by an installed plugin (``runio`` entry
    point); turn off only for integrations used without a package."""

    # -- hooks a package fills in ------------------------------------------------------------
    def make_integration(self, server: FakeVendorServer, secret: str) -> Integration[Any]:
        """An instance that talks to ``server``, with ``secret`` as its secret settings (API
        key, token) so the suite can look for it where it must never be."""
        raise NotImplementedError("IntegrationConformance subclasses implement make_integration")

    def make_server(self, secret: str) -> FakeVendorServer:
        """The fake server (not started). Override to make it expect ``secret``."""
        return self.fake_server_class()

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str] | None:
        """Environment variables that configure a default instance against ``server``; None
        skips the tests that need them."""
        return None

    def count_effects(self, server: FakeVendorServer) -> int:
        """How many times ``write`` took effect at the vendor (default: applied writes)."""
        return len(server.writes)

    # -- fixtures ----------------------------------------------------------------------------
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[ConformanceHarness]:
        secret = "sk_conformance_" + secrets_module.token_hex(12)
        server = self.make_server(secret)
        server.start()
        clock = TestClock(start=1_800_000_000.0)
        database = tmp_path / "conformance.db"
        client = Client(
            "conformance",
            database_url=f"sqlite:///{database}",
            clock=clock,
            time_scale=1,
            plugins=create_plugin_manager(entry_points=False),
        )
        try:
            integration = self.make_integration(server, secret)
            yield ConformanceHarness(server, integration, client, clock, secret, database)
        finally:
            client.close()
            server.stop()

    # -- helpers -----------------------------------------------------------------------------
    def _spec(self) -> IntegrationTask:
        name, _ = self.write
        specs = self.integration_class._task_specs
        assert name in specs, (
            f"write names {name!r}, which is not a task wrapper of "
            f"{self.integration_class.__name__} (it has: {', '.join(specs) or 'none'})"
        )
        return specs[name]

    def _write(self, cache_key: str = "conformance-write") -> Callable[[Any], Awaitable[Any]]:
        name, params = self.write

        async def body(namespace: Any) -> Any:
            return await getattr(namespace, name)(cache_key, **params)

        return body

    # -- the suite ---------------------------------------------------------------------------
    def test_metadata_and_icon(self) -> None:
        from ..integrations._base import integration_class_problem

        cls = self.integration_class
        assert integration_class_problem(cls) is None, integration_class_problem(cls)
        assert isinstance(cls.icon, str) and cls.icon, f"{cls.__name__}.icon must name an icon"
        assert isinstance(cls.default_retry, RetryOptions)
        assert cls.idempotency in ("key", "marker", "none")
        assert cls._setting_specs, f"{cls.__name__}.settings declares no settings"
        assert any(s.secret for s in cls._setting_specs.values()), (
            f"{cls.__name__} declares no secret setting (its API key or token)"
        )
        for key, spec in cls._setting_specs.items():
            assert spec.env is None or spec.env == spec.env.upper(), (
                f"setting {key}: environment variable {spec.env!r} should be upper case"
            )
        assert cls._task_specs, f"{cls.__name__} declares no @runio.integration_task wrapper"

    def test_registered_through_the_runio_entry_point(self) -> None:
        if not self.check_entry_point:
            pytest.skip("check_entry_point is off")
        pm = create_plugin_manager(environ={})
        found = [i for i in pm.integrations() if i.cls is self.integration_class]
        assert found, (
            f"No installed plugin registers {self.integration_class.__name__}: add "
            '[project.entry-points.runio] <name> = "<package>.plugin" to pyproject.toml, '
            "implement runio_register_integrations there, and install the package "
            "(pip install -e .)."
        )
        assert found[0].plugin.package, "the plugin should come from an installed package"

    def test_every_task_wrapper_is_documented(self) -> None:
        readme = self.readme.read_text() if self.readme is not None else None
        for attr, spec in self.integration_class._task_specs.items():
            assert spec.name, f"{attr} has no task name"
            assert (spec.__doc__ or "").strip(), f"task wrapper {attr} has no docstring"
            if readme is not None:
                assert attr in readme, f"task wrapper {attr} is not mentioned in {self.readme}"

    def test_a_wrapper_is_recorded_as_a_task(self, harness: ConformanceHarness) -> None:
        spec = self._spec()
        name, params = self.write
        run = harness.run(self._write())
        assert run.status == "COMPLETED", run.error
        task = run.task("conformance-write")
        integration = harness.integration
        bound = spec.bind(dict(params), name)
        assert task.name == spec.name
        assert task.icon == (spec.icon or integration.icon)
        assert task.kind == "task"
        expected = (
            integration._properties(spec.properties(dict(bound))) if spec.properties else None
        )
        assert task.properties == [p.as_json() for p in expected or []]
        assert task.params == _json.decode(
            _json.encode(integration._recorded(bound, spec.secret_params))
        )
        assert [a.status for a in task.attempts] == ["COMPLETED"]
        assert self.count_effects(harness.server) == 1

    def test_the_idempotency_key_reaches_the_vendor(self, harness: ConformanceHarness) -> None:
        """With ``idempotency = "key"`` the write carries the task's key; with ``"marker"`` it
        carries the task's marker; with ``"none"`` the write is made exactly once."""
        run = harness.run(self._write())
        assert run.status == "COMPLETED", run.error
        task = _as_task(run.task("conformance-write"))
        kind = self.integration_class.idempotency
        if kind == "key":
            expected = harness.integration.idempotency_key(task)
            sent = [harness.server.idempotency_key_of(r) for r in harness.server.writes]
            assert expected in sent, f"the write carried idempotency keys {sent}, not {expected!r}"
        elif kind == "marker":
            marker = harness.integration.marker(task)
            bodies = [r.text for r in harness.server.writes]
            assert any(marker in body for body in bodies), (
                f"no write carried the task's marker {marker!r}: {bodies}"
            )
        assert self.count_effects(harness.server) == 1

    def test_rate_limits_are_retried_at_the_vendors_time(self, harness: ConformanceHarness) -> None:
        server, clock = harness.server, harness.clock
        server.fail_next(server.rate_limit_response(42, now=clock.now()))
        run_id = harness.start(self._write())
        harness.work()
        run = harness.get(run_id)
        assert run.status == "WAITING", run.error
        task = run.task("conformance-write")
        assert task.retry_at is not None
        assert abs(task.retry_at - (clock.now() + 42)) <= 1.5, (
            f"retry at +{task.retry_at - clock.now():.1f} s, the vendor said +42 s"
        )
        clock.advance(30)
        harness.work()
        assert harness.get(run_id).status == "WAITING", "retried before the vendor's time"
        run = harness.drive(run_id)
        assert run.status == "COMPLETED", run.error
        assert [a.status for a in run.task("conformance-write").attempts] == [
            "ERRORED",
            "COMPLETED",
        ]
        assert self.count_effects(server) == 1

    def test_transient_errors_are_retried(self, harness: ConformanceHarness) -> None:
        harness.server.fail_next(harness.server.transient_error_response())
        run = harness.run(self._write())
        assert run.status == "COMPLETED", run.error
        attempts = run.task("conformance-write").attempts
        assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"]
        assert self.count_effects(harness.server) == 1

    def test_permanent_errors_fail_at_once(self, harness: ConformanceHarness) -> None:
        harness.server.fail_next(harness.server.permanent_error_response("Invalid request"))
        run = harness.run(self._write())
        assert run.status == "FAILED"
        task = run.task("conformance-write")
        assert task.status == "ERRORED"
        assert [a.status for a in task.attempts] == ["ERRORED"], "a permanent error was retried"
        assert len(harness.server.requests) == 1
        assert self.count_effects(harness.server) == 0

    def test_a_write_of_unknown_outcome_takes_effect_once(
        self, harness: ConformanceHarness
    ) -> None:
        if self.integration_class.idempotency == "none":
            pytest.skip(f"{self.integration_class.__name__}.idempotency is 'none'")
        harness.server.drop_after_write()
        run = harness.run(self._write())
        assert run.status == "COMPLETED", run.error
        attempts = run.task("conformance-write").attempts
        assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"]
        assert attempts[0].error is not None
        assert attempts[0].error.get("outcome_unknown") is True, (
            "a dropped connection after the write must be classified as an unknown outcome "
            "(Integration.is_outcome_unknown)"
        )
        assert self.count_effects(harness.server) == 1, "the write took effect twice"

    def test_secrets_never_reach_the_store_or_the_logs(
        self, harness: ConformanceHarness, caplog: pytest.LogCaptureFixture
    ) -> None:
        secret = harness.secret
        assert secret in harness.integration._secret_values(), (
            "make_integration must pass `secret` as the integration's secret setting"
        )
        caplog.set_level(logging.DEBUG)
        server = harness.server
        ok = harness.run(self._write("ok"))
        assert ok.status == "COMPLETED", ok.error
        server.fail_next(server.permanent_error_response(f"Invalid API key provided: {secret}"))
        rejected = harness.run(self._write("rejected"))
        assert rejected.status == "FAILED"

        async def leaky(namespace: Any) -> Any:
            def fn(client: Any, task: Task) -> Any:
                raise RuntimeError(f"the vendor echoed the key {secret}")

            return await namespace.run_task("leaky", fn, params={"api_key": secret})

        leaked = harness.run(leaky)
        assert leaked.status == "FAILED"
        sent = [str(dict(r.headers.items())) + r.text for r in server.requests]
        assert any(secret in s for s in sent), "the secret never reached the vendor"
        connection = sqlite3.connect(harness.database)
        try:
            dump = "\n".join(connection.iterdump())
        finally:
            connection.close()
        assert secret not in dump, "a secret was written to the database"
        for path in harness.database.parent.glob(harness.database.name + "*"):
            assert secret.encode() not in path.read_bytes(), f"a secret is in {path.name}"
        formatter = logging.Formatter()
        for record in caplog.records:
            assert secret not in formatter.format(record), f"a secret was logged: {record}"
        assert secret not in repr(harness.integration)
        for run in (ok, rejected, leaked):
            for where, text in _as_served(harness.client, run.id):
                assert secret not in text, f"a secret is shown in the {where}"

    def test_settings_come_from_arguments_or_the_environment(
        self, harness: ConformanceHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        cls = self.integration_class
        for spec in cls._setting_specs.values():
            if spec.env:
                monkeypatch.delenv(spec.env, raising=False)
        required = [k for k, s in cls._setting_specs.items() if s.required and s.default is None]
        bare = cls()
        if required:
            assert not cls.is_configured()
            with pytest.raises(IntegrationSettingError) as raised:
                bare.check_configured()
            env = cls._setting_specs[required[0]].env
            assert required[0] in str(raised.value)
            assert env is None or env in str(raised.value)
        environment = self.environment(harness.server, harness.secret)
        if environment is None:
            pytest.skip("environment() gives no environment for a default instance")
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        assert cls.is_configured()
        configured = cls()
        assert configured.missing_settings() == []
        assert harness.secret not in repr(configured)

    def test_io_namespace_resolves_to_a_configured_default(
        self, harness: ConformanceHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        environment = self.environment(harness.server, harness.secret)
        if environment is None:
            pytest.skip("environment() gives no environment for a default instance")
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        cls = self.integration_class

        class Plugin:
            @hookimpl
            def runio_register_integrations(self, register: Any) -> None:
                register(cls)

        harness.client = client = Client(
            "conformance-default",
            database_url=f"sqlite:///{harness.database.with_name('default.db')}",
            clock=harness.clock,
            time_scale=1,
            plugins=create_plugin_manager(entry_points=False, builtins=False, plugins=[Plugin()]),
        )
        try:
            run = harness.run(self._write(), declare=False)
        finally:
            client.close()
        assert run.status == "COMPLETED", run.error
        assert self.count_effects(harness.server) == 1

    def test_sync_sdk_calls_run_off_the_event_loop(self, harness: ConformanceHarness) -> None:
        """A sync wrapper (a sync SDK) runs in the worker's thread pool, never on the event
        loop; an async one runs on the loop."""
        spec = self._spec()
        threads: list[str] = []
        integration = harness.integration
        original = integration._client_for

        def spy(loop: Any) -> Any:
            threads.append(threading.current_thread().name)
            return original(loop)

        integration._client_for = spy  # type: ignore[method-assign]
        try:
            run = harness.run(self._write())
        finally:
            del integration._client_for
        assert run.status == "COMPLETED", run.error
        in_pool = [t.startswith("runio-task") for t in threads]
        assert in_pool and all(in_pool) != spec.is_async and len(set(in_pool)) == 1, threads


def _as_served(client: Client, run_id: str) -> list[tuple[str, str]]:
    """What the HTTP server shows of a run: the API's JSON and the dashboard's pages."""

    async def fetch() -> list[tuple[str, str]]:
        transport = httpx.ASGITransport(app=http_server.create_app(client))
        shown = []
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            for where, path in (
                ("API JSON", f"/api/v1/runs/{run_id}"),
                ("dashboard run page", f"/runs/{run_id}"),
                ("dashboard runs list", "/runs"),
            ):
                response = await http.get(path)
                assert response.status_code == 200, f"{path}: {response.text[:300]}"
                assert run_id in response.text
                shown.append((where, response.text))
        return shown

    return client._run_sync(fetch())
