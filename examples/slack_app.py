"""The Slack example: announce a deploy with ``io.slack``.

Each Slack call is a task of the run (named, with the Slack icon and properties). The
announcement goes to a public channel the bot has not joined yet (``join_if_needed=True``
joins it as a subtask), and is posted once even if the worker dies mid-call: the message
carries the task's marker in its metadata, and a retry looks for it before posting again. It
runs against a real workspace (``SLACK_BOT_TOKEN=xoxb-... runio dev examples/slack_app.py:client``)
or against ``runio_slack.testing.FakeSlack`` (set ``SLACK_API_BASE`` to its URL), which is what
``examples/demo.py`` does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from runio_slack import Slack

import runio

client = runio.Client(id="examples-slack")
slack = Slack()  # SLACK_BOT_TOKEN (and SLACK_API_BASE) from the environment


class Deploy(BaseModel):
    service: str
    version: str
    channel: str  # a public channel's id
    author_email: str
    post_reminder_at: int  # Unix seconds: when to remind the channel to check the dashboards


@client.define_job(
    id="slack-deploy",
    name="Announce a deploy on Slack",
    version="1.0.0",
    trigger=runio.event_trigger(name="deploy.finished", schema=Deploy),
    integrations={"slack": slack},
)
async def announce(payload: Deploy, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    chat = io.use(slack)  # typed: mypy checks each wrapper's name and arguments
    author = await chat.lookup_user_by_email("author", email=payload.author_email)
    author_id = author["user"]["id"]
    posted = await chat.post_message(
        "announce",
        channel=payload.channel,
        text=f"{payload.service} {payload.version} is live",
        blocks=[
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{payload.service} {payload.version}* is live (by <@{author_id}>)",
                },
            }
        ],
        join_if_needed=True,
    )
    channel, ts = posted["channel"], posted["ts"]
    await chat.post_message(
        "details", channel=channel, thread_ts=ts, text=f"Run {ctx.run_id} did the rollout."
    )
    await chat.add_reaction("rocket", channel=channel, timestamp=ts, name="rocket")
    await chat.upload_file(
        "changelog",
        channel=channel,
        thread_ts=ts,
        content=f"{payload.service} {payload.version}\n- faster start\n- fewer retries\n",
        filename="CHANGELOG.txt",
        title=f"Changes in {payload.version}",
    )
    await chat.update_message(
        "mark-done",
        channel=channel,
        ts=ts,
        text=f"{payload.service} {payload.version} is live :white_check_mark:",
    )
    reminder = await chat.schedule_message(
        "reminder",
        channel=channel,
        post_at=payload.post_reminder_at,
        text=f"Dashboards look fine after {payload.service} {payload.version}?",
    )
    dm = await chat.open_conversation("dm", users=author_id)
    await chat.post_message(
        "thank-author", channel=dm["channel"]["id"], text=f"Thanks for shipping {payload.version}!"
    )
    return {"channel": channel, "ts": ts, "reminder": reminder["scheduled_message_id"]}
