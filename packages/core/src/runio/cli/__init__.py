"""The ``runio`` command line: workers, events, runs and the database.

Errors are printed as one readable paragraph; ``runio --debug ...`` shows the traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sys
from datetime import datetime
from typing import Any, NoReturn

import click
from rich.console import Console

from .. import __version__
from .._client import Client, _run_here
from .._render import run_json, run_tree, runs_lines, runs_table
from .._validate import MAX_GRACE_PERIOD, MAX_LEASE_SECONDS
from ..errors import InvalidPayloadError, RunioError
from ._app import load_app
from ._integrations import integrations
from ._schedules import schedules

err_console = Console(stderr=True, highlight=False)
_FINAL = {"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"}


class _State:
    def __init__(self, database_url: str | None, debug: bool) -> None:
        self.database_url = database_url
        self.debug = debug

    def ops_client(self, app_id: str = "runio-cli", **options: Any) -> Client:
        """A client for operations that need no app code (runs, db), closed with the command."""
        return _closing(Client(app_id, database_url=self.database_url, **options))


def _closing(client: Client) -> Client:
    click.get_current_context().call_on_close(client.close)
    return client


def _fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]Error:[/] {message}", soft_wrap=True)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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
]


def _with_worker_options(fn: Any) -> Any:
    for option in reversed(_worker_options):
        fn = option(fn)
    return fn


def _run_worker(client: Client, *, command: str, verbose: bool, **options: Any) -> None:
    console = Console(highlight=False)
    printing: set[asyncio.Task[None]] = set()

    async def print_run(run_id: str) -> None:
        with contextlib.suppress(RunioError):
            console.print(run_tree(await client.get_run_async(run_id)))

    def finished(run_id: str, status: str) -> None:
        if not verbose:
            return
        if status in _FINAL:
            task = asyncio.get_running_loop().create_task(print_run(run_id))
            printing.add(task)
            task.add_done_callback(printing.discard)
        else:
            console.print(f"run {run_id}: {status}")

    worker = client.worker(handle_signals=True, on_run_finished=finished, **options)
    console.print(
        f"[bold]runio {command}[/] app [cyan]{client.id}[/], "
        f"{len(client.jobs)} job(s), "
        f"database {client.database_url}, concurrency {worker.concurrency}. Ctrl-C to stop."
    )
    _run_here(worker.run())
    console.print(f"worker stopped after {worker.runs_finished} execution(s).")
    stuck = worker.abandoned_calls
    if stuck:
        # Python cannot interrupt a synchronous task function; its run was released, so the
        # process ends now instead of waiting for that thread at interpreter exit.
        console.print(
            f"{stuck} synchronous function call(s) still running were abandoned; their "
            "runs were released and will be retried by another worker."
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@cli.command()
@click.argument("app")
@_with_worker_options
@click.pass_obj
def worker(state: _State, /, app: str, **options: Any) -> None:
    """Run a worker for APP (module:client or path/to/file.py:client)."""
    _run_worker(_app_client(state, app), command="worker", verbose=state.debug, **options)


@cli.command()
@click.argument("app")
@_with_worker_options
@click.pass_obj
def dev(state: _State, /, app: str, **options: Any) -> None:
    """Run APP locally: a worker that prints every run's state as it changes."""
    _run_worker(_app_client(state, app), command="dev", verbose=True, **options)


@cli.command("send-event")
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


@runs.command("list")
@click.option("--app-id", default=None, help="Only this app's runs.")
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
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def runs_list(
    state: _State,
    app_id: str | None,
    job_id: str | None,
    statuses: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Newest runs first."""
    client = state.ops_client(app_id or "runio-cli")
    found = client.list_runs(
        job_id=job_id, status=list(statuses) or None, limit=limit, all_apps=app_id is None
    )
    if as_json:
        click.echo(json.dumps([run_json(r) for r in found], indent=2, ensure_ascii=False))
    elif not found:
        click.echo("No runs.")
    elif sys.stdout.isatty():
        Console(highlight=False).print(runs_table(found))
    else:
        click.echo("\n".join(runs_lines(found)))


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def runs_show(state: _State, run_id: str, as_json: bool) -> None:
    """Show RUN_ID with its task tree: status, attempts, durations and errors."""
    run = state.ops_client().get_run(run_id)
    if as_json:
        click.echo(json.dumps(run_json(run), indent=2, ensure_ascii=False))
    else:
        Console(highlight=False).print(run_tree(run))


@runs.command("cancel")
@click.argument("run_id")
@click.pass_obj
def runs_cancel(state: _State, run_id: str) -> None:
    """Cancel RUN_ID (an executing run stops at its next task boundary)."""
    run = state.ops_client().cancel_run(run_id)
    click.echo(f"run {run.id}: {run.status}")


@runs.command("retry")
@click.argument("run_id")
@click.pass_obj
def runs_retry(state: _State, run_id: str) -> None:
    """Retry a failed RUN_ID: completed tasks are reused, errored tasks attempted again."""
    run = state.ops_client().retry_run(run_id)
    click.echo(f"run {run.id}: {run.status} (a worker of app {run.app_id} will execute it)")


@runs.command("replay")
@click.argument("run_id")
@click.pass_obj
def runs_replay(state: _State, run_id: str) -> None:
    """Start a new run of RUN_ID's job for the same event."""
    run = state.ops_client().replay_run(run_id)
    click.echo(f"new run {run.id}: {run.status} (replay of {run_id})")


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
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


def main() -> None:
    cli(prog_name="runio")
