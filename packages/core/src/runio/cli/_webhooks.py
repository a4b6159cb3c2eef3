"""``runio webhooks APP``: where each integration's deliveries go, which events the app's jobs
listen to, and how to register the endpoint with the vendor (``--register`` does it where the
vendor's API allows).

Reads the app's code only; nothing is written to the database. Secrets are never printed, except
a signing secret the vendor creates while registering (Stripe shows it once): the user must copy
it into the server's environment.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import ConfigurationError, RunioError
from ..integrations import Integration
from ..integrations._webhooks import webhook_sources, webhook_triggers
from ._app import load_app
from ._console import console, error_text
from ._console import examples as _examples

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


def endpoint_url(base_url: str, integration_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/webhooks/{integration_id}"


def _secret_state(integration: Integration[Any]) -> dict[str, Any]:
    name = type(integration).webhook_secret_setting
    spec = type(integration).__runio_spec__.settings.get(name)  # type: ignore[attr-defined]
    configured = spec is not None and name not in _unset(integration, name)
    return {"setting": name, "env": getattr(spec, "env", None), "configured": configured}


def _unset(integration: Integration[Any], name: str) -> list[str]:
    try:
        integration.require_setting(name)
    except ConfigurationError:
        return [name]
    return []


def _rows(jobs: list[Any], base_url: str) -> list[dict[str, Any]]:
    triggers = webhook_triggers(jobs)
    rows = []
    for integration_id, integration in sorted(webhook_sources(jobs).items()):
        events: dict[str, list[str]] = {}
        for job, trigger in triggers.get(integration_id, []):
            events.setdefault(trigger.event_type, []).append(job.id)
        cls = type(integration)
        rows.append(
            {
                "integration": integration_id,
                "vendor": integration.name,
                "url": endpoint_url(base_url, integration_id),
                "events": [{"type": t, "jobs": j} for t, j in sorted(events.items())],
                "signing_secret": _secret_state(integration),
                "can_register": cls.register_webhook is not Integration.register_webhook,
                "how_to_register": cls.webhook_help,
            }
        )
    return rows


@click.command(
    short_help="List APP's webhook endpoints, their events, and register them.",
    epilog=_examples(
        "runio webhooks app.py:client",
        "runio webhooks app.py:client --url https://jobs.example.com",
        "runio webhooks app.py:client --register https://jobs.example.com --integration stripe",
    ),
)
@click.argument("app")
@click.option(
    "--url",
    "base_url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="The public base URL the server (runio serve or runio dev) is reached at.",
)
@click.option(
    "--register",
    "register_url",
    metavar="BASE_URL",
    help="Register the endpoints at BASE_URL with each vendor whose API allows it.",
)
@click.option(
    "--integration",
    "only",
    multiple=True,
    metavar="ID",
    help="Only this integration (by id; repeat for several).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def webhooks(
    ctx: click.Context,
    app: str,
    base_url: str,
    register_url: str | None,
    only: tuple[str, ...],
    as_json: bool,
) -> None:
    """List APP's webhook endpoints: one per integration whose webhooks reach it.

    For each integration its triggers name or its jobs declare: the endpoint URL (POST
    /api/v1/webhooks/<id> on the server), the vendor events the app's jobs listen to, whether
    the signing secret is set, and how to register the endpoint with the vendor. --register
    registers them through the vendor's API where it allows it (Stripe webhook endpoints,
    GitHub repository hooks) and prints what to do otherwise.

    APP is module:client or path/to/file.py:client.
    """
    client = load_app(app)
    ctx.call_on_close(client.close)
    url = register_url or base_url
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{url!r} is not a URL; give the server's base URL, e.g. https://jobs.example.com.",
            param_hint="--register" if register_url else "--url",
        )
    rows = _rows(list(client.jobs.values()), url)
    known = {row["integration"] for row in rows}
    unknown = sorted(set(only) - known)
    if unknown:
        raise click.BadParameter(
            f"no trigger or job of app {client.id!r} names integration(s) "
            f"{', '.join(unknown)}; integrations with webhooks: "
            f"{', '.join(sorted(known)) or 'none'}.",
            param_hint="--integration",
        )
    if only:
        rows = [row for row in rows if row["integration"] in only]
    if register_url:
        _register(client.jobs.values(), rows)
        return
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            f"App {client.id!r} has no jobs started by webhooks. Give a job a trigger from an "
            "integration, e.g. trigger=stripe.on_event('invoice.paid') (see docs/triggers.md)."
        )
        return
    click.echo(f"Webhook endpoints of app {client.id!r}:")
    for row in rows:
        secret = row["signing_secret"]
        where = f" ({secret['env']})" if secret["env"] else ""
        state = "set" if secret["configured"] else f"NOT SET: set {secret['setting']}{where}"
        click.echo(f"\n{row['vendor']} ({row['integration']})  {row['url']}")
        click.echo(f"  signing secret  {state}")
        for event in row["events"]:
            click.echo(f"  {event['type']:<30}  → {', '.join(event['jobs'])}")
        if not row["events"]:
            click.echo("  events          none start a job (runs may wait for them)")
        if row["can_register"]:
            click.echo(f"  register        runio webhooks {app} --register {url}")
        elif row["how_to_register"]:
            click.echo(f"  register        by hand: {row['how_to_register']}")


def _register(jobs: Any, rows: list[dict[str, Any]]) -> None:
    instances = webhook_sources(list(jobs))
    failed = False
    for row in rows:
        integration = instances[row["integration"]]
        events = [event["type"] for event in row["events"]]
        label = f"{row['vendor']} ({row['integration']})"
        if not events:
            click.echo(f"{label}: no trigger names its events; register the events runs wait for")
            click.echo(f"  by hand at {row['url']}: {row['how_to_register'] or ''}".rstrip(": "))
            continue
        if not row["can_register"]:
            click.echo(f"{label}: register {row['url']} by hand: {row['how_to_register']}")
            continue
        try:
            made = integration.register_webhook(row["url"], events)
        except RunioError as exc:
            console(stderr=True).print(error_text(f"{label}: {exc}"))
            failed = True
            continue
        except Exception as exc:  # the vendor's SDK said no: show it, register the others
            console(stderr=True).print(error_text(f"{label}: {type(exc).__name__}: {exc}"))
            failed = True
            continue
        click.echo(f"{label}: registered {made.url} for {', '.join(made.events)} (id {made.id}).")
        if made.secret:
            env = row["signing_secret"]["env"] or row["signing_secret"]["setting"]
            click.echo(
                f"  The vendor made this signing secret; it is shown once. Set it where the "
                f"server runs:\n  {env}={made.secret}"
            )
    if failed:
        raise SystemExit(1)
