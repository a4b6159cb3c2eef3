"""The ``runio`` command line: workers, events, runs and the database.

Errors are printed as one readable paragraph; ``runio --debug ...`` shows the traceback. Output
goes through ``_console``: laid out for a terminal, never wrapped into a pipe or a file, and
dynamic text is never read as rich markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import time
from datetime import datetime
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from .. import __version__
from .._client import Client, _run_here
from .._records import Run
from .._render import duration, run_json, run_tree, runs_lines, runs_table, status_text
from .._validate import MAX_GRACE_PERIOD, MAX_LEASE_SECONDS
from ..errors import InvalidPayloadError, RunioError
from ..server import ServerConfig
from ._app import load_app
from ._console import console, error_text
from ._console import examples as _examples
from ._integrations import integrations
from ._keys import keys
from ._logging import JsonFormatter, install
from ._progress import PLUGIN_NAME, DevProgress
from ._schedules import schedules
from ._serve import run_dev, serve, server_config, with_server_options
from ._webhooks import webhooks

err_console = Console(stderr=True, highlight=False)
"""Kept for commands that print to stderr themselves; errors go through ``_fail``."""
_FINAL = {"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"}


class _State:
    def __init__(self, database_url: str | None, debug: bool) -> None:
        self.database_url = database_url
        self.debug = debug
        self.log_handler: logging.Handler | None = None
        """The stderr log handler this command installed (None: logging was configured)."""

    def ops_client(self, app_id: str = "runio-cli", **options: Any) -> Client:
        """A client for operations that need no app code (runs, db), closed with the command."""
        return _closing(Client(app_id, database_url=self.database_url, **options))


def _closing(client: Client) -> Client:
    click.get_current_context().call_on_close(client.close)
    return client


def _fail(message: str, code: int = 1) -> NoReturn:
    console(stderr=True).print(error_text(message), soft_wrap=True)
    sys.exit(code)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except InvalidPayloadError as exc:
            if _debug(ctx):
                raise
            _fail(str(exc), 2)
        except RunioError as exc:
            if _debug(ctx):
                raise
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("Interrupted.", 130)
        except Exception as exc:
            if _debug(ctx):
                raise
            _fail(
                f"{type(exc).__name__}: {exc}. This looks like a bug or an unexpected environment "
                "problem; run again with `runio --debug ...` to see the traceback."
            )


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    state = root.obj
    return bool(getattr(state, "debug", False)) or "--debug" in sys.argv


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` keeps the last of two equal keys; a payload typed by hand means both."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKeyError(key)
        found[key] = value
    return found


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExamples:\n"
    "  runio dev app.py:client                    # run your jobs locally, watch them\n"
    '  runio send-event new.user \'{"user_id": "u_1"}\' --app app.py:client\n'
    "  runio runs list --status failed\n"
    "  runio --database-url postgresql://localhost/runio worker my_app.jobs:client\n"
    "\nrunio COMMAND --help shows a command's options and examples.",
)
@click.option(
    "--database-url",
    envvar="RUNIO_DATABASE_URL",
    default=None,
    help="Database URL (default: RUNIO_DATABASE_URL, else sqlite:///.runio/runio.db).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="runio")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, debug: bool) -> None:
    """runio: durable background jobs built from cached, retryable tasks."""
    ctx.obj = _State(database_url, debug)
    ctx.obj.log_handler = install(logging.DEBUG if debug else logging.WARNING)


def _app_client(state: _State, app: str) -> Client:
    client = _closing(load_app(app))
    if state.database_url and client._store is None and client._database_url is None:
        client._database_url = state.database_url
    return client


class _Seconds(click.FloatRange):
    """A number of seconds in a range; NaN (which no range comparison refuses) and infinity are
    refused too."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return number


_worker_options = [
    click.option(
        "--concurrency",
        "-c",
        type=click.IntRange(min=1, max=100_000),
        default=50,
        show_default=True,
        envvar="RUNIO_CONCURRENCY",
        show_envvar=True,
        help="Runs executed at once.",
    ),
    click.option(
        "--lease-seconds",
        type=_Seconds(min=0.1, max=MAX_LEASE_SECONDS),
        default=30.0,
        show_default=True,
        envvar="RUNIO_LEASE_SECONDS",
        show_envvar=True,
        help="How long a run stays claimed without a heartbeat (0.1 s to a day).",
    ),
    click.option(
        "--grace-period",
        type=_Seconds(min=0, max=MAX_GRACE_PERIOD),
        default=30.0,
        show_default=True,
        envvar="RUNIO_GRACE_PERIOD",
        show_envvar=True,
        help="On SIGTERM/SIGINT, seconds to let running tasks finish (at most a day).",
    ),
    click.option(
        "--until-idle",
        is_flag=True,
        help="Exit once no run is ready to execute (waiting runs stay waiting).",
    ),
    click.option(
        "--max-store-failures",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="Database failures in a row (with growing pauses) before the worker gives up and "
        "exits with status 1.",
    ),
    click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="How log records are written to stderr: text lines, or one JSON object per line "
        "(time, level, logger, message, run_id, job_id) for log collectors.",
    ),
]


def _with_worker_options(fn: Any) -> Any:
    for option in reversed(_worker_options):
        fn = option(fn)
    return fn


def _use_log_format(state: _State, log_format: str) -> None:
    if log_format == "json" and state.log_handler is not None:
        state.log_handler.setFormatter(JsonFormatter())


def _run_worker(
    client: Client,
    *,
    command: str,
    verbose: bool,
    progress: bool = False,
    server: ServerConfig | None = None,
    **options: Any,
) -> None:
    out = console()
    printing: set[asyncio.Task[None]] = set()

    async def print_run(run_id: str) -> None:
        with contextlib.suppress(RunioError):
            out.print(run_tree(await client.get_run_async(run_id)))

    def finished(run_id: str, status: str) -> None:
        if not verbose:
            return
        if status in _FINAL:
            task = asyncio.get_running_loop().create_task(print_run(run_id))
            printing.add(task)
            task.add_done_callback(printing.discard)
        else:
            out.print(Text(f"run {run_id}: {status}"))

    shown: DevProgress | None = None
    if progress:
        shown = DevProgress(out, live=out.is_terminal)
        client.plugins.register(shown, name=PLUGIN_NAME)
    worker = client.worker(handle_signals=True, on_run_finished=finished, **options)
    out.print(
        Text.assemble(
            (f"runio {command}", "bold"),
            " app ",
            (client.id, "cyan"),
            f", {len(client.jobs)} job(s), database {client.store.url}, "
            f"concurrency {worker.concurrency}.",
            "" if worker.until_idle else " Ctrl-C to stop.",
        )
    )
    with shown.showing() if shown is not None else contextlib.nullcontext():
        if server is None:
            _run_here(worker.run())
        else:
            run_dev(client, worker, server, out)
    out.print(f"worker stopped after {worker.runs_finished} execution(s).")
    stuck = worker.abandoned_calls
    if stuck:
        # Python cannot interrupt a synchronous task function; its run was released, so the
        # process ends now instead of waiting for that thread at interpreter exit.
        out.print(
            f"{stuck} synchronous function call(s) still running were abandoned; their "
            "runs were released and will be retried by another worker."
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@cli.command(
    short_help="Run a worker for APP's jobs.",
    epilog=_examples(
        "runio worker my_app.jobs:client",
        "runio worker app.py:client --concurrency 10",
        "runio worker app.py:client --until-idle    # drain the queue, then exit",
        "runio worker app.py:client --log-format json 2>> worker.log",
    ),
)
@click.argument("app")
@_with_worker_options
@click.pass_obj
def worker(state: _State, /, app: str, log_format: str, **options: Any) -> None:
    """Run a worker for APP: claim and execute runs of its jobs until stopped.

    APP is module:client or path/to/file.py:client. With --debug, each run is printed as it
    pauses or ends."""
    _use_log_format(state, log_format)
    _run_worker(_app_client(state, app), command="worker", verbose=state.debug, **options)


@cli.command(
    short_help="Run APP locally, showing runs as they execute.",
    epilog=_examples(
        "runio dev app.py:client",
        "RUNIO_TIME_SCALE=0.001 runio dev app.py:client    # waits and retry delays 1000x shorter",
    ),
)
@click.argument("app")
@_with_worker_options
@with_server_options
@click.option("--no-dashboard", is_flag=True, help="Run the worker only.")
@click.pass_obj
def dev(
    state: _State,
    /,
    app: str,
    log_format: str,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    no_dashboard: bool,
    **options: Any,
) -> None:
    """Run APP locally: a worker that shows each run's tasks as they execute, and the
    dashboard (its URL is printed; not with --until-idle).

    In a terminal, the runs in flight are redrawn live (tasks appear as they start, durations
    tick); into a pipe or file, each task start and end is one line. A run that pauses prints
    its status, and a run that ends prints its task tree. Takes the same options as worker."""
    _use_log_format(state, log_format)
    # A worker that exits once idle (`--until-idle`) drains runs; it serves no dashboard.
    serving = not (no_dashboard or options["until_idle"])
    server = server_config(host, port, allowed_hosts) if serving else None
    _run_worker(
        _app_client(state, app),
        command="dev",
        verbose=True,
        progress=True,
        server=server,
        **options,
    )


@cli.command(
    "send-event",
    short_help="Send an event; print it and the runs it created.",
    epilog=_examples(
        'runio send-event new.user \'{"user_id": "u_1"}\' --app app.py:client',
        'runio send-event new.user \'{"user_id": "u_1"}\' --app-id my-app --id signup-u_1',
        "runio send-event report --app app.py:client --deliver-at 2026-01-01T09:00:00+00:00",
    ),
)
@click.argument("name")
@click.argument("payload", required=False, default="{}")
@click.option(
    "--app",
    "app",
    default=None,
    envvar="RUNIO_APP",
    help="APP (module:client or file.py:client), to validate the payload and find jobs.",
)
@click.option("--app-id", default=None, help="App id, when the app's code is not importable here.")
@click.option("--id", "event_id", default=None, help="Event id; sending the same id is a no-op.")
@click.option(
    "--deliver-at",
    default=None,
    help="ISO 8601 time with a timezone, e.g. 2026-01-01T09:00:00+00:00.",
)
@click.pass_obj
def send_event(
    state: _State,
    name: str,
    payload: str,
    app: str | None,
    app_id: str | None,
    event_id: str | None,
    deliver_at: str | None,
) -> None:
    """Send event NAME with a JSON PAYLOAD; print the event and the runs it created."""
    try:
        data = json.loads(payload, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as exc:
        raise click.BadParameter(
            f"the key {exc.key!r} appears twice in one object, so one of its values would be "
            "lost; give each key once",
            param_hint="PAYLOAD",
        ) from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc.msg} at position {exc.pos}); quote it for your shell, e.g. "
            '\'{"user_id": "u_1"}\'',
            param_hint="PAYLOAD",
        ) from None
    when = None
    if deliver_at is not None:
        try:
            when = datetime.fromisoformat(deliver_at)
        except ValueError:
            raise click.BadParameter(
                f"{deliver_at!r} is not an ISO 8601 time", param_hint="--deliver-at"
            ) from None
        if when.tzinfo is None:
            raise click.BadParameter("give a timezone, e.g. +00:00", param_hint="--deliver-at")
    if app is not None:
        client = _app_client(state, app)
    elif app_id is not None:
        client = state.ops_client(app_id)
    else:
        raise click.UsageError(
            "Say which app the event is for: --app module:client (or set RUNIO_APP), "
            "or --app-id ID."
        )
    event = client.send_event(name, data, id=event_id, deliver_at=when)
    click.echo(json.dumps({"id": event.id, "name": event.name, "run_ids": event.run_ids}))


@cli.group()
def runs() -> None:
    """List, inspect, cancel, retry and replay runs."""


@runs.command(
    "list",
    short_help="List runs, newest first.",
    epilog=_examples(
        "runio runs list --status failed --job new-user",
        "runio runs list --json --limit 100",
        "runio runs list | grep WAITING    # one tab-separated line per run in a pipe",
    ),
)
@click.option("--app-id", default=None, help="Only this app's runs (default: every app's).")
@click.option("--job", "job_id", default=None, help="Only this job's runs.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(
        ["QUEUED", "EXECUTING", "WAITING", "COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"],
        case_sensitive=False,
    ),
    help="Only runs in this status (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs to list at most.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (runs without their tasks).")
@click.pass_obj
def runs_list(
    state: _State,
    app_id: str | None,
    job_id: str | None,
    statuses: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List runs, newest first: in a terminal a table, into a pipe one tab-separated line per
    run (id, app, job, status, created, executions, duration)."""
    client = state.ops_client(app_id or "runio-cli")
    found = client.list_runs(
        job_id=job_id, status=list(statuses) or None, limit=limit, all_apps=app_id is None
    )
    if as_json:
        click.echo(json.dumps([run_json(r) for r in found], indent=2, ensure_ascii=False))
    elif not found:
        click.echo("No runs.")
    elif (out := console()).is_terminal:
        out.print(runs_table(found))
    else:
        click.echo("\n".join(runs_lines(found)))


@runs.command(
    "show",
    short_help="Show a run with its task tree.",
    epilog=_examples(
        "runio runs show run_0661703ab1961c4ff36f1a8916",
        "runio runs show run_0661703ab1961c4ff36f1a8916 --watch",
        "runio runs show run_0661703ab1961c4ff36f1a8916 --json | jq .tasks",
    ),
)
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole run as JSON.")
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="Follow the run until it ends (live in a terminal, a line per change in a pipe), "
    "then print it. With --json, only the final JSON is printed.",
)
@click.option(
    "--interval",
    type=_Seconds(min=0.05, max=3600),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the run with --watch.",
)
@click.pass_obj
def runs_show(state: _State, run_id: str, as_json: bool, watch: bool, interval: float) -> None:
    """Show RUN_ID with its task tree: status, attempts, durations and errors."""
    client = state.ops_client()
    run = client.get_run(run_id)
    if watch:
        try:
            run = _watch(client, run, interval, show=not as_json)
        except KeyboardInterrupt:
            sys.exit(130)
    if as_json:
        click.echo(json.dumps(run_json(run), indent=2, ensure_ascii=False))
    else:
        console().print(run_tree(run))


def _watch(client: Client, run: Run, interval: float, *, show: bool = True) -> Run:
    """Look at ``run`` every ``interval`` seconds until it ends; return it as it ended.

    ``show``: meanwhile, redraw it live in a terminal, or print a line per change elsewhere."""
    out = console()
    if show and out.is_terminal:
        latest = [run]
        with Live(
            get_renderable=lambda: run_tree(latest[0], now=time.time()),
            console=out,
            refresh_per_second=4,
            transient=True,
        ):
            while latest[0].status not in _FINAL:
                time.sleep(interval)  # another process moves the run on: nothing to await
                latest[0] = client.get_run(run.id)
        return latest[0]
    seen: dict[str, tuple[str, int]] = {}
    while True:
        for line in _changes(run, seen) if show else ():
            out.print(line)
        if run.status in _FINAL:
            return run
        time.sleep(interval)
        run = client.get_run(run.id)


def _changes(run: Run, seen: dict[str, tuple[str, int]]) -> list[Text]:
    """One line per change since ``seen`` (updated): the run's status, then each task's."""
    lines: list[Text] = []
    if seen.get(run.id) != (run.status, run.execution_count):
        seen[run.id] = (run.status, run.execution_count)
        lines.append(Text.assemble(f"{run.id} ", status_text(run.status)))
    stack = list(reversed(run.tasks))
    while stack:
        task = stack.pop()
        stack.extend(reversed(task.children))
        state = (task.status, len(task.attempts))
        if seen.get(task.id) == state:
            continue
        seen[task.id] = state
        line = Text.assemble(f"{run.id} ", status_text(task.status), "  ", (task.name, "bold"))
        if len(task.attempts) > 1:
            line.append(f"  attempt {len(task.attempts)}")
        if task.ended_at is not None and task.started_at is not None:
            line.append(f"  {duration(task.started_at, task.ended_at)}", style="dim")
        lines.append(line)
    return lines


@runs.command(
    "cancel",
    short_help="Cancel a run.",
    epilog=_examples("runio runs cancel run_0661703b19460556629639d664"),
)
@click.argument("run_id")
@click.pass_obj
def runs_cancel(state: _State, run_id: str) -> None:
    """Cancel RUN_ID (an executing run stops at its next task boundary)."""
    run = state.ops_client().cancel_run(run_id)
    click.echo(f"run {run.id}: {run.status}")


@runs.command(
    "retry",
    short_help="Retry a failed run, reusing its completed tasks.",
    epilog=_examples("runio runs retry run_0661703ab5b371ccfd0b90b41d"),
)
@click.argument("run_id")
@click.pass_obj
def runs_retry(state: _State, run_id: str) -> None:
    """Retry a failed RUN_ID: completed tasks are reused, errored tasks attempted again."""
    run = state.ops_client().retry_run(run_id)
    click.echo(f"run {run.id}: {run.status} (a worker of app {run.app_id} will execute it)")


@runs.command(
    "replay",
    short_help="Start a new run for the same event.",
    epilog=_examples("runio runs replay run_0661703aad84fb8ceb205166b0"),
)
@click.argument("run_id")
@click.pass_obj
def runs_replay(state: _State, run_id: str) -> None:
    """Start a new run of RUN_ID's job for the same event."""
    run = state.ops_client().replay_run(run_id)
    click.echo(f"new run {run.id}: {run.status} (replay of {run_id})")


@cli.group()
def db() -> None:
    """The database schema."""


@db.command(
    "upgrade",
    epilog=_examples(
        "runio db upgrade",
        "runio --database-url postgresql://user@db.internal/runio db upgrade",
    ),
)
@click.pass_obj
def db_upgrade(state: _State) -> None:
    """Apply pending migrations."""
    client = state.ops_client(auto_migrate=False)
    applied = client._run_sync(client.store.upgrade())
    if applied:
        click.echo(f"{client.database_url}: applied {', '.join(applied)}")
    else:
        click.echo(f"{client.database_url}: already up to date")


cli.add_command(integrations)
cli.add_command(schedules)
cli.add_command(serve)
cli.add_command(keys)
cli.add_command(webhooks)


def main() -> None:
    cli(prog_name="runio")
