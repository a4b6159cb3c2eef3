"""How the ``runio`` command prints: text kept intact (no markup eaten, nothing wrapped into a
pipe), ``dev``'s progress while runs execute, ``runs show --watch``, and help that says
everything.

Commands run in-process through click's ``CliRunner``, whose output is not a terminal (the pipe
case); the terminal case is forced with ``TTY_COMPATIBLE=1`` or a rich console of our own.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from typing import Any

import click
import pytest
from rich.console import Console
from test_cli import Cli, assert_clean_error, run_cli

import runio
from runio.cli import _watch, cli
from runio.cli._progress import DevProgress
from runio.plugins import RunInfo, TaskInfo

__all__ = ["run_cli"]  # the fixture, shared with test_cli

LONG = "a-long-task-name-" * 12  # 204 characters: wider than any terminal default

OUTPUT_APP = f'''
from __future__ import annotations

import runio

client = runio.Client(id="output-app")
IMMEDIATE_RETRY = runio.RetryOptions(limit=2, min_timeout=0, max_timeout=0, randomize=False)


@client.define_job(id="brackets", trigger=runio.event_trigger("brackets"))
async def brackets(payload: dict, io: runio.IO) -> str:
    return await io.run_task(
        "install", lambda task: 'pip install "runio[postgres]"', name="Say [bold]hi[/bold]"
    )


@client.define_job(id="long", trigger=runio.event_trigger("long"))
async def long(payload: dict, io: runio.IO) -> str:
    return await io.run_task("{LONG}", lambda task: "x" * 150)


@client.define_job(id="second-try", trigger=runio.event_trigger("second-try"))
async def second_try(payload: dict, io: runio.IO) -> str:
    def call(task: runio.Task) -> str:
        if task.attempt == 1:
            raise ConnectionError("refused [503]")
        return "ok"

    first = await io.run_task("first", lambda task: 1, name="First step")
    return await io.run_task("call", call, retry=IMMEDIATE_RETRY) + str(first)
'''


@pytest.fixture
def out_cli(run_cli: Cli) -> Cli:
    (run_cli.directory / "output_app.py").write_text(OUTPUT_APP, encoding="utf-8")
    run_cli.runner.env["COLUMNS"] = "80"  # what a pipe would get: must not matter
    return run_cli


def send(cli_: Cli, name: str) -> str:
    result = cli_.ok("send-event", name, "--app", "output_app.py:client")
    (run_id,) = json.loads(result.stdout)["run_ids"]
    return str(run_id)


def work(cli_: Cli) -> None:
    cli_.ok("worker", "output_app.py:client", "--until-idle")


# -- text is printed as given -------------------------------------------------------------------


def test_an_error_keeps_its_square_brackets(out_cli: Cli) -> None:
    (out_cli.directory / "needs_extra.py").write_text(
        "raise RuntimeError('the PostgreSQL driver is missing: pip install \"runio[postgres]\"')\n",
        encoding="utf-8",
    )
    result = out_cli("worker", "needs_extra.py:client")
    assert_clean_error(result, 1, 'pip install "runio[postgres]"')


def test_task_names_and_outputs_keep_their_square_brackets(out_cli: Cli) -> None:
    run_id = send(out_cli, "brackets")
    worked = out_cli.ok("dev", "output_app.py:client", "--until-idle").stdout
    shown = out_cli.ok("runs", "show", run_id).stdout
    for out in (worked, shown):
        assert "Say [bold]hi[/bold]" in out
        assert 'pip install \\"runio[postgres]\\"' in out  # the output, as JSON


def test_a_terminal_gets_the_runs_table(out_cli: Cli) -> None:
    send(out_cli, "brackets")
    work(out_cli)
    result = out_cli.runner.invoke(
        cli, ["runs", "list"], env={"TTY_COMPATIBLE": "1", "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "━" in result.stdout, "a terminal gets the table"
    assert "brackets" in result.stdout and "COMPLETED" in result.stdout
    piped = out_cli.ok("runs", "list").stdout
    assert "━" not in piped and "\tbrackets\tCOMPLETED\t" in piped


# -- nothing is wrapped into a pipe -------------------------------------------------------------


def test_piped_output_is_never_wrapped(out_cli: Cli) -> None:
    run_id = send(out_cli, "long")
    worker = out_cli.ok("worker", "output_app.py:client", "--until-idle").stdout
    banner = worker.splitlines()[0]
    assert banner.startswith("runio worker app output-app")
    assert out_cli.database_url.removeprefix("sqlite:///") in banner
    assert banner.endswith("concurrency 50.")

    lines = out_cli.ok("runs", "show", run_id).stdout.splitlines()
    assert any(LONG in line and "COMPLETED" in line for line in lines), lines
    assert any(f'"{"x" * 150}"' in line for line in lines), lines
    assert lines[0].startswith(f"Run {run_id}  job long@") and "execution(s)" in lines[0]


def test_until_idle_does_not_say_ctrl_c(out_cli: Cli) -> None:
    for command in ("worker", "dev"):
        out = out_cli.ok(command, "output_app.py:client", "--until-idle").stdout
        assert "Ctrl-C" not in out
        assert f"runio {command} app output-app" in out


# -- runio dev: progress while a run executes ---------------------------------------------------


def test_dev_prints_a_line_per_task_attempt_into_a_pipe(out_cli: Cli) -> None:
    run_id = send(out_cli, "second-try")
    out = out_cli.ok("dev", "output_app.py:client", "--until-idle").stdout
    mine = [line for line in out.splitlines() if line.startswith(f"{run_id} ")]
    assert re.fullmatch(rf"{run_id} second-try@\S+ started", mine[0])
    assert mine[1] == f"{run_id} ▶ First step [first]"
    assert re.fullmatch(rf"{run_id} ✔ First step \[first\]  \d+ ms", mine[2])
    assert mine[3] == f"{run_id} ▶ call"
    assert re.fullmatch(
        rf"{run_id} ⏸ call  attempt 1  \d+ ms  ConnectionError: refused \[503\]; "
        r"next attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        mine[4],
    )
    # the retry resumes the run: a second execution, only the retried task runs again
    assert re.fullmatch(rf"{run_id} second-try@\S+ started, execution 2", mine[5])
    assert mine[6] == f"{run_id} ▶ call  attempt 2"
    assert re.fullmatch(rf"{run_id} ✔ call  attempt 2  \d+ ms", mine[7])
    assert len(mine) == 8
    # ...and then the run's tree, as before
    assert f"run {run_id}: WAITING" in out
    assert f"Run {run_id}  job second-try@" in out and "ok1" in out


def test_worker_prints_no_progress(out_cli: Cli) -> None:
    run_id = send(out_cli, "second-try")
    out = out_cli.ok("worker", "output_app.py:client", "--until-idle").stdout
    assert run_id not in out


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


RUN = RunInfo(
    run_id="run_1",
    app_id="app",
    job_id="sync-orders",
    job_version="1.0.0",
    event_id="evt_1",
    event_name="orders",
    execution_count=1,
    is_retry=False,
)


def task_info(task_id: str, name: str, *, parent: str | None = None, attempt: int = 1) -> TaskInfo:
    return TaskInfo(
        id=task_id,
        run_id="run_1",
        parent_id=parent,
        cache_key=name,
        idempotency_key="k" + task_id,
        name=name,
        kind="task",
        attempt=attempt,
        outcome_unknown=False,
    )


def rendered(progress: DevProgress) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(progress.render())
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_live_view_shows_tasks_appearing_and_durations_ticking() -> None:
    ticks = Ticks()
    progress = DevProgress(Console(file=io.StringIO()), live=True, clock=ticks)
    progress.runio_run_started(run=RUN)
    assert "sync-orders@1.0.0" in rendered(progress)
    assert "fetch" not in rendered(progress)

    progress.runio_task_started(run=RUN, task=task_info("t1", "fetch"))
    ticks.now += 0.25
    assert re.search(r"▶ fetch  250 ms…", rendered(progress))
    ticks.now += 2.25
    view = rendered(progress)
    assert re.search(r"▶ fetch  2\.5 s…", view), view
    assert "run_1  sync-orders@1.0.0  2.5 s…" in view

    progress.runio_task_started(run=RUN, task=task_info("t2", "page-1", parent="t1"))
    ticks.now += 1.0
    progress.runio_task_completed(run=RUN, task=task_info("t2", "page-1", parent="t1"))
    ticks.now += 5.0
    view = rendered(progress)
    assert re.search(r"▶ fetch  8\.5 s…", view), view
    assert re.search(r"└── ✔ page-1  1\.0 s\n", view), "a finished task stops ticking"
    assert view.index("fetch") < view.index("page-1")

    progress.runio_task_failed(
        run=RUN,
        task=task_info("t1", "fetch"),
        error={"type": "ValueError", "message": "bad [page]"},
    )
    assert "✘ fetch  8.5 s  ValueError: bad [page]" in rendered(progress)

    progress.runio_run_finished(run=RUN)
    assert rendered(progress).strip() == ""
    assert progress.console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_the_live_view_runs_on_a_terminal(out_cli: Cli) -> None:
    """In a terminal, dev draws the live view instead of the per-event lines."""
    run_id = send(out_cli, "second-try")
    result = out_cli.runner.invoke(
        cli, ["dev", "output_app.py:client", "--until-idle"], env={"TTY_COMPATIBLE": "1"}
    )
    assert result.exit_code == 0, result.output
    assert f"{run_id} ▶ First step" not in result.stdout
    assert f"Run {run_id}" in result.stdout and "ok1" in result.stdout


# -- runio runs show --watch --------------------------------------------------------------------


def test_watch_on_a_finished_run_prints_it_at_once(out_cli: Cli) -> None:
    run_id = send(out_cli, "second-try")
    work(out_cli)
    out = out_cli.ok("runs", "show", run_id, "--watch").stdout
    assert out.splitlines()[0] == f"{run_id} ✔ COMPLETED"
    assert f"Run {run_id}  job second-try@" in out and "2 attempts" in out
    shown = json.loads(out_cli.ok("runs", "show", run_id, "--watch", "--json").stdout)
    assert shown["status"] == "COMPLETED"


class Replaying:
    """Stands in for a client whose run moves on between looks: ``get_run`` returns each
    recorded state in turn, the last one for good."""

    def __init__(self, states: list[runio.Run]) -> None:
        self.states = states
        self.looks = 0

    def get_run(self, run_id: str) -> runio.Run:
        assert run_id == self.states[0].id
        self.looks += 1
        return self.states[min(self.looks, len(self.states) - 1)]


def test_watch_prints_a_line_per_change_until_the_run_ends(out_cli: Cli) -> None:
    run_id = send(out_cli, "second-try")
    work(out_cli)
    done = out_cli.run(run_id)
    first, call = done.tasks
    queued = dataclasses.replace(done, status="QUEUED", tasks=[], execution_count=0)
    running = dataclasses.replace(
        done,
        status="EXECUTING",
        execution_count=1,
        tasks=[dataclasses.replace(call, status="RUNNING", ended_at=None, attempts=[])],
    )
    again = dataclasses.replace(running, tasks=list(running.tasks))  # nothing new: no line
    states = [queued, running, again, done]
    buffer = io.StringIO()
    client: Any = Replaying(states)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("runio.cli.console", lambda: Console(file=buffer, width=100_000))
        final = _watch(client, queued, interval=0)

    assert final is done
    assert client.looks == 3
    assert buffer.getvalue().splitlines() == [
        f"{run_id} · QUEUED",
        f"{run_id} ▶ EXECUTING",
        f"{run_id} ▶ RUNNING  call",
        f"{run_id} ✔ COMPLETED",
        f"{run_id} ✔ COMPLETED  First step" + _took(first),
        f"{run_id} ✔ COMPLETED  call  attempt 2" + _took(call),
    ]


def _took(task: runio.TaskRun) -> str:
    from runio._render import duration

    return f"  {duration(task.started_at, task.ended_at)}"


# -- help ---------------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += _commands(command, prefix + name + " ")
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli), ids=lambda v: str(v))
def test_every_option_is_described(path: str, command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"runio {path} {param.opts[0]} has no help text"


@pytest.mark.parametrize(
    "group",
    [[]] + [path.split() for path, c in _commands(cli) if isinstance(c, click.Group)],
    ids=lambda v: " ".join(v) or "runio",
)
def test_command_lists_are_never_cut(run_cli: Cli, group: list[str]) -> None:
    """In 80 columns, each command's one-line help is whole (click cuts long ones with ...)."""
    result = run_cli.runner.invoke(cli, [*group, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    listing = result.stdout[result.stdout.index("Commands:") :]
    assert "..." not in listing, listing
    for line in listing.splitlines()[1:]:
        if line.strip():
            assert line.count("(") == line.count(")"), line


@pytest.mark.parametrize(
    "args",
    [[], ["worker"], ["dev"], ["send-event"], ["runs", "list"], ["runs", "show"]],
    ids=" ".join,
)
def test_help_shows_examples(run_cli: Cli, args: list[str]) -> None:
    out = run_cli.ok(*args, "--help").stdout
    assert "Examples:" in out, out
    examples = out[out.index("Examples:") :].splitlines()[1:]
    assert any(line.startswith("    runio ") for line in examples), examples
