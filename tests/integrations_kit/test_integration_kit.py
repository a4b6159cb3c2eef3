"""The integration kit: ``runio.Integration``, settings and secrets, task wrappers, error
classification, ``io.<name>`` resolution, unknown outcomes (DESIGN.md §7, issue 5 items 2-4)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from kit_helpers import drive
from runio_testplugin import TestNotes
from runio_testplugin.testing import FakeNotes
from test_conformance import FakeItems

import runio
from runio.errors import (
    ConfigurationError,
    IntegrationNotFoundError,
    IntegrationSettingError,
    InvalidRetryOptionsError,
)
from runio.integrations import HTTP, REDACTED, ErrorDecision, retry_after_seconds
from runio.plugins import create_plugin_manager
from runio.testing import TestClock

SECRET = "sk_live_very_secret_value"


@pytest.fixture
def items() -> Iterator[FakeItems]:
    with FakeItems() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNIO_PLUGINS", "RUNIO_DISABLE_PLUGINS", "RUNIO_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TESTNOTES_TOKEN", "TESTNOTES_URL", "STRIPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


class Recording:
    """A client object that counts how it is built and closed."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        log.append("built")

    def close(self) -> None:
        self.log.append("closed")


class Echo(runio.Integration[Recording]):
    namespace = "echo"
    name = "Echo"
    icon = "echo"
    api_key: str = runio.setting(env="ECHO_API_KEY")
    region: str = runio.setting(env="ECHO_REGION", secret=False, default="eu")
    log: ClassVar[list[str]] = []

    def create_client(self) -> Recording:
        return Recording(self.log)

    @runio.integration_task(
        effect="write",
        properties=lambda p: [runio.Property("To", p["to"]), runio.Property("Cc", p.get("cc"))],
        secret_params=["password"],
    )
    async def send_message(
        self,
        client: Recording,
        task: runio.Task,
        /,
        *,
        to: str,
        text: str = "",
        cc: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        """Echo the message back, with the thread it ran on."""
        return {"to": to, "text": text, "thread": threading.current_thread().name}

    @runio.integration_task("Sync Echo", effect="read")
    def sync_echo(self, client: Recording, task: runio.Task, /, *, text: str) -> dict[str, Any]:
        """Echo from a synchronous SDK."""
        return {"text": text, "thread": threading.current_thread().name}


# -- settings and secrets ----------------------------------------------------------------------


def test_settings_come_from_arguments_else_environment_else_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECHO_API_KEY", "from-env-1234")
    monkeypatch.delenv("ECHO_REGION", raising=False)
    assert Echo().api_key == "from-env-1234"
    assert Echo().region == "eu"
    assert Echo(api_key="given-1234", region="us").api_key == "given-1234"
    monkeypatch.setenv("ECHO_REGION", "ap")
    assert Echo().region == "ap"
    monkeypatch.setenv("ECHO_API_KEY", "  ")
    assert Echo().missing_settings() == ["api_key"], "a blank value is no value"
    assert Echo(api_key="").missing_settings() == ["api_key"]
    with pytest.raises(AttributeError, match="is a setting: pass it to the constructor"):
        Echo(api_key="given-1234").api_key = "other"  # type: ignore[misc]
    assert not Echo.is_configured()
    monkeypatch.setenv("ECHO_API_KEY", "from-env-1234")
    assert Echo.is_configured()
    assert Echo().id == "echo" and Echo(id="second").id == "second"


def test_a_missing_setting_names_the_argument_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ECHO_API_KEY", raising=False)
    echo = Echo(id="mine")
    assert echo.missing_settings() == ["api_key"]
    assert Echo.missing_from_environment() == ["ECHO_API_KEY"]
    with pytest.raises(IntegrationSettingError) as raised:
        _ = echo.api_key
    assert str(raised.value) == (
        "Echo integration 'mine' needs api_key (pass Echo(api_key=...) or set ECHO_API_KEY)."
    )
    assert (raised.value.setting, raised.value.env) == ("api_key", "ECHO_API_KEY")


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(
        IntegrationSettingError, match=r"unknown setting.*api_keys.*api_key, region"
    ):
        Echo(api_keys="x")


def test_secrets_are_never_shown() -> None:
    echo = Echo(api_key=SECRET, region="us")
    assert repr(echo) == "Echo(id='echo', api_key='***', region='us')"
    assert SECRET not in str(echo)
    assert repr(Echo(api_key="")).startswith("Echo(id='echo', api_key=None")


def test_bad_declarations_fail_when_the_class_is_defined() -> None:
    with pytest.raises(ConfigurationError, match="cannot be named '_key'"):
        type(
            "Bad",
            (runio.Integration,),
            {"namespace": "bad", "name": "B", "_key": runio.setting(), "__annotations__": {}},
        )
    with pytest.raises(ConfigurationError, match="needs an annotation"):
        type("Bad", (runio.Integration,), {"namespace": "bad", "name": "B", "key": runio.setting()})
    with pytest.raises(ConfigurationError, match="is annotated but is not a setting"):

        class Unmarked(runio.Integration[Any]):
            namespace, name = "unmarked", "Unmarked"
            region: str

    with pytest.raises(ConfigurationError, match="must take \\(self, client, task, /"):

        class Worse(runio.Integration[Any]):
            namespace, name = "worse", "Worse"

            @runio.integration_task(effect="read")
            def oops(self, task: runio.Task) -> None:
                """No client."""

    with pytest.raises(ConfigurationError, match="effect must be 'read', 'write'"):

        class NoEffect(runio.Integration[Any]):
            namespace, name = "noeffect", "No effect"

            @runio.integration_task(effect="sometimes")  # type: ignore[arg-type]
            def oops(self, client: Any, task: runio.Task, /) -> None:
                """Bad effect."""

    with pytest.raises(ConfigurationError, match=r"replaces runio\.Integration\.check_configured"):

        class Shadow(runio.Integration[Any]):
            namespace, name = "shadow", "Shadow"

            def check_configured(self) -> None:  # type: ignore[override]
                """Would skip the kit's check."""

    with pytest.raises(ConfigurationError, match="cannot be named 'run_task'"):

        class Reserved(runio.Integration[Any]):
            namespace, name = "reserved", "Reserved"

            @runio.integration_task(effect="read")  # type: ignore[arg-type]
            def run_task(self, client: Any, task: runio.Task, /) -> None:  # type: ignore[override]
                """Shadows io.<ns>.run_task."""


def test_a_wrapper_is_not_called_outside_io() -> None:
    with pytest.raises(ConfigurationError, match=r"io.use\(integration\).send_message"):
        Echo(api_key=SECRET).send_message("key", to="x")
    spec = Echo.send_message
    assert (spec.name, spec.attr) == ("Send Message", "send_message")
    assert Echo.sync_echo.name == "Sync Echo"
    assert "Echo the message back" in (spec.__doc__ or "")


def test_error_decisions() -> None:
    assert ErrorDecision.retry().action == "retry"
    assert ErrorDecision.fail().action == "fail"
    at = ErrorDecision.retry_at(12.5)
    assert (at.action, at.when) == ("retry_at", 12.5)
    with pytest.raises(InvalidRetryOptionsError):
        ErrorDecision.retry_at(-1)


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(" 2.5 ") == 2.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = 1_800_000_000.0
    date = (datetime.fromtimestamp(now, UTC) + timedelta(seconds=90)).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    assert retry_after_seconds(date, now=now) == pytest.approx(90)


# -- wrappers in runs --------------------------------------------------------------------------


def _job(client: runio.Client, body: Callable[[Any], Any], **integrations: Any) -> str:
    @client.define_job(
        id="kit", trigger=runio.event_trigger("kit"), integrations=integrations or None
    )
    async def job(payload: Any, io: runio.IO) -> Any:
        return await body(io)

    return client.send_event("kit", {}).run_ids[0]


def test_a_wrapper_call_is_a_task_with_name_icon_properties_and_redacted_params(
    client: runio.Client,
) -> None:
    async def body(io: Any) -> Any:
        return await io.echo.send_message(
            "msg", to="ada@example.com", text=f"key is {SECRET}", password="hunter2"
        )

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    task = run.task("msg")
    assert (task.name, task.icon, task.kind) == ("Send Message", "echo", "task")
    assert task.properties == [{"label": "To", "text": "ada@example.com"}]  # Cc not given
    assert task.params == {
        "to": "ada@example.com",
        "text": f"key is {REDACTED}",
        "password": REDACTED,
    }
    assert run.output["to"] == "ada@example.com"
    assert run.output["thread"] == "MainThread" or not run.output["thread"].startswith("runio-task")


def test_a_sync_wrapper_runs_in_the_thread_pool(client: runio.Client) -> None:
    async def body(io: Any) -> Any:
        loop_thread = threading.current_thread().name
        result = await io.echo.sync_echo("sync", text="hi")
        return {"loop": loop_thread, **result}

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    out = client.get_run(run_id).output
    assert out["thread"].startswith("runio-task") and out["thread"] != out["loop"]


def test_wrong_wrapper_parameters_fail_the_job_at_once_without_a_task(
    client: runio.Client,
) -> None:
    async def body(io: Any) -> Any:
        return await io.echo.send_message("msg", too="typo")

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None
    assert "io.echo.send_message('msg', ...)" in run.error["message"]
    assert "too" in run.error["message"]
    assert run.tasks == []


def test_a_worker_refuses_to_start_with_an_unconfigured_declared_integration(
    client: runio.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECHO_API_KEY", raising=False)

    async def body(io: Any) -> Any:
        return await io.echo.send_message("msg", to="x")

    run_id = _job(client, body, echo=Echo())
    with pytest.raises(IntegrationSettingError) as raised:
        client.run_worker(until_idle=True)
    assert str(raised.value) == (
        "This worker's jobs declare integrations that are not configured, so their runs would "
        "fail: job 'kit', integrations['echo']: Echo integration 'echo' needs api_key (pass "
        "Echo(api_key=...) or set ECHO_API_KEY)."
    )
    assert client.get_run(run_id).status == "QUEUED", "nothing ran, nothing was lost"


def test_a_missing_setting_of_a_default_instance_fails_the_job_naming_the_variable(
    client: runio.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An instance built when the run uses it (io.use(Echo) with nothing declared) is checked
    # then: the task fails at once, naming the argument and the variable.
    monkeypatch.delenv("ECHO_API_KEY", raising=False)

    async def body(io: Any) -> Any:
        return await io.use(Echo(id="late")).send_message("msg", to="x")

    run_id = _job(client, body)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None and "ECHO_API_KEY" in run.error["message"]


def test_one_client_per_worker_loop_reused_across_runs_and_closed_at_stop(
    client: runio.Client,
) -> None:
    Echo.log = []
    echo = Echo(api_key=SECRET)

    @client.define_job(id="two", trigger=runio.event_trigger("two"), integrations={"echo": echo})
    async def job(payload: Any, io: Any) -> Any:
        await io.echo.send_message("a", to="x")
        return await io.echo.sync_echo("b", text="y")

    client.send_event("two", {})
    client.send_event("two", {})
    client.run_worker(until_idle=True)
    assert Echo.log == ["built", "closed"]


def test_a_replay_never_builds_a_client(client: runio.Client, clock: TestClock) -> None:
    Echo.log = []

    async def body(io: Any) -> Any:
        await io.echo.send_message("a", to="x")
        await io.wait("pause", 60)
        return await io.echo.send_message("a2", to="y")

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    assert Echo.log == ["built", "closed"]
    clock.advance(60)
    client.run_worker(until_idle=True)  # replays "a" from the store, then runs "a2"
    assert client.get_run(run_id).status == "COMPLETED"
    assert Echo.log == ["built", "closed", "built", "closed"]


def test_run_task_gives_any_sdk_call_the_client_and_the_integrations_defaults(
    client: runio.Client,
) -> None:
    async def body(io: Any) -> Any:
        def sync_call(sdk: Recording, task: runio.Task) -> str:
            return f"{type(sdk).__name__} in {threading.current_thread().name[:10]}"

        async def async_call(sdk: Recording, task: runio.Task) -> str:
            return type(sdk).__name__

        first = await io.echo.run_task("sync", sync_call, params={"token": SECRET, "n": 1})
        second = await io.echo.run_task("async", async_call, name="Async call", icon="bolt")
        return [first, second]

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.output == ["Recording in runio-task", "Recording"]
    assert run.task("sync").icon == "echo"
    assert run.task("sync").params == {"token": REDACTED, "n": 1}
    assert (run.task("async").name, run.task("async").icon) == ("Async call", "bolt")


class Flaky(runio.Integration[None]):
    """Fails the first ``failures`` attempts with ``error``; classifies by the message."""

    namespace, name, icon = "flaky", "Flaky", "flaky"
    token: str | None = runio.setting(required=False)
    default_retry = runio.RetryOptions(limit=3, min_timeout=1, max_timeout=1, randomize=False)

    def create_client(self) -> None:
        return None

    def classify_error(self, error: Exception, task: runio.Task) -> ErrorDecision | None:
        text = str(error)
        if "permanent" in text:
            return ErrorDecision.fail()
        if "later" in text:
            return ErrorDecision.retry_at(300)
        if "broken classifier" in text:
            raise ValueError("classifier bug")
        return None


def _failing(messages: list[str]) -> Callable[[Any, runio.Task], Any]:
    def call(client: Any, task: runio.Task) -> str:
        if task.attempt <= len(messages):
            raise RuntimeError(messages[task.attempt - 1])
        return f"ok on attempt {task.attempt}"

    return call


@pytest.mark.parametrize(
    ("messages", "status", "attempts", "first_delay"),
    [
        (["vendor says later"], "COMPLETED", 2, 300.0),  # retry at the vendor's time
        (["permanent: bad request"], "FAILED", 1, None),  # fail now
        (["glitch", "glitch"], "COMPLETED", 3, 1.0),  # default_retry
        (["glitch", "glitch", "glitch"], "FAILED", 3, 1.0),  # ...up to its limit
        (["broken classifier"], "COMPLETED", 2, 1.0),  # a classifier bug: the retry options
    ],
)
def test_error_classification_feeds_the_engines_retries(
    client: runio.Client,
    clock: TestClock,
    messages: list[str],
    status: str,
    attempts: int,
    first_delay: float | None,
) -> None:
    start = clock.now()

    async def body(io: Any) -> Any:
        return await io.flaky.run_task("call", _failing(messages))

    run_id = _job(client, body, flaky=Flaky())
    client.run_worker(until_idle=True)
    task = client.get_run(run_id).task("call")
    if first_delay is not None:
        assert task.retry_at == pytest.approx(start + first_delay)
    run = drive(client, clock, run_id)
    assert run.status == status
    assert len(run.task("call").attempts) == attempts


def test_the_callers_on_error_comes_first(client: runio.Client, clock: TestClock) -> None:
    async def body(io: Any) -> Any:
        return await io.flaky.run_task(
            "call",
            _failing(["vendor says later"]),
            on_error=lambda error, task: runio.RetryAt(5),
        )

    run_id = _job(client, body, flaky=Flaky())
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).task("call").retry_at == pytest.approx(clock.now() + 5)


def test_with_options_overrides_the_retry_options(client: runio.Client, clock: TestClock) -> None:
    once = runio.RetryOptions(limit=1)

    async def body(io: Any) -> Any:
        return await io.flaky.with_options(retry=once).run_task("call", _failing(["glitch"]))

    run = drive(client, clock, _job(client, body, flaky=Flaky()))
    assert run.status == "FAILED"
    assert len(run.task("call").attempts) == 1


def test_a_wrappers_bad_options_fail_every_call_that_uses_them(client: runio.Client) -> None:
    # A wrapper's options are checked once per namespace and wrapper, and the check holds for
    # every later call: none of them runs the wrapper with options io.run_task would refuse.
    async def body(io: Any) -> Any:
        refused = []
        bad = io.echo.with_options(timeout=-1)  # one namespace, its options checked per wrapper
        for key in ("first", "second"):
            try:
                await bad.send_message(key, to="ada")
            except runio.errors.ConfigurationError as exc:
                refused.append(str(exc))
        fine = await io.echo.send_message("third", to="ada")
        return {"refused": refused, "fine": fine["to"]}

    run_id = _job(client, body, echo=Echo(api_key="key-1234"))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output["fine"] == "ada"
    assert len(run.output["refused"]) == 2
    assert all("timeout" in message for message in run.output["refused"])
    assert [task.cache_key for task in run.tasks] == ["third"]


def test_an_sdk_error_holding_a_secret_is_recorded_redacted(client: runio.Client) -> None:
    async def body(io: Any) -> Any:
        try:
            return await io.flaky.run_task("call", _failing([f"permanent: token {SECRET}"]))
        except runio.errors.TaskFailedError as exc:
            return {"type": exc.error_type, "message": exc.error_message}

    run_id = _job(client, body, flaky=Flaky(token=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.output == {
        "type": "VendorError",
        "message": f"RuntimeError: permanent: token {REDACTED}",
    }
    assert SECRET not in str(run.task("call").attempts[0].error)


# -- unknown outcomes --------------------------------------------------------------------------


def test_a_timed_out_attempt_leaves_the_next_one_an_unknown_outcome(
    client: runio.Client, clock: TestClock
) -> None:
    seen: list[tuple[int, bool]] = []

    async def body(io: runio.IO) -> Any:
        async def slow(task: runio.Task) -> str:
            seen.append((task.attempt, task.outcome_unknown))
            if task.attempt == 1:
                await asyncio.sleep(5)
            if task.attempt == 2:
                raise RuntimeError("a plain failure")
            return "done"

        retry = runio.RetryOptions(limit=4, min_timeout=1, max_timeout=1, randomize=False)
        return await io.run_task("slow", slow, timeout=0.05, retry=retry)

    run = drive(client, clock, _job(client, body))
    assert run.status == "COMPLETED"
    # the first attempt timed out; the unknown outcome sticks through a later plain failure
    assert seen == [(1, False), (2, True), (3, True)]
    attempts = run.task("slow").attempts
    assert attempts[0].error is not None and attempts[0].error["outcome_unknown"] is True


def test_a_plain_failure_is_not_an_unknown_outcome(client: runio.Client, clock: TestClock) -> None:
    seen: list[bool] = []

    async def body(io: runio.IO) -> Any:
        def fn(task: runio.Task) -> str:
            seen.append(task.outcome_unknown)
            if task.attempt == 1:
                raise ValueError("no")
            return "ok"

        retry = runio.RetryOptions(limit=2, min_timeout=1, max_timeout=1, randomize=False)
        return await io.run_task("t", fn, retry=retry)

    assert drive(client, clock, _job(client, body)).status == "COMPLETED"
    assert seen == [False, False]


def test_a_marker_wrapper_finds_its_write_after_a_dropped_connection(
    client: runio.Client, clock: TestClock
) -> None:
    with FakeNotes(token=SECRET) as server:
        server.drop_after_write()

        async def body(io: Any) -> Any:
            return await io.testnotes.post_note("note", board="ops", text="deployed")

        run = drive(
            client,
            clock,
            _job(client, body, testnotes=TestNotes(token=SECRET, base_url=server.url)),
        )
    assert run.status == "COMPLETED", run.error
    assert len(server.notes["ops"]) == 1
    assert run.output == server.notes["ops"][0]
    methods = [(r.method, r.outcome) for r in server.requests]
    assert methods == [("POST", "dropped"), ("GET", "ok")]  # looked, found, did not re-post


def test_is_outcome_unknown_walks_the_error_chain() -> None:
    echo = Echo(api_key=SECRET)

    class RemoteProtocolError(Exception):  # httpx's name
        pass

    class ConnectError(Exception):
        pass

    def chained(outer: Exception, inner: BaseException) -> Exception:
        outer.__cause__ = inner
        return outer

    assert echo.is_outcome_unknown(ConnectionResetError())
    assert echo.is_outcome_unknown(TimeoutError())
    assert echo.is_outcome_unknown(RemoteProtocolError())
    assert echo.is_outcome_unknown(chained(RuntimeError("wrapped"), ConnectionAbortedError()))
    assert not echo.is_outcome_unknown(ConnectionRefusedError())
    assert not echo.is_outcome_unknown(ConnectError())
    assert not echo.is_outcome_unknown(ValueError("bad"))


# -- io.<name> resolution ----------------------------------------------------------------------


def test_several_instances_of_one_integration_side_by_side(client: runio.Client) -> None:
    with FakeItems() as us, FakeItems() as eu:

        async def body(io: Any) -> Any:
            a = await io.http_us.request("a", method="POST", url="/items", json={"n": 1})
            b = await io.http_eu.request("b", method="POST", url="/items", json={"n": 2})
            return [a["body"]["n"], b["body"]["n"]]

        run_id = _job(
            client,
            body,
            http_us=HTTP(id="us", base_url=us.url, token="us-token-123"),
            http_eu=HTTP(id="eu", base_url=eu.url, token="eu-token-456"),
        )
        client.run_worker(until_idle=True)
        assert client.get_run(run_id).output == [1, 2]
    assert [r.header("Authorization") for r in us.requests] == ["Bearer us-token-123"]
    assert [r.header("Authorization") for r in eu.requests] == ["Bearer eu-token-456"]


def test_an_undeclared_namespace_resolves_to_an_installed_configured_default(
    make_client: Callable[..., runio.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()  # plugins from the installed entry points
    with FakeNotes(token="tok-12345") as server:
        monkeypatch.setenv("TESTNOTES_TOKEN", "tok-12345")
        monkeypatch.setenv("TESTNOTES_URL", server.url)

        async def body(io: Any) -> Any:
            assert io.testnotes is io.testnotes  # resolved once per execution
            return await io.testnotes.post_note("n", board="b", text="hello")

        run_id = _job(client, body)
        client.run_worker(until_idle=True)
        run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert server.notes["b"][0]["text"] == "hello"
    assert run.task("n").icon == "note"


def _resolution_error(client: runio.Client, name: str) -> str:
    async def body(io: Any) -> Any:
        return getattr(io, name)

    run_id = _job(client, body, declared=HTTP())
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None and run.error["type"] == "IntegrationNotFoundError"
    return str(run.error["message"])


def test_a_namespace_that_is_not_installed_names_the_package_to_install(
    make_client: Callable[..., runio.Client],
) -> None:
    # A plugin manager without entry points: as if runio-stripe were not installed. Core keeps
    # no list of vendors: the settings to provide are named once the package is installed.
    client = make_client(plugins=create_plugin_manager(entry_points=False))
    message = _resolution_error(client, "stripe")
    assert "install the package that provides it (usually runio-stripe: pip install" in message
    assert "This job declares: declared." in message


def test_an_unknown_namespace_suggests_the_usual_package_name(client: runio.Client) -> None:
    message = _resolution_error(client, "linear")
    assert "pip install runio-linear" in message and "integrations={'linear': ...}" in message


def test_an_installed_plugin_that_is_not_configured_names_the_variables(
    make_client: Callable[..., runio.Client],
) -> None:
    message = _resolution_error(make_client(), "testnotes")
    assert "Test Notes (runio-testplugin 0.3.0) is installed but not configured" in message
    assert "set TESTNOTES_TOKEN, TESTNOTES_URL" in message


def test_two_plugins_claiming_one_namespace_are_not_guessed_between(
    make_client: Callable[..., runio.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    class OtherNotes(TestNotes):
        pass

    class Plugin:
        @runio.hookimpl
        def runio_register_integrations(self, register: Any) -> None:
            register(OtherNotes)

    monkeypatch.setenv("TESTNOTES_TOKEN", "x" * 8)
    monkeypatch.setenv("TESTNOTES_URL", "http://127.0.0.1:9")
    client = make_client(plugins=create_plugin_manager(plugins=[Plugin()]))
    message = _resolution_error(client, "testnotes")
    assert "so runio will not pick one" in message


def test_io_attributes_behave_like_attributes(client: runio.Client) -> None:
    async def body(io: Any) -> Any:
        with pytest.raises(IntegrationNotFoundError) as raised:
            io.nothing_here  # noqa: B018
        assert isinstance(raised.value, AttributeError)
        assert raised.value.namespace == "nothing_here"
        assert not hasattr(io, "nothing_here")
        assert getattr(io, "_private", None) is None
        with pytest.raises(AttributeError, match="offers send_message, sync_echo"):
            io.echo.nope  # noqa: B018
        return True

    run_id = _job(client, body, echo=Echo(api_key=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error


def test_the_builtin_http_integration_needs_no_declaration(
    client: runio.Client, items: FakeItems
) -> None:
    async def body(io: Any) -> Any:
        made = await io.http.request(
            "create", method="POST", url=f"{items.url}/items", json={"title": "x"}
        )
        got = await io.http.request("get", url=f"{items.url}/items/{made['body']['id']}")
        return [made["status"], got["body"]["title"], got["headers"]["Content-Type"]]

    run_id = _job(client, body)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.output == [201, "x", "application/json"]
    assert items.requests[0].header("Idempotency-Key") == run.task("create").idempotency_key
    assert items.requests[1].header("Idempotency-Key") is None  # reads carry none
    assert run.task("create").properties == [
        {"label": "Method", "text": "POST"},
        {"label": "URL", "text": f"{items.url}/items"},
    ]


def test_a_sync_job_calls_integrations_blocking(client: runio.Client, items: FakeItems) -> None:
    http = HTTP(base_url=items.url)

    @client.define_job(id="sync", trigger=runio.event_trigger("sync"), integrations={"api": http})
    def job(payload: Any, io: runio.SyncIO) -> Any:
        made = io.api.request("create", method="POST", url="/items", json={"n": 3})
        slow = io.api.with_options(timeout=30).run_task(
            "raw", lambda client, task: client.request("GET", f"/items/{made['body']['id']}")
        )
        return slow["body"]["n"]

    run_id = client.send_event("sync", {}).run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == 3


def test_http_rate_limit_with_an_http_date_is_retried_then(
    client: runio.Client, clock: TestClock, items: FakeItems
) -> None:
    # The Retry-After date is in real time; the retry is scheduled that far from now.
    when = datetime.fromtimestamp(time.time() + 120, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    items.fail_next(503, headers={"Retry-After": when})

    async def body(io: Any) -> Any:
        return await io.http.request("c", method="POST", url=f"{items.url}/items", json={})

    run_id = _job(client, body)
    client.run_worker(until_idle=True)
    retry_at = client.get_run(run_id).task("c").retry_at
    assert retry_at is not None and 115 <= retry_at - clock.now() <= 121
    assert drive(client, clock, run_id).status == "COMPLETED"


class Composite(runio.Integration[list[str]]):
    """A vendor whose write joins a channel first, as a subtask, through ``use(self)``."""

    namespace, name, icon = "composite", "Composite", "puzzle"
    token: str = runio.setting(default="tok_composite_secret")

    def create_client(self) -> list[str]:
        return []

    @runio.integration_task(name="Join", effect="idempotent")
    async def join(self, client: list[str], task: runio.Task, /, *, channel: str) -> str:
        """Join a channel."""
        client.append(f"join {channel}")
        return channel

    @runio.integration_task(name="Post", effect="write")
    async def post(self, client: list[str], task: runio.Task, /, *, channel: str) -> list[str]:
        """Join (a subtask), then post."""
        await runio.integrations.use(self).join("join", channel=channel)
        client.append(f"post {channel}")
        return list(client)

    @runio.integration_task(name="Sync post", effect="write")
    def sync_post(self, client: list[str], task: runio.Task, /, *, channel: str) -> str:
        """The same from a sync SDK: the subtask call blocks."""
        joined: str = runio.integrations.use(self).join("join", channel=channel)  # type: ignore[assignment]
        return f"posted after joining {joined}"


def test_a_wrapper_calls_other_wrappers_as_its_subtasks(client: runio.Client) -> None:
    composite = Composite()

    async def body(io: runio.IO) -> Any:
        first = await io.use(composite).post("post", channel="general")
        second = await io.use(composite).sync_post("sync-post", channel="random")
        return [first, second]

    run_id = _job(client, body, composite=composite)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == [["join general", "post general"], "posted after joining random"]
    post = run.task("post")
    assert [(c.cache_key, c.name) for c in post.children] == [("join", "Join")]
    assert [(c.cache_key, c.name) for c in run.task("sync-post").children] == [("join", "Join")]


def test_use_outside_a_wrapper_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="works inside a task wrapper of that instance"):
        runio.integrations.use(Composite())


def test_io_use_resolves_a_class_to_the_declared_instance_or_refuses_to_guess(
    client: runio.Client,
) -> None:
    async def body(io: runio.IO) -> Any:
        one = io.use(Echo)
        return [one.integration.id, repr(one)]  # type: ignore[attr-defined]

    run_id = _job(client, body, mine=Echo(id="mine", api_key=SECRET))
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.output is not None and run.output[0] == "mine", run.error
    assert SECRET not in run.output[1]

    two = runio.Client("two", database_url=client.database_url)

    @two.define_job(
        id="two",
        trigger=runio.event_trigger("two"),
        integrations={"a": Echo(id="a", api_key=SECRET), "b": Echo(id="b", api_key=SECRET)},
    )
    async def job(payload: Any, io: runio.IO) -> Any:
        return io.use(Echo)

    try:
        run_id = two.send_event("two", {}).run_ids[0]
        two.run_worker(until_idle=True)
        failed = two.get_run(run_id)
    finally:
        two.close()
    assert failed.status == "FAILED"
    assert failed.error is not None
    assert "declares several Echo instances (a, b); pass the instance" in failed.error["message"]


def test_io_use_and_the_namespace_are_one_object_per_execution(client: runio.Client) -> None:
    """``io.use(instance)``, ``io.use(Class)`` and ``io.<key>`` give the same object, each
    time; an undeclared instance whose id is a declared key is not taken for the declared one;
    the objects made through ``with_options`` are new."""
    mine = Echo(id="mine", api_key=SECRET)
    stranger = Echo(id="mine", api_key=SECRET)  # not declared, with a declared key as id

    async def body(io: Any) -> Any:
        bound = io.mine
        other = io.use(stranger)
        return [
            io.use(mine) is bound,
            io.use(Echo) is bound,
            io.mine is bound,
            io.use(mine) is io.use(mine),
            other is not bound and other.integration is stranger,
            io.use(mine).with_options(timeout=5.0) is not bound,
            await io.use(mine).send_message("first", to="ada@example.com") is not None,
            await io.use(stranger).send_message("second", to="ada@example.com") is not None,
        ]

    run_id = _job(client, body, mine=mine)
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output == [True] * 8
    assert [t.cache_key for t in run.tasks] == ["first", "second"]


def test_at_least_once_is_declared_on_writes_only() -> None:
    with pytest.raises(ConfigurationError, match="at_least_once=True describes a write"):

        class Reads(runio.Integration[Any]):
            namespace, name = "reads", "Reads"

            @runio.integration_task(effect="read", at_least_once=True)
            def look(self, client: Any, task: runio.Task, /) -> None:
                """Read."""

    assert Composite.post.at_least_once is False
