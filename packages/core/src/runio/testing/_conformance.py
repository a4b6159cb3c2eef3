"""The integration conformance suite: the tests every integration package runs.

An integration package's tests subclass ``IntegrationConformance`` once (pytest collects it by
its ``Test...`` name), say which integration and which fake server, and give an example call of
every task wrapper::

    class TestAcmeConformance(runio.testing.IntegrationConformance):
        integration_class = Acme
        fake_server_class = FakeAcme
        examples = {"create_item": {"title": "Hello"}, "get_item": {"id": "item_1"}}

        def make_integration(self, server, secret):
            return Acme(api_key=secret, base_url=server.url)

The suite is driven from the wrapper list: every wrapper must have an example (``examples``, or
``example(wrapper, server)`` when a call needs objects seeded in the fake first), and is run
through the vendor's real SDK inside a real run (a real worker, a SQLite database in the test's
temporary directory, a ``TestClock``). What it proves, for every wrapper: it is recorded as a
task with its name, icon, properties and params, and no secret reaches the database; for every
``effect="write"`` wrapper: the idempotency key reaches the vendor (``idempotency = "key"``),
and a write whose connection dropped after the vendor applied it takes effect once (the key, or
the wrapper's ``find_previous`` for ``"marker"`` vendors). For the integration's typical write
(``write``, by default its first write wrapper): transient errors are retried (at the vendor's
time when it gives one), permanent errors fail at once, secrets never reach the store, the
logs or the server's pages, settings come from arguments or the environment,
``io.<namespace>`` resolves to a configured default instance, sync SDK calls run off the event
loop. For an integration that offers triggers (implements ``verify_webhook``): a delivery signed
as the vendor signs it (``webhook_delivery``) starts a job through the server's endpoint, once
however often it is delivered; unsigned, wrongly signed, tampered and (for vendors that sign a
time) stale deliveries are refused with nothing stored and no secret in the answer; without its
signing secret the endpoint says which setting to give; registration is possible or explained.
"""

from __future__ import annotations

import itertools
import logging
import secrets as secrets_module
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from .. import _json
from .. import server as http_server
from .._client import Client
from .._records import Run, TaskRun
from .._task import Task
from .._triggers import event_trigger
from ..errors import IntegrationSettingError, WebhookPayloadError, WebhookSignatureError
from ..integrations._base import Integration, IntegrationTask, class_spec
from ..integrations._runtime import runtime_of
from ..integrations._webhooks import WebhookDelivery, WebhookRequest
from ..plugins import create_plugin_manager, hookimpl
from ..plugins._manager import integration_class_problem
from ..retry import RetryOptions
from ._clock import TestClock
from ._fake_server import FakeVendorServer
from ._kit import JobTester


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
        return the run id (nothing runs until ``work``/``drive``). With ``declare=False`` the
        job declares no integration, so ``io.<namespace>`` resolves to a default instance."""
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

    def get(self, run_id: str) -> Run:
        return self.client.get_run(run_id)

    def drive(self, run_id: str, *, max_steps: int = 40) -> Run:
        """Run the worker, moving the clock to each wake-up, until the run has finished."""
        return JobTester(self.client, self.clock).run_until_finished(run_id, max_steps=max_steps)

    def run(self, body: Callable[[Any], Awaitable[Any]], *, declare: bool = True) -> Run:
        return self.drive(self.start(body, declare=declare))


_Spec = IntegrationTask[Any, Any, Any, Any]


def _as_task(record: TaskRun) -> Task:
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

    Set ``integration_class`` and ``fake_server_class``, give every wrapper an example
    (``examples`` or ``example``), and implement ``make_integration``; override the other hooks
    where the vendor differs.
    """

    integration_class: ClassVar[type[Integration[Any]]]
    """The ``runio.Integration`` subclass under test."""
    fake_server_class: ClassVar[type[FakeVendorServer]]
    """Its fake vendor server (a ``runio.testing.FakeVendorServer`` subclass)."""
    examples: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Wrapper name -> keyword parameters of a call that succeeds against a fresh fake."""
    write: ClassVar[str | None] = None
    """The wrapper the error, retry, settings and default-instance tests call (default: the
    first ``effect="write"`` wrapper)."""
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

    def example(self, wrapper: str, server: FakeVendorServer) -> dict[str, Any]:
        """The keyword parameters of a call of ``wrapper`` that succeeds against ``server``
        (started): ``examples[wrapper]`` by default. Override when a call needs objects that
        exist at the vendor: seed them in the fake here (it is called once per call made)."""
        if wrapper not in self.examples:
            raise AssertionError(
                f"{type(self).__name__} gives no example call of {wrapper!r}: add it to "
                "`examples` (or override `example`) so the suite can check this wrapper."
            )
        return dict(self.examples[wrapper])

    def fault_path(self, wrapper: str) -> str | None:
        """A regular expression matching the path of the request whose connection the suite
        drops after the vendor applied it (for wrappers that make several writes); None: the
        wrapper's first write."""
        return None

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str] | None:
        """Environment variables that configure a default instance against ``server``; None
        skips the tests that need them."""
        return None

    def count_effects(self, server: FakeVendorServer) -> int:
        """How many writes took effect at the vendor so far (default: applied writes)."""
        return len(server.writes)

    webhook_tolerance: ClassVar[float | None] = 300.0
    """Seconds a webhook signature stays valid (None: the vendor's signature holds no time)."""

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        """A delivery of one of the vendor's events (body, headers) signed with
        ``signing_secret`` at ``now`` (Unix seconds) exactly as the vendor signs it, e.g. from
        the fake server's signing code. Required when the integration offers triggers."""
        raise NotImplementedError(
            f"{type(self).__name__}: {self.integration_class.__name__} implements "
            "verify_webhook, so give the suite a signed delivery: define "
            "webhook_delivery(self, signing_secret, now) -> (body, headers)."
        )

    def _offers_webhooks(self) -> bool:
        return class_spec(self.integration_class).offers_webhooks

    def _webhook_instance(self, signing_secret: str | None) -> Integration[Any]:
        settings: dict[str, Any] = {self.integration_class.webhook_secret_setting: signing_secret}
        return self.integration_class(**settings)

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

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrise the per-wrapper tests with the integration's wrappers."""
        if "wrapper" not in metafunc.fixturenames:
            return
        tasks = class_spec(self.integration_class).tasks
        if metafunc.function.__name__ == "test_every_write_takes_effect_once":
            names = [n for n, t in tasks.items() if t.effect == "write" and not t.at_least_once]
        else:
            names = list(tasks)
        metafunc.parametrize("wrapper", names or [None])

    # -- helpers -----------------------------------------------------------------------------
    def _tasks(self) -> dict[str, _Spec]:
        return class_spec(self.integration_class).tasks

    def _write_name(self) -> str:
        tasks = self._tasks()
        if self.write is not None:
            assert self.write in tasks, (
                f"write names {self.write!r}, which is not a task wrapper of "
                f"{self.integration_class.__name__} (it has: {', '.join(tasks) or 'none'})"
            )
            return self.write
        writes = [n for n, t in tasks.items() if t.effect == "write"] or list(tasks)
        assert writes, f"{self.integration_class.__name__} has no task wrapper"
        return writes[0]

    def _call(
        self, harness: ConformanceHarness, wrapper: str, cache_key: str = "conformance-write"
    ) -> tuple[Callable[[Any], Awaitable[Any]], dict[str, Any]]:
        params = self.example(wrapper, harness.server)

        async def body(namespace: Any) -> Any:
            return await getattr(namespace, wrapper)(cache_key, **params)

        return body, params

    def _write(
        self, harness: ConformanceHarness, cache_key: str = "conformance-write"
    ) -> Callable[[Any], Awaitable[Any]]:
        return self._call(harness, self._write_name(), cache_key)[0]

    def _assert_no_secret_stored(self, harness: ConformanceHarness) -> None:
        secret = harness.secret
        connection = sqlite3.connect(harness.database)
        try:
            dump = "\n".join(connection.iterdump())
        finally:
            connection.close()
        assert secret not in dump, "a secret was written to the database"
        for path in harness.database.parent.glob(harness.database.name + "*"):
            assert secret.encode() not in path.read_bytes(), f"a secret is in {path.name}"

    # -- the suite: the integration as a whole -------------------------------------------------
    def test_metadata_and_icon(self) -> None:
        cls = self.integration_class
        assert integration_class_problem(cls) is None, integration_class_problem(cls)
        assert isinstance(cls.icon, str) and cls.icon, f"{cls.__name__}.icon must name an icon"
        assert isinstance(cls.default_retry, RetryOptions)
        assert cls.idempotency in ("key", "marker", "none")
        settings = class_spec(cls).settings
        assert settings, f"{cls.__name__} declares no settings (runio.setting)"
        assert any(s.secret for s in settings.values()), (
            f"{cls.__name__} declares no secret setting (its API key or token)"
        )
        for key, spec in settings.items():
            assert spec.env is None or spec.env == spec.env.upper(), (
                f"setting {key}: environment variable {spec.env!r} should be upper case"
            )
        assert self._tasks(), f"{cls.__name__} declares no @runio.integration_task wrapper"
        if cls.idempotency == "marker":
            for attr, wrapper in self._tasks().items():
                assert wrapper.effect != "write" or wrapper.at_least_once or wrapper.finder, (
                    f"{cls.__name__}.{attr} writes but declares no find_previous"
                )
        for attr, wrapper in self._tasks().items():
            if wrapper.at_least_once:
                assert "at least once" in " ".join((wrapper.__doc__ or "").lower().split()), (
                    f"{cls.__name__}.{attr} is declared at_least_once: its docstring must say "
                    'so ("at least once") and why'
                )

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
        for attr, spec in self._tasks().items():
            assert spec.name, f"{attr} has no task name"
            assert (spec.__doc__ or "").strip(), f"task wrapper {attr} has no docstring"
            if readme is not None:
                assert attr in readme, f"task wrapper {attr} is not mentioned in {self.readme}"

    # -- the suite: every wrapper ------------------------------------------------------------
    def test_every_wrapper_is_recorded_as_a_task(
        self, harness: ConformanceHarness, wrapper: str | None
    ) -> None:
        """Each wrapper, called as in its example, completes as one task named and described
        as declared, with its params recorded without secrets, and no secret in the database."""
        assert wrapper is not None, "the integration has no task wrapper"
        spec = self._tasks()[wrapper]
        body, params = self._call(harness, wrapper)
        run = harness.run(body)
        assert run.status == "COMPLETED", f"{wrapper}: {run.error}"
        task = run.task("conformance-write")
        integration = harness.integration
        runtime = runtime_of(integration)
        bound = spec.bind(dict(params), wrapper)
        assert task.name == spec.name
        assert task.icon == (spec.icon or integration.icon)
        assert task.kind == "task"
        expected = runtime.properties(spec.properties(dict(bound))) if spec.properties else None
        assert task.properties == [p.as_json() for p in expected or []]
        assert task.params == _json.decode(
            _json.encode(runtime.recorded(bound, spec.secret_params))
        )
        assert [a.status for a in task.attempts[-1:]] == ["COMPLETED"]
        self._assert_no_secret_stored(harness)

    def test_every_write_takes_effect_once(
        self, harness: ConformanceHarness, wrapper: str | None
    ) -> None:
        """Each ``effect="write"`` wrapper: with ``idempotency = "key"`` its writes carry the
        task's key; and when the connection drops after the vendor applied the write, the
        retried task leaves exactly the effects of one call."""
        if wrapper is None:
            pytest.skip(f"{self.integration_class.__name__} has no write wrapper")
        kind = self.integration_class.idempotency
        if kind == "none":
            pytest.skip(f"{self.integration_class.__name__}.idempotency is 'none'")
        server = harness.server
        body = self._call(harness, wrapper, "clean")[0]
        before = self.count_effects(server)
        clean = harness.run(body)
        assert clean.status == "COMPLETED", f"{wrapper}: {clean.error}"
        one_call = self.count_effects(server) - before
        assert one_call >= 1, f"{wrapper} is declared a write but changed nothing at the vendor"
        if kind == "key":
            task = _as_task(clean.task("clean"))
            expected = harness.integration.idempotency_key(task)
            sent = [server.idempotency_key_of(r) for r in server.writes]
            assert expected in sent, f"{wrapper}'s write carried keys {sent}, not {expected!r}"
        body = self._call(harness, wrapper)[0]
        before = self.count_effects(server)
        server.drop_after_write(path=self.fault_path(wrapper))
        run = harness.run(body)
        assert run.status == "COMPLETED", f"{wrapper}: {run.error}"
        attempts = run.task("conformance-write").attempts
        assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"], (
            f"{wrapper}: the dropped write was not retried once"
        )
        assert attempts[0].error is not None and attempts[0].error.get("outcome_unknown"), (
            "a dropped connection after the write must be classified as an unknown outcome "
            "(Integration.is_outcome_unknown)"
        )
        assert self.count_effects(server) - before == one_call, f"{wrapper} took effect twice"

    # -- the suite: the typical write --------------------------------------------------------
    def test_rate_limits_are_retried_at_the_vendors_time(self, harness: ConformanceHarness) -> None:
        server, clock = harness.server, harness.clock
        server.fail_next(server.rate_limit_response(42, now=clock.now()))
        run_id = harness.start(self._write(harness))
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

    def test_transient_errors_are_retried(self, harness: ConformanceHarness) -> None:
        harness.server.fail_next(harness.server.transient_error_response())
        before = self.count_effects(harness.server)
        run = harness.run(self._write(harness))
        assert run.status == "COMPLETED", run.error
        attempts = run.task("conformance-write").attempts
        assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"]
        assert self.count_effects(harness.server) > before

    def test_permanent_errors_fail_at_once(self, harness: ConformanceHarness) -> None:
        body = self._write(harness)
        harness.server.fail_next(harness.server.permanent_error_response("Invalid request"))
        before = self.count_effects(harness.server)
        requests = len(harness.server.requests)
        run = harness.run(body)
        assert run.status == "FAILED"
        task = run.task("conformance-write")
        assert task.status == "ERRORED"
        assert [a.status for a in task.attempts] == ["ERRORED"], "a permanent error was retried"
        assert len(harness.server.requests) == requests + 1
        assert self.count_effects(harness.server) == before

    def test_secrets_never_reach_the_store_or_the_logs(
        self, harness: ConformanceHarness, caplog: pytest.LogCaptureFixture
    ) -> None:
        secret = harness.secret
        assert secret in runtime_of(harness.integration).secrets, (
            "make_integration must pass `secret` as the integration's secret setting"
        )
        caplog.set_level(logging.DEBUG)
        server = harness.server
        ok = harness.run(self._write(harness, "ok"))
        assert ok.status == "COMPLETED", ok.error
        rejected_body = self._write(harness, "rejected")
        server.fail_next(server.permanent_error_response(f"Invalid API key provided: {secret}"))
        rejected = harness.run(rejected_body)
        assert rejected.status == "FAILED"

        async def leaky(namespace: Any) -> Any:
            def fn(client: Any, task: Task) -> Any:
                raise RuntimeError(f"the vendor echoed the key {secret}")

            return await namespace.run_task("leaky", fn, params={"api_key": secret})

        leaked = harness.run(leaky)
        assert leaked.status == "FAILED"

        async def returns_it(namespace: Any) -> Any:
            return await namespace.run_task(
                "returns-it", lambda client, task: {"key": secret, "note": f"k={secret}"}
            )

        returned = harness.run(returns_it)
        assert returned.status == "COMPLETED", returned.error
        assert secret not in str(returned.output)
        sent = [str(dict(r.headers.items())) + r.text for r in server.requests]
        assert any(secret in s for s in sent), "the secret never reached the vendor"
        self._assert_no_secret_stored(harness)
        formatter = logging.Formatter()
        for record in caplog.records:
            assert secret not in formatter.format(record), f"a secret was logged: {record}"
        for name in self.integration_class.sdk_loggers:
            logging.getLogger(name).warning("the SDK echoed %s", secret)
            logging.getLogger(name + ".child").error(f"and again: {secret}")
        for record in caplog.records:
            assert secret not in formatter.format(record), f"an SDK record kept a secret: {record}"
        assert secret not in repr(harness.integration)
        for run in (ok, rejected, leaked, returned):
            for where, text in _as_served(harness.client, run.id):
                assert secret not in text, f"a secret is shown in the {where}"

    def test_settings_come_from_arguments_or_the_environment(
        self, harness: ConformanceHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        cls = self.integration_class
        settings = class_spec(cls).settings
        for spec in settings.values():
            if spec.env:
                monkeypatch.delenv(spec.env, raising=False)
        required = [k for k, s in settings.items() if s.required and s.default is None]
        bare = cls()
        if required:
            assert not cls.is_configured()
            with pytest.raises(IntegrationSettingError) as raised:
                bare.check_configured()
            env = settings[required[0]].env
            assert required[0] in str(raised.value)
            assert env is None or env in str(raised.value)
            with pytest.raises(IntegrationSettingError):
                getattr(bare, required[0])
            empty = cls(**{required[0]: ""})  # type: ignore[arg-type]
            assert required[0] in empty.missing_settings(), "an empty string is no value"
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
            before = self.count_effects(harness.server)
            run = harness.run(self._write(harness), declare=False)
        finally:
            client.close()
        assert run.status == "COMPLETED", run.error
        assert self.count_effects(harness.server) > before

    def test_sync_sdk_calls_run_off_the_event_loop(self, harness: ConformanceHarness) -> None:
        """A sync wrapper (a sync SDK) runs in the worker's thread pool, never on the event
        loop; an async one runs on the loop."""
        spec = self._tasks()[self._write_name()]
        threads: list[str] = []
        runtime = runtime_of(harness.integration)
        original = runtime.client_for

        def spy(loop: Any) -> Any:
            threads.append(threading.current_thread().name)
            return original(loop)

        runtime.client_for = spy  # type: ignore[method-assign]
        try:
            run = harness.run(self._write(harness))
        finally:
            del runtime.client_for
        assert run.status == "COMPLETED", run.error
        in_pool = [t.startswith("runio-task") for t in threads]
        assert in_pool and all(in_pool) != spec.is_async and len(set(in_pool)) == 1, threads

    # -- triggers ----------------------------------------------------------------------------
    def test_webhook_deliveries_start_jobs_once(
        self, harness: ConformanceHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not self._offers_webhooks():
            pytest.skip(f"{self.integration_class.__name__} offers no triggers")
        signing_secret = "whsec_" + secrets_module.token_hex(16)
        integration = self._webhook_instance(signing_secret)
        now = harness.clock.now()
        body, headers = self.webhook_delivery(signing_secret, now)
        verified = integration.verify_webhook(
            WebhookRequest(headers=headers, body=body, received_at=now)
        )
        assert isinstance(verified, WebhookDelivery), (
            f"webhook_delivery should give an event, and verify_webhook returned {verified!r}"
        )
        assert verified.id and verified.type, verified
        _json.encode(verified.payload)  # stored as the event's payload
        client = harness.client

        @client.define_job(id="on-webhook", trigger=integration.webhook_trigger(verified.type))
        async def on_webhook(payload: Any, io: Any, ctx: Any) -> Any:
            return ctx.event.payload == verified.payload

        tester = JobTester(client, harness.clock)
        answers = [tester.deliver_webhook(integration.id, body, headers) for _ in range(2)]

        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        runs = client.list_runs(job_id="on-webhook")
        assert len(runs) == 1, "a redelivery must not start a second run"
        assert client.get_run(runs[0].id).output is True
        assert signing_secret not in "".join(a.text for a in answers)

    def test_webhook_deliveries_are_refused_unless_signed(
        self, harness: ConformanceHarness
    ) -> None:
        if not self._offers_webhooks():
            pytest.skip(f"{self.integration_class.__name__} offers no triggers")
        signing_secret = "whsec_" + secrets_module.token_hex(16)
        integration = self._webhook_instance(signing_secret)
        now = harness.clock.now()
        body, headers = self.webhook_delivery(signing_secret, now)
        other_body, other_headers = self.webhook_delivery("whsec_" + "0" * 32, now)
        tampered = body.replace(b"}", b', "x": 1}', 1) if b"}" in body else body + b" "
        refused: dict[str, tuple[bytes, Mapping[str, str], float]] = {
            "no signature headers": (body, {"Content-Type": "application/json"}, now),
            "another secret's signature": (other_body, other_headers, now),
            "a changed body": (tampered, headers, now),
        }
        if self.webhook_tolerance is not None:
            later = now + self.webhook_tolerance + 60
            refused["a stale signature (replayed later)"] = (body, headers, later)
        for what, (sent, sent_headers, at) in refused.items():
            request = WebhookRequest(headers=sent_headers, body=sent, received_at=at)
            with pytest.raises((WebhookSignatureError, WebhookPayloadError)) as caught:
                integration.verify_webhook(request)
            assert signing_secret not in str(caught.value), f"{what}: the error shows the secret"
        unset = self._webhook_instance(None)
        with pytest.raises(IntegrationSettingError) as missing:
            unset.verify_webhook(WebhookRequest(headers=headers, body=body, received_at=now))
        assert self.integration_class.webhook_secret_setting in str(missing.value)

    def test_webhook_endpoints_can_be_registered(self) -> None:
        cls = self.integration_class
        if not self._offers_webhooks():
            pytest.skip(f"{cls.__name__} offers no triggers")
        can_register = cls.register_webhook is not Integration.register_webhook
        assert can_register or cls.webhook_help, (
            f"{cls.__name__} offers triggers: implement register_webhook, or set webhook_help "
            "to say how to register the endpoint with the vendor by hand"
        )


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
