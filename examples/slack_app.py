"""The Slack example: announce a deploy with ``io.slack``.

Each Slack call is a task of the run (named, with the Slack icon and properties). The
announcement goes to a public channel the bot has not joined yet (``join_if_needed=True``
joins it as a subtask), and is posted once even if the worker dies mid-call: the message
carries the task's marker in its metadata, and a retry looks for it before posting again. It
runs against a real workspace (``SLACK_BOT_TOKEN=xoxb-... runio dev examples/slack_app.py:client``)
or against ``runio_slack.testing.FakeSlack`` (set ``SLACK_API_BASE`` to its URL), which is what
``examples/demo.py`` does.

``answer_mention`` starts from Slack itself: when someone mentions the bot, Slack's Events API
posts the event to the app's endpoint (``/api/v1/webhooks/slack`` of ``runio dev`` or ``runio
serve``), which checks its signature with ``SLACK_SIGNING_SECRET``; the job answers in the
thread. ``mention_the_bot`` drives that through a ``FakeSlack``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from runio_slack import AppMention, Slack

import runio

if TYPE_CHECKING:
    from runio_slack.testing import FakeSlack

client = runio.Client(id="examples-slack")
slack = Slack()  # SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (and SLACK_API_BASE) from the environment


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


@client.define_job(
    id="slack-mention",
    name="Answer a mention on Slack",
    version="1.0.0",
    trigger=slack.on_app_mention(),  # Slack's app_mention events, signature checked
    integrations={"slack": slack},
)
async def answer_mention(
    payload: AppMention, io: runio.IO, ctx: runio.RunContext
) -> dict[str, Any]:
    chat = io.use(slack)
    event = payload.event  # typed: the mention's text, user, channel and ts
    await chat.add_reaction("seen", channel=event.channel, timestamp=event.ts, name="eyes")
    reply = await chat.post_message(
        "reply",
        channel=event.channel,
        thread_ts=event.ts,
        text=f"<@{event.user}> on it (run {ctx.run_id}, Slack event {payload.event_id}).",
    )
    return {"mentioned_by": event.user, "reply_ts": reply["ts"]}


def mention_the_bot(fake: FakeSlack, endpoint: str, channel: str) -> str:
    """Have someone mention the bot in ``channel`` of ``fake``, whose Event Subscriptions
    send ``app_mention`` to ``endpoint`` (the app's ``.../api/v1/webhooks/slack``, served with
    ``SLACK_SIGNING_SECRET`` set to ``fake.signing_secret`` before this module is imported).
    Returns the mention's ts: the job's reply is in its thread once a worker ran it."""
    fake.subscribe(endpoint, ["app_mention"])
    message = fake.user_posts(channel, f"<@{fake.bot_user_id}> is the billing deploy done?")
    return str(message["ts"])
