"""``runio serve APP``, and the server half of ``runio dev`` (a worker and the dashboard in one
event loop, the worker owning Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import click
from rich.console import Console

from .. import server as http
from .._client import Client, _run_here
from .._worker import Worker
from ..integrations._webhooks import webhook_triggers
from ..server import ServerConfig
from ._app import load_app
from ._console import examples, plain
from ._webhooks import endpoint_url

server_options = [
    click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        envvar="RUNIO_HOST",
        help="Address to listen on; beyond loopback an API key or password is required.",
    ),
    click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=8080,
        show_default=True,
        envvar="RUNIO_PORT",
        help="Port to listen on (0 picks a free one).",
    ),
    click.option(
        "--allowed-host",
        "allowed_hosts",
        multiple=True,
        help="A host name requests may use, e.g. runio.example.com (repeatable; default: "
        "loopback names on loopback, any elsewhere).",
    ),
]


def with_server_options(fn: Any) -> Any:
    for option in reversed(server_options):
        fn = option(fn)
    return fn


def server_config(host: str, port: int, allowed_hosts: tuple[str, ...]) -> ServerConfig:
    return ServerConfig(host=host, port=port, allowed_hosts=set(allowed_hosts) or None)


@click.command(
    short_help="Serve APP's JSON API and dashboard (no worker).",
    epilog=examples(
        "runio serve app.py:client                       # http://127.0.0.1:8080",
        "runio serve app.py:client --host 0.0.0.0 --allowed-host runio.example.com",
    ),
)
@click.argument("app")
@with_server_options
@click.pass_obj
def serve(state: Any, /, app: str, host: str, port: int, allowed_hosts: tuple[str, ...]) -> None:
    """Serve APP's JSON API (/api/v1) and dashboard, without a worker."""
    client = load_app(app)
    click.get_current_context().call_on_close(client.close)
    if state.database_url and client._store is None and client._database_url is None:
        client._database_url = state.database_url
    config = server_config(host, port, allowed_hosts)
    console = Console(highlight=False)

    async def main() -> None:
        server = await http.make_server(client, config, handle_signals=False)

        def stop() -> None:  # a second signal skips waiting for open connections
            server.force_exit = server.should_exit
            server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        serving = await server.start()
        console.print(
            f"[bold]runio serve[/] app [cyan]{client.id}[/], database {client.database_url}\n"
            f"dashboard: [bold]{server.url}/[/]  API: {server.url}/api/v1  Ctrl-C to stop."
        )
        print_webhooks(client, server.url, console)
        try:
            await serving
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        console.print("server stopped.")

    _run_here(main())


async def run_worker_with_server(
    client: Client, worker: Worker, config: ServerConfig, console: Console
) -> None:
    """Run ``worker`` and the server in this loop; the server stops when the worker does."""
    server = await http.make_server(client, config, handle_signals=False)
    serving = await server.start()
    console.print(f"dashboard: [bold]{server.url}/[/]")
    print_webhooks(client, server.url, console)
    try:
        await worker.run()
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def print_webhooks(client: Client, base_url: str, console: Console) -> None:
    """One line per webhook endpoint the app's triggers listen on (see ``runio webhooks``)."""
    for integration_id, pairs in sorted(webhook_triggers(list(client.jobs.values())).items()):
        types = sorted({trigger.event_type for _, trigger in pairs})
        console.print(
            f"webhooks: {plain(endpoint_url(base_url, integration_id))}  "
            f"({plain(pairs[0][1].integration.name)}: {plain(', '.join(types))})"
        )


def run_dev(client: Client, worker: Worker, config: ServerConfig, console: Console) -> None:
    _run_here(run_worker_with_server(client, worker, config, console))
