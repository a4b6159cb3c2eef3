"""``runio keys create|list|revoke``: API keys of the HTTP server (``runio serve``/``dev``).

A key is printed once, when it is created; the database keeps only a hash of it.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .._client import Client
from .._render import timestamp
from ..errors import ConfigurationError
from ..server._keys import create_key
from ._console import examples


def _client(state: Any) -> Client:
    client = Client("runio-cli", database_url=state.database_url)
    click.get_current_context().call_on_close(client.close)
    return client


@click.group(
    epilog=examples(
        "runio keys create ci-deployer        # prints the key once",
        "runio keys list",
        "runio keys revoke KEY_ID",
    )
)
def keys() -> None:
    """API keys for the server's JSON API and dashboard login."""


@keys.command("create", short_help="Create a key named NAME and print it (shown once).")
@click.argument("name")
@click.pass_obj
def keys_create(state: Any, name: str) -> None:
    """Create a key named NAME (who uses it) and print it: it is shown only this once."""
    client = _client(state)

    async def make() -> tuple[Any, str]:
        return await create_key(await client._ready(), name, now=client.clock.now())

    record, key = client._run_sync(make())
    click.echo(key)
    click.echo(
        f"API key {record.id} ({record.name}) created. Store it now: it is not shown again. "
        "Send it as `Authorization: Bearer <key>`; the API and dashboard now require a key.",
        err=True,
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def keys_list(state: Any, as_json: bool) -> None:
    """List the keys (never their secrets)."""
    client = _client(state)

    async def read() -> list[Any]:
        return await (await client._ready()).list_api_keys()

    found = client._run_sync(read())
    if as_json:
        rows = [
            {"id": k.id, "name": k.name, "created_at": k.created_at, "revoked_at": k.revoked_at}
            for k in found
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not found:
        click.echo("No API keys. Create one with `runio keys create NAME`.")
    else:
        for k in found:
            state_text = f"revoked {timestamp(k.revoked_at)}" if k.revoked_at else "active"
            click.echo(f"{k.id}\t{k.name}\tcreated {timestamp(k.created_at)}\t{state_text}")


@keys.command("revoke", short_help="Revoke the key KEY_ID: it stops working at once.")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(state: Any, key_id: str) -> None:
    """Revoke KEY_ID (as `runio keys list` shows it): it stops working at once."""
    client = _client(state)
    if key_id.startswith("runio_key_"):  # the whole key was pasted: take its id
        parts = key_id.split("_")
        key_id = f"{parts[1]}_{parts[2]}"

    async def revoke() -> Any:
        return await (await client._ready()).revoke_api_key(key_id, now=client.clock.now())

    record = client._run_sync(revoke())
    if record is None:
        raise ConfigurationError(
            f"No API key with id {key_id!r}; `runio keys list` shows the ids (key_...)."
        )
    click.echo(f"API key {record.id} ({record.name}) revoked at {timestamp(record.revoked_at)}.")
