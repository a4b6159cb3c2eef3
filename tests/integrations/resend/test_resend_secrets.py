"""The API key reaches Resend and nowhere else: not the database (every text column of every
table, and the files on disk), not the logs (runio's, the SDK's, httpx's), not the CLI's output
(``runio runs show``, ``runio integrations list``), not a repr."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from click.testing import CliRunner
from integration_world import text_columns
from resend_helpers import API_KEY, World

import runio
from runio.cli import cli


def test_the_api_key_never_reaches_the_store_the_logs_or_the_cli(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = world.fake
    # Resend echoes the key in an error, and in an email the job sends (a careless template).
    fake.fail_next(
        fake.error_response(403, f"API key {API_KEY} is invalid", name="invalid_api_key"),
        path="/contacts",
    )
    fake.drop_after_write(path="/emails")

    async def body(io_resend: Any) -> Any:
        sent = await io_resend.send_email(  # dropped, then replayed with the same key
            "welcome",
            from_="hi@acme.dev",
            to="ada@example.com",
            subject="Welcome",
            text=f"debug: {API_KEY}",
        )
        got = await io_resend.get_email("get", id=sent["id"])  # its text holds the key
        outcomes = []
        try:
            await io_resend.create_contact("contact", email="ada@example.com")
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)

        def leaky(client: Any, task: runio.Task) -> Any:
            raise RuntimeError(f"the vendor echoed the key {API_KEY}")

        try:
            await io_resend.run_task("leaky", leaky, params={"api_key": API_KEY})
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)
        return {"outcomes": outcomes, "text": got["text"]}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(run.output["outcomes"]) == 2
    assert all("[redacted]" in message for message in run.output["outcomes"])
    assert run.output["text"] == "debug: [redacted]"

    # It did reach Resend, with every request.
    assert all(r.header("Authorization") == f"Bearer {API_KEY}" for r in fake.requests)

    rows = text_columns(world.database)
    assert rows, "the database has no rows to scan"
    leaks = [(table, column) for table, column, value in rows if API_KEY in value]
    assert leaks == [], f"the API key is stored in {leaks}"
    assert run.task("welcome").params["text"] == "debug: [redacted]"
    for path in world.database.parent.glob(world.database.name + "*"):
        assert API_KEY.encode() not in path.read_bytes(), f"the API key is in {path.name}"

    formatter = logging.Formatter("%(name)s %(message)s %(exc_info)s")
    for record in caplog.records:
        assert API_KEY not in formatter.format(record), f"the API key was logged: {record}"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(world.resend)

    runner = CliRunner(
        env={"RUNIO_DATABASE_URL": f"sqlite:///{world.database}", "RESEND_API_KEY": API_KEY}
    )
    shown = runner.invoke(cli, ["runs", "show", run.id, "--json"], prog_name="runio")
    assert shown.exit_code == 0, (shown.output, shown.exception)
    assert json.loads(shown.stdout)["id"] == run.id
    assert API_KEY not in shown.output
    tree = runner.invoke(cli, ["runs", "show", run.id], prog_name="runio")
    assert tree.exit_code == 0 and "Send Email" in tree.output and API_KEY not in tree.output
    listed = runner.invoke(cli, ["integrations", "list", "--json"], prog_name="runio")
    assert listed.exit_code == 0, (listed.output, listed.exception)
    assert "resend" in listed.output and API_KEY not in listed.output
