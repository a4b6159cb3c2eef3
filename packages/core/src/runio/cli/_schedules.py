"""``runio schedules APP``: the app's scheduled jobs, when each last fired and fires next.

Reads the app's code for the schedules and the database for the last fired ticks; writes
nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from .._client import Client, _run_here
from .._schedules import ScheduleTrigger, last_tick
from ._app import load_app


async def _rows(client: Client, count: int) -> list[dict[str, Any]]:
    now = client.clock.now()
    rows: list[dict[str, Any]] = []
    scheduled = [j for j in client.jobs.values() if isinstance(j.trigger, ScheduleTrigger)]
    if not scheduled:
        return rows
    store = await client._ready()
    for job in scheduled:
        trigger = job.trigger
        assert isinstance(trigger, ScheduleTrigger)
        last = await last_tick(store, client.id, job.id)
        rows.append(
            {
                "job": job.id,
                "schedule": trigger.describe(),
                "missed": trigger.missed,
                "max_catch_up": trigger.max_catch_up,
                "last_fired": None if last is None else trigger.local_time(last).isoformat(),
                "next": [t.isoformat() for t in trigger.next_times(now, count)],
            }
        )
    return rows


@click.command()
@click.argument("app")
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=1, max=1000),
    default=3,
    show_default=True,
    help="How many next fire times to show per job.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def schedules(ctx: click.Context, app: str, count: int, as_json: bool) -> None:
    """List APP's scheduled jobs and when each fires next.

    For each job with a cron_trigger or interval_trigger: its schedule, what happens to missed
    ticks, the last tick that fired and the next fire times.

    APP is module:client or path/to/file.py:client.
    """
    client = load_app(app)
    ctx.call_on_close(client.close)
    database_url = getattr(ctx.find_root().obj, "database_url", None)
    if database_url and client._store is None and client._database_url is None:
        client._database_url = database_url
    rows = _run_here(_rows(client, count))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            f"App {client.id!r} has no scheduled jobs. Give a job "
            "trigger=runio.cron_trigger('0 9 * * 1-5') or runio.interval_trigger(seconds=300) "
            "to run it on a schedule."
        )
        return
    now = datetime.fromtimestamp(client.clock.now(), UTC)
    click.echo(f"Scheduled jobs of app {client.id!r} (now {now:%Y-%m-%d %H:%M:%S} UTC):")
    for row in rows:
        missed = (
            "missed ticks: skip (only the latest fires)"
            if row["missed"] == "skip"
            else f"missed ticks: catch up (at most {row['max_catch_up']})"
        )
        click.echo(f"\n{row['job']}  {row['schedule']}, {missed}")
        click.echo(f"  last fired  {row['last_fired'] or 'never'}")
        for i, when in enumerate(row["next"]):
            click.echo(f"  {'next' if i == 0 else '':<10}  {when}")
