"""The plugin system: the manager, entry-point discovery, allow/deny lists, load errors, and the
run and task lifecycle hooks (``runio.plugins``, DESIGN.md §7)."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kit_helpers import drive, install_fake_distribution
from runio_testplugin import TestNotes

import runio
from runio.errors import PluginLoadError
from runio.integrations import HTTP
from runio.plugins import PluginManager, RunInfo, TaskInfo, create_plugin_manager
from runio.testing import TestClock

IMMEDIATE = runio.RetryOptions(limit=3, min_timeout=1, max_timeout=1, randomize=False)


@pytest.fixture(autouse=True)
def _clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RUNIO_PLUGINS", raising=False)
    monkeypatch.delenv("RUNIO_DISABLE_PLUGINS", raising=False)
    yield
    for name in [m for m in sys.modules if m.startswith("fakeplugin_")]:
        del sys.modules[name]


# -- discovery ---------------------------------------------------------------------------------


def test_the_installed_test_plugin_is_found_through_its_entry_point() -> None:
    pm = create_plugin_manager()
    info = pm.plugin_info("testnotes")
    assert info is not None
    assert (info.package, info.version, info.builtin) == ("runio-testplugin", "0.3.0", False)
    found = pm.integrations_for("testnotes")
    assert [i.cls for i in found] == [TestNotes]
    assert found[0].plugin == info


def test_core_builtins_register_through_the_same_hook() -> None:
    pm = create_plugin_manager(entry_points=False)
    info = pm.plugin_info("runio.http")
    assert info is not None and info.builtin and info.package == "runio"
    assert [i.cls for i in pm.integrations_for("http")] == [HTTP]
    assert pm.hook.runio_register_integrations.get_hookimpls()[0].plugin_name == "runio.http"


def _count_metadata_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = importlib.metadata.entry_points

    def counted(**kwargs: Any) -> Any:
        reads.append(kwargs.get("group", ""))
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", counted)
    return reads


def _age(path: Path) -> None:
    """Make a directory look modified an hour ago (past the file system clock's tick)."""
    past = time.time() - 3600
    os.utime(path, (past, past))


def test_installed_plugins_are_read_once_until_the_environment_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_metadata_reads(monkeypatch)
    site = tmp_path / "site"
    site.mkdir()
    _age(site)
    monkeypatch.syspath_prepend(str(site))
    create_plugin_manager()
    create_plugin_manager()
    assert reads == ["runio"]  # the second manager reused what the first read
    # A distribution installed into a directory already on sys.path is seen by the next one
    install_fake_distribution(
        site,
        monkeypatch,
        package="runio-late",
        version="1.0.0",
        entry_points={"late": "fakeplugin_late"},
        modules={"fakeplugin_late": "X = 1\n"},
    )
    monkeypatch.setattr(sys, "path", list(dict.fromkeys(sys.path)))  # site is there once
    _age(site)  # changed, but with an older time than when it was read: still a change
    pm = create_plugin_manager()
    assert len(reads) == 2
    info = pm.plugin_info("late")
    assert info is not None and (info.package, info.version) == ("runio-late", "1.0.0")
    assert pm.plugin_info("testnotes") is not None
    # ...one removed is gone from the next
    for path in sorted(site.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    assert create_plugin_manager().plugin_info("late") is None
    assert len(reads) == 3
    # ...and a changed sys.path is read again
    monkeypatch.syspath_prepend(str(tmp_path))
    create_plugin_manager()
    assert len(reads) == 4
    # A replaced importlib.metadata.entry_points (another test's) is asked, not the cache
    counted = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kwargs: [])
    assert create_plugin_manager().plugin_info("testnotes") is None
    monkeypatch.setattr(importlib.metadata, "entry_points", counted)
    assert create_plugin_manager().plugin_info("testnotes") is not None
    assert len(reads) == 5


def test_each_client_gets_its_own_fresh_manager(make_client: Callable[..., runio.Client]) -> None:
    first, second = make_client("one"), make_client("two")
    assert isinstance(first.plugins, PluginManager)
    assert first.plugins is first.plugins
    assert first.plugins is not second.plugins
    given = create_plugin_manager(entry_points=False)
    assert make_client("three", plugins=given).plugins is given


def test_client_rejects_something_else_as_plugins(make_client: Callable[..., runio.Client]) -> None:
    with pytest.raises(runio.errors.ConfigurationError, match="create_plugin_manager"):
        make_client(plugins=object())


@pytest.mark.parametrize(
    ("allow", "deny", "expected"),
    [
        (None, None, {"runio.http", "testnotes"}),
        ("runio-testplugin", None, {"runio.http", "testnotes"}),  # by package name
        ("testnotes", None, {"runio.http", "testnotes"}),  # by entry-point name
        ("", None, {"runio.http"}),  # empty: no installed plugin; built-ins stay
        (None, "testnotes", {"runio.http"}),
        (None, "runio_testplugin", {"runio.http"}),  # names are normalised
        (None, "runio.http", {"testnotes"}),  # built-ins can be disabled
        ("testnotes", "testnotes", {"runio.http"}),  # deny wins
    ],
)
def test_runio_plugins_and_runio_disable_plugins(
    allow: str | None, deny: str | None, expected: set[str]
) -> None:
    environ = {k: v for k, v in {"RUNIO_PLUGINS": allow, "RUNIO_DISABLE_PLUGINS": deny}.items()}
    pm = create_plugin_manager(environ={k: v for k, v in environ.items() if v is not None})
    # Other plugins may be installed beside these two (runio's own integration packages).
    assert {i.name for i in pm.plugin_infos()} & {"runio.http", "testnotes"} == expected


def test_the_environment_variables_apply_to_a_client(
    make_client: Callable[..., runio.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNIO_DISABLE_PLUGINS", "testnotes")
    assert make_client().plugins.plugin_info("testnotes") is None


def test_runio_plugins_naming_an_unknown_plugin_fails_loudly() -> None:
    with pytest.raises(PluginLoadError) as raised:
        create_plugin_manager(environ={"RUNIO_PLUGINS": "testnotes,runio-not-installed"})
    assert "runio-not-installed" in str(raised.value)
    assert "testnotes (runio-testplugin)" in str(raised.value)


# -- load errors -------------------------------------------------------------------------------


def test_a_plugin_that_fails_to_import_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        package="runio-broken",
        version="2.1.0",
        entry_points={"broken": "fakeplugin_broken"},
        modules={"fakeplugin_broken": "import vendor_sdk_that_is_not_installed\n"},
    )
    with pytest.raises(PluginLoadError) as raised:
        create_plugin_manager()
    message = str(raised.value)
    assert "'broken' (package runio-broken 2.1.0) failed to load" in message
    assert "ModuleNotFoundError" in message and "vendor_sdk_that_is_not_installed" in message
    assert "pip install -U runio-broken" in message
    assert "RUNIO_DISABLE_PLUGINS=broken" in message
    assert (raised.value.plugin, raised.value.package) == ("broken", "runio-broken")
    # ...and the advice works
    pm = create_plugin_manager(environ={"RUNIO_DISABLE_PLUGINS": "broken"})
    assert pm.plugin_info("broken") is None


def test_a_worker_with_a_broken_plugin_stops_at_start_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_client: Callable[..., runio.Client],
) -> None:
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        package="runio-broken",
        version="2.1.0",
        entry_points={"broken": "fakeplugin_broken2"},
        modules={"fakeplugin_broken2": "raise RuntimeError('boom at import')\n"},
    )
    client = make_client()

    @client.define_job(id="j", trigger=runio.event_trigger("e"))
    async def job(payload: Any, io: runio.IO) -> int:
        return 1

    client.send_event("e", {})
    with pytest.raises(PluginLoadError, match=r"runio-broken 2\.1\.0"):
        client.run_worker(until_idle=True)


def test_a_misspelled_hook_fails_check_pending_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        package="runio-typo",
        version="0.1.0",
        entry_points={"typo": "fakeplugin_typo"},
        modules={
            "fakeplugin_typo": """
            import runio

            @runio.hookimpl
            def runio_task_startd(run, task):
                pass
            """
        },
    )
    with pytest.raises(PluginLoadError) as raised:
        create_plugin_manager()
    assert "runio_task_startd" in str(raised.value)
    assert "runio-typo" in str(raised.value)


def test_a_hook_with_unknown_arguments_is_rejected() -> None:
    class Wrong:
        @runio.hookimpl
        def runio_task_started(self, run: Any, tsk: Any) -> None:
            pass

    with pytest.raises(PluginLoadError, match="tsk"):
        create_plugin_manager(entry_points=False, plugins=[Wrong()])


def test_a_lifecycle_hook_cannot_be_a_wrapper() -> None:
    class Wrapper:
        @runio.hookimpl(wrapper=True)
        def runio_task_started(self, run: Any, task: Any) -> Iterator[None]:
            yield

    with pytest.raises(PluginLoadError, match="plain function"):
        create_plugin_manager(entry_points=False, plugins=[Wrapper()])


@pytest.mark.parametrize(
    ("registered", "problem"),
    [
        (dict, "not a runio.Integration subclass"),
        (runio.Integration, "not a runio.Integration subclass"),
        (type("BadNs", (runio.Integration,), {"namespace": "has-dash", "name": "X"}), "namespace"),
        (type("Shadow", (runio.Integration,), {"namespace": "wait", "name": "X"}), "already"),
        (type("NoName", (runio.Integration,), {"namespace": "noname"}), "display name"),
    ],
)
def test_registering_an_unusable_class_is_a_load_error(registered: Any, problem: str) -> None:
    class Plugin:
        @runio.hookimpl
        def runio_register_integrations(self, register: Any) -> None:
            register(registered)

    pm = create_plugin_manager(entry_points=False, plugins=[Plugin()])
    with pytest.raises(PluginLoadError, match=problem):
        pm.integrations()


def test_a_registration_hook_that_raises_is_a_load_error_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        package="runio-raiser",
        version="1.0.0",
        entry_points={"raiser": "fakeplugin_raiser"},
        modules={
            "fakeplugin_raiser": """
            import runio

            @runio.hookimpl
            def runio_register_integrations(register):
                raise KeyError("missing config")
            """
        },
    )
    pm = create_plugin_manager()
    with pytest.raises(PluginLoadError) as raised:
        pm.integrations()
    assert "runio-raiser 1.0.0" in str(raised.value) and "KeyError" in str(raised.value)


def test_a_class_registered_twice_is_listed_once() -> None:
    class Twice:
        @runio.hookimpl
        def runio_register_integrations(self, register: Any) -> None:
            register(TestNotes)
            register(TestNotes)

    pm = create_plugin_manager(entry_points=False, plugins=[Twice()])
    assert [i.cls for i in pm.integrations_for("testnotes")] == [TestNotes]


# -- lifecycle hooks ---------------------------------------------------------------------------


class Recorder:
    """An observability plugin that records every lifecycle call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @runio.hookimpl
    def runio_run_started(self, run: RunInfo) -> None:
        self.calls.append(("run_started", run.execution_count))

    @runio.hookimpl
    def runio_run_finished(self, run: RunInfo, status: str, error: BaseException | None) -> None:
        self.calls.append(("run_finished", status, type(error).__name__ if error else None))

    @runio.hookimpl
    def runio_task_started(self, run: RunInfo, task: TaskInfo) -> None:
        self.calls.append(("task_started", task.cache_key, task.attempt))

    @runio.hookimpl
    def runio_task_completed(self, task: TaskInfo, output: Any) -> None:  # a subset of args
        self.calls.append(("task_completed", task.cache_key, output))

    @runio.hookimpl
    def runio_task_retrying(
        self, task: TaskInfo, error: dict[str, Any], exception: BaseException, retry_at: float
    ) -> None:
        self.calls.append(("task_retrying", task.cache_key, error["message"], retry_at))

    @runio.hookimpl
    def runio_task_failed(
        self, run: RunInfo, task: TaskInfo, error: dict[str, Any], exception: BaseException
    ) -> None:
        self.calls.append(("task_failed", task.cache_key, type(exception).__name__))


def _flaky_job(client: runio.Client) -> None:
    @client.define_job(id="observed", trigger=runio.event_trigger("observed"))
    async def job(payload: Any, io: runio.IO) -> Any:
        await io.run_task("first", lambda task: 1)

        def flaky(task: runio.Task) -> str:
            if task.attempt == 1:
                raise RuntimeError("try again")
            return "ok"

        await io.run_task("flaky", flaky, retry=IMMEDIATE)

        def broken(task: runio.Task) -> None:
            raise runio.errors.NonRetryableError("no way")

        await io.run_task("broken", broken)


def test_lifecycle_hooks_fire_in_order_with_what_happened(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    recorder = Recorder()
    client = make_client(plugins=create_plugin_manager(entry_points=False, plugins=[recorder]))
    _flaky_job(client)
    run_id = client.send_event("observed", {}).run_ids[0]
    run = drive(client, clock, run_id)
    assert run.status == "FAILED"
    retry_at = next(c[3] for c in recorder.calls if c[0] == "task_retrying")
    assert recorder.calls == [
        ("run_started", 1),
        ("task_started", "first", 1),
        ("task_completed", "first", 1),
        ("task_started", "flaky", 1),
        ("task_retrying", "flaky", "try again", retry_at),
        ("run_finished", "WAITING", None),
        ("run_started", 2),  # "first" is replayed from the store: no task hooks
        ("task_started", "flaky", 2),
        ("task_completed", "flaky", "ok"),
        ("task_started", "broken", 1),
        ("task_failed", "broken", "NonRetryableError"),
        ("run_finished", "FAILED", "TaskFailedError"),
    ]
    assert retry_at == pytest.approx(clock.now())


def test_task_info_describes_the_attempt(
    make_client: Callable[..., runio.Client], clock: TestClock
) -> None:
    seen: list[tuple[RunInfo, TaskInfo]] = []

    class Plugin:
        @runio.hookimpl
        def runio_task_started(self, run: RunInfo, task: TaskInfo) -> None:
            seen.append((run, task))

    client = make_client(plugins=create_plugin_manager(entry_points=False, plugins=[Plugin()]))

    @client.define_job(id="info", version="2.0", trigger=runio.event_trigger("info"))
    async def job(payload: Any, io: runio.IO) -> Any:
        async def parent(task: runio.Task) -> Any:
            return await io.run_task(["child", 7], lambda t: 1, name="The child")

        await io.run_task("parent", parent)
        await io.random("dice")

    event = client.send_event("info", {"x": 1})
    client.run_worker(until_idle=True)
    run = client.get_run(event.run_ids[0])
    assert run.status == "COMPLETED"
    runs = {r for r, _ in seen}
    assert len(runs) == 1
    (info,) = runs
    assert (info.run_id, info.app_id, info.job_id, info.job_version) == (
        run.id,
        "test-app",
        "info",
        "2.0",
    )
    assert (info.event_id, info.event_name, info.execution_count, info.is_retry) == (
        event.id,
        "info",
        1,
        False,
    )
    tasks = {t.name: t for _, t in seen}
    child = tasks["The child"]
    parent = tasks["parent"]
    assert child.parent_id == parent.id
    assert child.cache_key == ["child", 7]
    assert child.idempotency_key == run.task("parent", ["child", 7]).idempotency_key
    assert (child.kind, child.attempt, child.outcome_unknown) == ("task", 1, False)
    assert tasks["Random"].kind == "random"


def test_a_hook_that_raises_is_logged_and_the_run_goes_on(
    make_client: Callable[..., runio.Client],
    clock: TestClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Faulty:
        @runio.hookimpl
        def runio_run_started(self, run: RunInfo) -> None:
            raise RuntimeError("exporter down")

        @runio.hookimpl
        def runio_task_started(self, run: RunInfo, task: TaskInfo) -> None:
            raise RuntimeError("exporter down")

        @runio.hookimpl
        def runio_task_retrying(self, task: TaskInfo) -> None:
            raise RuntimeError("exporter down")

        @runio.hookimpl
        def runio_task_failed(self, task: TaskInfo) -> None:
            raise RuntimeError("exporter down")

        @runio.hookimpl
        def runio_run_finished(self, status: str) -> None:
            raise RuntimeError("exporter down")

    recorder = Recorder()
    pm = create_plugin_manager(entry_points=False, plugins=[recorder])
    pm.register(Faulty(), name="faulty")
    client = make_client(plugins=pm)
    _flaky_job(client)
    caplog.set_level(logging.ERROR, logger="runio.plugins")
    run = drive(client, clock, client.send_event("observed", {}).run_ids[0])
    assert run.status == "FAILED"
    assert run.task("flaky").status == "COMPLETED"
    assert run.error is not None and "no way" in run.error["message"]
    assert len([c for c in recorder.calls if c[0] == "task_started"]) == 4  # not starved
    faulty = [r for r in caplog.records if "'faulty'" in r.getMessage()]
    assert {r.getMessage().split(" raised in ")[1].split(";")[0] for r in faulty} == {
        "runio_run_started",
        "runio_task_started",
        "runio_task_retrying",
        "runio_task_failed",
        "runio_run_finished",
    }


def test_no_lifecycle_call_is_made_when_no_plugin_implements_one(
    make_client: Callable[..., runio.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    import runio.integrations._resolve as resolve

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a Lifecycle was built although no plugin listens")

    monkeypatch.setattr(resolve, "Lifecycle", forbidden)
    client = make_client(plugins=create_plugin_manager(entry_points=False))
    assert client.plugins.lifecycle_impls() is None

    @client.define_job(id="quiet", trigger=runio.event_trigger("quiet"))
    async def job(payload: Any, io: runio.IO) -> int:
        return await io.run_task("t", lambda task: 2)

    run_id = client.send_event("quiet", {}).run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).status == "COMPLETED"


def test_a_plugin_registered_later_is_seen_by_the_next_execution(
    make_client: Callable[..., runio.Client],
) -> None:
    client = make_client(plugins=create_plugin_manager(entry_points=False))

    @client.define_job(id="late", trigger=runio.event_trigger("late"))
    async def job(payload: Any, io: runio.IO) -> int:
        return await io.run_task("t", lambda task: 3)

    client.send_event("late", {})
    client.run_worker(until_idle=True)
    recorder = Recorder()
    client.plugins.register(recorder)
    client.send_event("late", {})
    client.run_worker(until_idle=True)
    assert [c[0] for c in recorder.calls] == [
        "run_started",
        "task_started",
        "task_completed",
        "run_finished",
    ]
    client.plugins.unregister(recorder)
    assert client.plugins.lifecycle_impls() is None


def test_the_pytest_plugin_gives_a_fresh_manager_per_test(
    runio_plugins: PluginManager, make_client: Callable[..., runio.Client]
) -> None:
    assert {i.name for i in runio_plugins.plugin_infos()} == {"runio.http"}
    recorder = Recorder()
    runio_plugins.register(recorder)
    client = make_client(plugins=runio_plugins)

    @client.define_job(id="fx", trigger=runio.event_trigger("fx"))
    async def job(payload: Any, io: runio.IO) -> int:
        return 1

    client.send_event("fx", {})
    client.run_worker(until_idle=True)
    assert [c[0] for c in recorder.calls] == ["run_started", "run_finished"]
