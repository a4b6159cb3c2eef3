"""A worker killed with SIGKILL right after Slack applied its post, before the answer came
back: a second worker finishes the run, finds the message by the task's marker, and the
channel holds exactly one message. The workers are real ``runio worker`` processes; FakeSlack
runs in the test process and holds the post's answer until the test has killed the worker."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from procs import running, sender, wait_for_status
from runio_slack import MARKER_KEY
from runio_slack.testing import FakeSlack
from slack_helpers import TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_APP = """
import runio
from runio_slack import Slack

client = runio.Client(id="slack-crash-app")


@client.define_job(
    id="announce",
    trigger=runio.event_trigger("announce"),
    integrations={"slack": Slack()},  # SLACK_BOT_TOKEN and SLACK_API_BASE from the environment
)
async def announce(payload: dict, io: runio.IO) -> str:
    posted = await io.slack.post_message("post", channel=payload["channel"], text="deployed")
    return posted["ts"]
"""


def test_a_message_is_posted_once_across_a_killed_worker(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP), encoding="utf-8")
    with (
        FakeSlack(token=TOKEN) as fake,
        running(tmp_path) as procs,
        sender(procs.database_url, "slack-crash-app", {"announce": "announce"}) as client,
    ):
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_BASE": fake.url}
        hold = fake.hold_after_write(method="chat.postMessage")
        run_id = client.send_event("announce", {"channel": fake.general_id}).run_ids[0]
        first = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="first", env=env
        )
        held = hold.wait_applied(timeout=30)
        assert len(fake.messages(fake.general_id)) == 1  # Slack has it; the worker has not heard
        first.send(signal.SIGKILL)
        assert first.wait_exit(10) == -signal.SIGKILL
        hold.release()

        second = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="second", env=env
        )
        (run,) = wait_for_status(
            client, [run_id], {"COMPLETED", "FAILED"}, timeout=60, detail=procs.outputs
        )
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()

    assert run.status == "COMPLETED", (run.error, procs.outputs())
    (message,) = fake.messages(fake.general_id)  # exactly one, though the post was attempted twice
    assert run.output == message["ts"]
    assert message["metadata"]["event_payload"][MARKER_KEY].startswith("runio-")
    task = run.task("post")
    assert len(task.attempts) == 2 and task.attempts[-1].status == "COMPLETED"
    posts = [r for r in fake.requests if r.path == "/api/chat.postMessage"]
    assert posts == [held]  # the second worker looked, found, and did not post
    assert any(r.path == "/api/conversations.history" for r in fake.requests)
    for proc in procs.started:
        assert TOKEN not in proc.output(), f"the token is in {proc.name}'s output"
