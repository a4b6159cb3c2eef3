"""The ``runio`` command line, driven through click's ``CliRunner`` on a real app file and
database, and end to end as a real subprocess.

Errors must read as one paragraph with an exit code, never a traceback (unless ``--debug``).
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from procs import running

import runio
from runio.cli import cli

APP = '''
"""A small app for CLI tests."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

import runio

HERE = Path(__file__).resolve().parent
client = runio.Client(id="cli-app")
NOT_A_CLIENT = 42
IMMEDIATE_RETRY = runio.RetryOptions(limit=2, min_timeout=0, max_timeout=0, randomize=False)


class Greeting(BaseModel):
    name: str
    times: int = 1


@client.define_job(id="greet", trigger=runio.event_trigger("greet", schema=Greeting))
async def greet(payload: Greeting, io: runio.IO) -> str:
    return await io.run_task(
        "compose", lambda task: " ".join([f"hello {payload.name}"] * payload.times),
        name="Compose greeting",
    )


@client.define_job(id="fragile", trigger=runio.event_trigger("fragile"))
async def fragile(payload: dict, io: runio.IO) -> str:
    def call(task: runio.Task) -> str:
        if (HERE / "broken").exists():
            raise ConnectionError(f"upstream unavailable (attempt {task.attempt})")
        return f"ok on attempt {task.attempt}"

    return await io.run_task("call-upstream", call, retry=IMMEDIATE_RETRY)


@client.define_job(id="recovers", trigger=runio.event_trigger("recovers"))
async def recovers(payload: dict, io: runio.IO) -> str:
    def call(task: runio.Task) -> str:
        if task.attempt == 1:
            raise ConnectionError("first attempt refused")
        return "recovered"

    return await io.run_task("call-flaky", call, retry=IMMEDIATE_RETRY)
'''


class Cli:
    """Runs ``runio`` in-process against one app file and one database in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database_url = f"sqlite:///{directory / 'runio.db'}"
        self.runner = CliRunner(
            env={"RUNIO_DATABASE_URL": self.database_url, "RUNIO_APP": None, "COLUMNS": "250"}
        )

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(cli, list(args), prog_name="runio")

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def send(self, name: str, payload: Any) -> list[str]:
        result = self.ok("send-event", name, json.dumps(payload), "--app", "app.py:client")
        return list(json.loads(result.stdout)["run_ids"])

    def work(self) -> Result:
        return self.ok("worker", "app.py:client", "--until-idle")

    def client(self) -> runio.Client:
        return runio.Client("cli-test-reader", database_url=self.database_url)

    def run(self, run_id: str) -> runio.Run:
        with self.client() as client:
            return client.get_run(run_id)


def assert_clean_error(result: Result, code: int | None, *fragments: str) -> None:
    """The command failed with ``code`` (None: any failure) and a message holding
    ``fragments``, without a traceback."""
    if code is None:
        assert result.exit_code != 0, result.output
    else:
        assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), f"unhandled: {result.exception!r}"
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def _run_ids(text: str) -> list[str]:
    return re.findall(r"\brun_[0-9a-f]+\b", text)


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # Loading an app imports it and may extend sys.path: undo that for the next test.
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    try:
        yield Cli(tmp_path)
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if name.startswith("runio_app_") or name.startswith("cli_jobs"):
                del sys.modules[name]


# -- db upgrade ---------------------------------------------------------------------------------


def test_db_upgrade_applies_then_reports_up_to_date(run_cli: Cli) -> None:
    first = run_cli.ok("db", "upgrade")
    assert "applied 0001_" in first.stdout
    assert run_cli.database_url in first.stdout
    second = run_cli.ok("db", "upgrade")
    assert "already up to date" in second.stdout
    assert "applied" not in second.stdout


def test_db_upgrade_honours_database_url_option(run_cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = run_cli.ok("--database-url", url, "db", "upgrade")
    assert url in result.stdout
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "runio.db").exists()


def test_db_upgrade_refuses_a_newer_database(run_cli: Cli) -> None:
    run_cli.ok("db", "upgrade")
    with run_cli.client() as client:
        client._run_sync(
            client.store.execute_raw(
                "INSERT INTO runio_migrations (version, name, applied_at) VALUES (99, 'x', 0)"
            )
        )
    assert_clean_error(run_cli("db", "upgrade"), 1, "newer than this runio knows")


def test_a_bad_database_url_is_a_clean_error(run_cli: Cli) -> None:
    result = run_cli("--database-url", "mysql://localhost/x", "runs", "list")
    assert_clean_error(result, 1, "mysql", "sqlite:///")


# -- send-event ---------------------------------------------------------------------------------


def test_send_event_prints_the_event_and_its_runs(run_cli: Cli) -> None:
    result = run_cli.ok(
        "send-event", "greet", '{"name": "ada"}', "--app", "app.py:client", "--id", "evt_cli_1"
    )
    printed = json.loads(result.stdout)
    assert printed["id"] == "evt_cli_1"
    assert printed["name"] == "greet"
    (run_id,) = printed["run_ids"]
    run = run_cli.run(run_id)
    assert (run.status, run.job_id, run.payload) == ("QUEUED", "greet", {"name": "ada"})
    again = json.loads(
        run_cli.ok(
            "send-event", "greet", '{"name": "ada"}', "--app", "app.py:client", "--id", "evt_cli_1"
        ).stdout
    )
    assert again["run_ids"] == [run_id], "sending the same event id twice creates no new run"


def test_send_event_takes_the_app_from_runio_app(run_cli: Cli) -> None:
    result = run_cli.runner.invoke(
        cli, ["send-event", "greet", '{"name": "bo"}'], env={"RUNIO_APP": "app.py:client"}
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["run_ids"]) == 1


def test_send_event_with_app_id_uses_the_jobs_registered_by_a_worker(run_cli: Cli) -> None:
    run_cli.work()  # registers the app's jobs in the database
    result = run_cli.ok("send-event", "fragile", "{}", "--app-id", "cli-app")
    (run_id,) = json.loads(result.stdout)["run_ids"]
    assert run_cli.run(run_id).job_id == "fragile"


def test_send_event_with_invalid_json_is_a_usage_error(run_cli: Cli) -> None:
    result = run_cli("send-event", "greet", "{name: ada}", "--app", "app.py:client")
    assert_clean_error(result, 2, "PAYLOAD", "not valid JSON")


def test_send_event_with_a_payload_the_schema_rejects_names_the_fields(run_cli: Cli) -> None:
    result = run_cli(
        "send-event", "greet", '{"times": "many"}', "--app", "app.py:client", "--id", "evt_bad"
    )
    assert_clean_error(result, None, "greet", "name", "times", "Field required")
    with run_cli.client() as client:
        assert client.list_runs(all_apps=True) == [], "no run is created for an invalid payload"


def test_send_event_for_an_unknown_event_is_a_clean_error(run_cli: Cli) -> None:
    result = run_cli("send-event", "nope", "{}", "--app", "app.py:client")
    assert_clean_error(result, 1, "'nope'", "greet")


def test_send_event_without_an_app_is_a_usage_error(run_cli: Cli) -> None:
    result = run_cli("send-event", "greet", "{}")
    assert_clean_error(result, 2, "Usage:", "--app")


def test_send_event_with_a_bad_deliver_at_is_a_usage_error(run_cli: Cli) -> None:
    for value, fragment in (("tomorrow", "ISO 8601"), ("2030-01-01T09:00:00", "timezone")):
        result = run_cli(
            "send-event", "greet", '{"name": "a"}', "--app", "app.py:client", "--deliver-at", value
        )
        assert_clean_error(result, 2, "--deliver-at", fragment)


# -- APP specs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("app.py", ("names no client", "module:client")),
        ("missing.py:client", ("no file", "missing.py")),
        ("app.py:nope", ("no attribute", "nope")),
        ("app.py:NOT_A_CLIENT", ("int", "not a runio.Client")),
        ("no_such_module:client", ("no module", "no_such_module")),
    ],
)
def test_a_bad_app_spec_is_a_clean_usage_error(
    run_cli: Cli, spec: str, fragments: tuple[str, ...]
) -> None:
    assert_clean_error(run_cli("worker", spec, "--until-idle"), 2, "APP", *fragments)
    result = run_cli("send-event", "greet", "{}", "--app", spec)
    assert_clean_error(result, 2, *fragments)


def test_an_app_that_fails_to_import_is_named_in_the_error(run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("import runio\n1 / 0\n", encoding="utf-8")
    result = run_cli("worker", "broken_app.py:client", "--until-idle")
    assert_clean_error(result, 1, "broken_app.py", "division by zero", "--debug")


def test_an_app_given_as_module_colon_attribute_loads(run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "cli_jobs.py").write_text((tmp_path / "app.py").read_text(), encoding="utf-8")
    result = run_cli.ok("send-event", "greet", '{"name": "mo"}', "--app", "cli_jobs:client")
    (run_id,) = json.loads(result.stdout)["run_ids"]
    run_cli.ok("worker", "cli_jobs:client", "--until-idle")
    assert run_cli.run(run_id).output == "hello mo"


# -- worker -------------------------------------------------------------------------------------


def test_worker_until_idle_runs_every_ready_run_to_completion(run_cli: Cli) -> None:
    ada = run_cli.send("greet", {"name": "ada", "times": 2})
    bo = run_cli.send("greet", {"name": "bo"})
    result = run_cli.work()
    assert "cli-app" in result.stdout
    assert "worker stopped after 2 execution(s)" in result.stdout
    assert run_cli.run(ada[0]).output == "hello ada hello ada"
    assert run_cli.run(bo[0]).output == "hello bo"
    again = run_cli.work()
    assert "after 0 execution(s)" in again.stdout


def test_dev_prints_each_finished_run_with_its_tree(run_cli: Cli) -> None:
    (run_id,) = run_cli.send("greet", {"name": "ada"})
    out = run_cli.ok("dev", "app.py:client", "--until-idle").stdout
    assert run_id in out
    assert "COMPLETED" in out and "Compose greeting" in out and "hello ada" in out


def test_worker_for_an_app_without_jobs_is_a_clean_error(run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty_app.py").write_text(
        "import runio\nclient = runio.Client(id='empty')\n", encoding="utf-8"
    )
    result = run_cli("worker", "empty_app.py:client", "--until-idle")
    assert_clean_error(result, 1, "'empty'", "no jobs", "define_job")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--concurrency", "0"),
        ("--concurrency", "many"),
        ("--lease-seconds", "0"),
        ("--grace-period", "-1"),
    ],
)
def test_worker_rejects_bad_option_values(run_cli: Cli, option: str, value: str) -> None:
    result = run_cli("worker", "app.py:client", option, value, "--until-idle")
    assert_clean_error(result, 2, f"Invalid value for '{option}", value)


# -- runs list / show -----------------------------------------------------------------------------


@pytest.fixture
def history(run_cli: Cli, tmp_path: Path) -> dict[str, str]:
    """Runs in every interesting state: two greets COMPLETED, a fragile FAILED after two
    attempts, a recovers COMPLETED on its second attempt, a greet QUEUED."""
    (tmp_path / "broken").touch()
    ids = {
        "ada": run_cli.send("greet", {"name": "ada"})[0],
        "bo": run_cli.send("greet", {"name": "bo"})[0],
        "fragile": run_cli.send("fragile", {})[0],
        "recovers": run_cli.send("recovers", {})[0],
    }
    run_cli.work()
    ids["queued"] = run_cli.send("greet", {"name": "cy"})[0]
    return ids


def test_runs_list_shows_runs_newest_first(run_cli: Cli, history: dict[str, str]) -> None:
    out = run_cli.ok("runs", "list").stdout
    positions = [out.index(history[k]) for k in ("queued", "recovers", "fragile", "bo", "ada")]
    assert positions == sorted(positions)
    for word in ("COMPLETED", "FAILED", "QUEUED", "greet", "fragile", "cli-app"):
        assert word in out


def test_runs_list_filters_by_status_and_job(run_cli: Cli, history: dict[str, str]) -> None:
    completed = run_cli.ok("runs", "list", "--status", "completed").stdout
    assert set(_run_ids(completed)) == {history["ada"], history["bo"], history["recovers"]}
    both = run_cli.ok("runs", "list", "--status", "FAILED", "--status", "QUEUED").stdout
    assert set(_run_ids(both)) == {history["fragile"], history["queued"]}
    greets = run_cli.ok("runs", "list", "--job", "greet").stdout
    assert set(_run_ids(greets)) == {history["ada"], history["bo"], history["queued"]}
    nothing = run_cli.ok("runs", "list", "--job", "greet", "--status", "FAILED").stdout
    assert nothing.strip() == "No runs."
    limited = run_cli.ok("runs", "list", "--limit", "2").stdout
    assert set(_run_ids(limited)) == {history["queued"], history["recovers"]}


def test_runs_list_stays_readable_in_80_columns(run_cli: Cli, history: dict[str, str]) -> None:
    """Piped or in a narrow terminal, ids, jobs and statuses are not cut (grep must work)."""
    result = run_cli.runner.invoke(cli, ["runs", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    rows = {run_id: line for line in result.stdout.splitlines() for run_id in _run_ids(line)}
    assert set(rows) == set(history.values())
    assert "FAILED" in rows[history["fragile"]] and "fragile" in rows[history["fragile"]]
    assert "COMPLETED" in rows[history["ada"]] and "greet" in rows[history["ada"]]
    assert "QUEUED" in rows[history["queued"]]


def test_runs_list_json(run_cli: Cli, history: dict[str, str]) -> None:
    listed = json.loads(run_cli.ok("runs", "list", "--json", "--job", "fragile").stdout)
    assert [(r["id"], r["job_id"], r["status"], r["app_id"]) for r in listed] == [
        (history["fragile"], "fragile", "FAILED", "cli-app")
    ]
    assert listed[0]["error"]["type"] == "TaskFailedError"


def test_runs_list_scopes_to_an_app_id(run_cli: Cli, history: dict[str, str]) -> None:
    assert len(_run_ids(run_cli.ok("runs", "list", "--app-id", "cli-app").stdout)) == 5
    assert run_cli.ok("runs", "list", "--app-id", "other-app").stdout.strip() == "No runs."


def test_runs_list_rejects_an_unknown_status(run_cli: Cli) -> None:
    result = run_cli("runs", "list", "--status", "DONE")
    assert_clean_error(result, 2, "--status", "'DONE'")
    assert "completed" in result.output.lower()
    assert_clean_error(run_cli("runs", "list", "--limit", "0"), 2, "--limit")


def test_runs_show_prints_the_task_tree_with_attempts_and_errors(
    run_cli: Cli, history: dict[str, str]
) -> None:
    out = run_cli.ok("runs", "show", history["fragile"]).stdout
    assert history["fragile"] in out
    assert "FAILED" in out and "fragile" in out
    assert "call-upstream" in out and "ERRORED" in out
    assert "2 attempts" in out
    assert "ConnectionError: upstream unavailable (attempt 2)" in out
    assert re.search(r"\d+ ms|\d+\.\d s", out), "each task shows its duration"

    done = run_cli.ok("runs", "show", history["ada"]).stdout
    assert "COMPLETED" in done and "Compose greeting" in done and "hello ada" in done


def test_runs_show_names_the_error_of_an_attempt_that_was_retried(
    run_cli: Cli, history: dict[str, str]
) -> None:
    """A task that succeeded on its second attempt still shows why the first one failed."""
    out = run_cli.ok("runs", "show", history["recovers"]).stdout
    assert "2 attempts" in out
    assert "COMPLETED" in out and "recovered" in out
    assert "first attempt refused" in out


def test_runs_show_json_holds_every_attempt(run_cli: Cli, history: dict[str, str]) -> None:
    shown = json.loads(run_cli.ok("runs", "show", history["fragile"], "--json").stdout)
    (task,) = shown["tasks"]
    assert task["cache_key"] == "call-upstream"
    assert [(a["number"], a["status"]) for a in task["attempts"]] == [
        (1, "ERRORED"),
        (2, "ERRORED"),
    ]
    assert task["attempts"][0]["error"]["message"] == "upstream unavailable (attempt 1)"


def test_runs_show_an_unknown_run_is_a_clean_error(run_cli: Cli) -> None:
    result = run_cli("runs", "show", "run_does_not_exist")
    assert_clean_error(result, 1, "run_does_not_exist", "runio runs list")


def test_debug_raises_what_plain_mode_reports(run_cli: Cli) -> None:
    plain = run_cli("runs", "show", "run_nope")
    assert isinstance(plain.exception, SystemExit)
    debug = run_cli("--debug", "runs", "show", "run_nope")
    assert isinstance(debug.exception, runio.errors.RunNotFoundError)
    assert debug.exit_code == 1


# -- runs cancel / retry / replay -----------------------------------------------------------------


def test_runs_cancel_a_queued_run(run_cli: Cli) -> None:
    (run_id,) = run_cli.send("greet", {"name": "ada"})
    result = run_cli.ok("runs", "cancel", run_id)
    assert result.stdout.strip() == f"run {run_id}: CANCELED"
    assert "after 0 execution(s)" in run_cli.work().stdout
    assert run_cli.run(run_id).status == "CANCELED"
    assert_clean_error(run_cli("runs", "cancel", run_id), 1, "already ended", "CANCELED")
    assert_clean_error(run_cli("runs", "cancel", "run_nope"), 1, "run_nope")


def test_runs_retry_reattempts_the_failed_task(
    run_cli: Cli, history: dict[str, str], tmp_path: Path
) -> None:
    run_id = history["fragile"]
    (tmp_path / "broken").unlink()  # the upstream is back
    result = run_cli.ok("runs", "retry", run_id)
    assert f"run {run_id}: QUEUED" in result.stdout
    run_cli.work()
    run = run_cli.run(run_id)
    assert (run.status, run.output) == ("COMPLETED", "ok on attempt 3")
    assert [a.status for a in run.task("call-upstream").attempts] == [
        "ERRORED",
        "ERRORED",
        "COMPLETED",
    ]


def test_runs_retry_of_a_completed_run_is_a_clean_error(
    run_cli: Cli, history: dict[str, str]
) -> None:
    result = run_cli("runs", "retry", history["ada"])
    assert_clean_error(result, 1, history["ada"], "COMPLETED", "replay")
    assert_clean_error(run_cli("runs", "retry", "run_nope"), 1, "run_nope")


def test_runs_replay_starts_a_new_run_of_the_same_event(
    run_cli: Cli, history: dict[str, str]
) -> None:
    original = history["ada"]
    result = run_cli.ok("runs", "replay", original)
    match = re.search(r"new run (\S+): QUEUED \(replay of (\S+)\)", result.stdout)
    assert match is not None, result.stdout
    new_id = match.group(1)
    assert match.group(2) == original and new_id != original
    run_cli.work()
    replayed, before = run_cli.run(new_id), run_cli.run(original)
    assert (replayed.status, replayed.output, replayed.replay_of) == (
        "COMPLETED",
        "hello ada",
        original,
    )
    assert replayed.event_id == before.event_id
    assert before.status == "COMPLETED" and before.execution_count == 1
    assert_clean_error(run_cli("runs", "replay", "run_nope"), 1, "run_nope")


# -- the real command, end to end -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_runio_command_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    with running(tmp_path) as procs:
        upgrade = procs.run("db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        assert "applied 0001_" in upgrade.stdout

        sent = procs.run("send-event", "greet", '{"name": "eve"}', "--app", "app.py:client")
        assert sent.returncode == 0, sent.stderr
        (run_id,) = json.loads(sent.stdout)["run_ids"]

        worker = procs.run("worker", "app.py:client", "--until-idle")
        assert worker.returncode == 0, worker.stderr
        assert "after 1 execution(s)" in worker.stdout

        shown = procs.run("runs", "show", run_id)
        assert shown.returncode == 0, shown.stderr
        assert "COMPLETED" in shown.stdout and "hello eve" in shown.stdout

        plain = procs.run("runs", "show", "run_nope")
        assert plain.returncode == 1
        assert "No run with id 'run_nope'" in plain.stderr
        assert "Traceback" not in plain.stderr + plain.stdout

        debug = procs.run("--debug", "runs", "show", "run_nope")
        assert debug.returncode == 1
        assert "Traceback (most recent call last)" in debug.stderr
        assert "RunNotFoundError" in debug.stderr

        bad = procs.run("send-event", "greet", '{"name": 5}', "--app", "app.py:client")
        assert bad.returncode != 0
        assert "name" in bad.stderr and "Traceback" not in bad.stderr


def test_help_lists_every_command(run_cli: Cli) -> None:
    out = run_cli.ok("--help").stdout
    for command in ("worker", "dev", "send-event", "runs", "db"):
        assert command in out
    runs_help = run_cli.ok("runs", "--help").stdout
    for command in ("list", "show", "cancel", "retry", "replay"):
        assert command in runs_help
    assert run_cli.ok("--version").stdout.startswith("runio, version ")


def _runio_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("runio")}


def test_commands_close_the_database_they_open(run_cli: Cli) -> None:
    """Run in-process (as here, or from a user's own tooling), a command leaves no database
    connection or helper thread behind."""
    before = _runio_threads()
    (run_id,) = run_cli.send("greet", {"name": "ada"})
    run_cli.work()
    run_cli.ok("runs", "show", run_id)
    run_cli.ok("runs", "list")
    run_cli.ok("db", "upgrade")
    run_cli("runs", "show", "run_nope")
    left = _runio_threads() - before
    assert not left, f"threads left running: {sorted(t.name for t in left)}"
