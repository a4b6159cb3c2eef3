"""The bot token reaches Slack and nowhere else: not the database (every text column of every
table, and the files on disk), not the logs (runio's and the slack_sdk's own, at DEBUG), not
the ``runio`` command's output, not a repr."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from integration_world import text_columns
from procs import Procs
from slack_helpers import TOKEN, World

import runio


def test_the_token_never_reaches_the_store_the_logs_or_the_cli(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)  # the slack_sdk logs requests and answers at DEBUG
    fake = world.fake
    echoed = {"messages": [f"[ERROR] token {TOKEN} may not post here"]}
    fake.fail_next(
        json={"ok": False, "error": "restricted_action", "response_metadata": echoed},
        method="chat.postEphemeral",
    )
    fake.drop_after_write(method="chat.postMessage")
    ada = fake.add_user("ada@example.com")

    async def body(slack: Any) -> Any:
        posted = await slack.post_message(  # dropped, then found by its marker
            "post", channel=fake.general_id, text=f"someone pasted {TOKEN}"
        )
        outcomes = []
        try:
            await slack.post_ephemeral("ephemeral", channel=fake.general_id, user=ada, text="x")
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)

        def leaky(client: Any, task: runio.Task) -> Any:
            raise RuntimeError(f"the vendor echoed the token {TOKEN}")

        try:
            await slack.run_task("leaky", leaky, params={"token": TOKEN})
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)
        return {"outcomes": outcomes, "ts": posted["ts"], "echo": posted["message"]["text"]}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(run.output["outcomes"]) == 2
    assert all("[redacted]" in message for message in run.output["outcomes"])
    assert "restricted_action" in run.output["outcomes"][0]
    assert run.output["echo"] == "someone pasted [redacted]"

    # It did reach Slack, with every request.
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in fake.requests)
    assert any(TOKEN in m["text"] for m in fake.messages(fake.general_id))
    # ...and the SDK logged what it sent and received, scrubbed.
    sdk_records = [r for r in caplog.records if r.name.startswith("slack_sdk")]
    assert any("[redacted]" in r.getMessage() for r in sdk_records)

    rows = text_columns(world.database)
    assert rows, "the database has no rows to scan"
    leaks = [(table, column) for table, column, value in rows if TOKEN in value]
    assert leaks == [], f"the token is stored in {leaks}"
    for path in world.database.parent.glob(world.database.name + "*"):
        assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path.name}"

    formatter = logging.Formatter("%(name)s %(message)s %(exc_info)s")
    for record in caplog.records:
        assert TOKEN not in formatter.format(record), f"the token was logged: {record}"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(world.slack)

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_BASE", fake.url)
    procs = Procs(tmp_path, f"sqlite:///{world.database}")
    outputs = {}
    commands = [
        ("runs", "show", run.id),
        ("runs", "show", run.id, "--json"),
        ("integrations", "list"),
    ]
    for args in commands:
        result = procs.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert TOKEN not in result.stdout + result.stderr, f"runio {' '.join(args)} printed it"
        outputs[args[-1]] = result.stdout
    assert "[redacted]" in outputs["--json"] and "restricted_action" in outputs["--json"]
    assert "runio-slack" in outputs["list"] and "io.slack" in outputs["list"]
