"""The Slack trigger tests' world: an app whose jobs start from Slack's Events API, served by a
real uvicorn server on 127.0.0.1 (``web``) while a second client of the same app on the same
database runs its worker (``work``), and a FakeSlack that signs and delivers the events.

The test clock starts at the wall clock's now, because the fake signs with the time it sends
(as Slack does): moving the clock ahead makes what the fake signed stale, on the server's
clock."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runio_slack import AppMention, MemberJoinedChannel, Message, ReactionAdded, Slack
from runio_slack.testing import FakeSlack
from slack_helpers import TOKEN

import runio
from runio.plugins import create_plugin_manager
from runio.server import ServerConfig
from runio.testing import TestClock

# tests/server/server_harness.py: the uvicorn server in a thread the server tests use.
_SERVER_TESTS = str(Path(__file__).resolve().parents[2] / "server")
if _SERVER_TESTS not in sys.path:
    sys.path.append(_SERVER_TESTS)

from server_harness import LiveServer  # noqa: E402

SIGNING_SECRET = "d3f1c0ffee5ec7e7a11ce0b0b5161n9s"
APP = "slack-triggers"


def define_jobs(client: runio.Client, slack: Slack, general: str) -> None:
    """The app's jobs: each returns what its payload said, so tests read it from the run."""

    @client.define_job(
        id="answer-mention", trigger=slack.on_app_mention(), integrations={"slack": slack}
    )
    async def answer_mention(
        payload: AppMention, io: runio.IO, ctx: runio.RunContext
    ) -> dict[str, Any]:
        event = payload.event
        await io.use(slack).post_message(
            "reply",
            channel=event.channel,
            thread_ts=event.ts,
            text=f"Hi <@{event.user}>, on it.",
        )
        return {
            "text": event.text,
            "user": event.user,
            "channel": event.channel,
            "team": payload.team_id,
            "event_id": payload.event_id,
            "raw_keys": sorted(ctx.event.payload),
        }

    @client.define_job(id="general-message", trigger=slack.on_message(channel=general))
    async def general_message(payload: Message, io: runio.IO) -> dict[str, Any]:
        return {"text": payload.event.text, "user": payload.event.user}

    @client.define_job(id="any-message-incl-bots", trigger=slack.on_message(include_bots=True))
    async def any_message(payload: Message, io: runio.IO) -> dict[str, Any]:
        return {"text": payload.event.text, "bot_id": payload.event.bot_id}

    @client.define_job(id="eyes", trigger=slack.on_reaction_added("eyes"))
    async def eyes(payload: ReactionAdded, io: runio.IO) -> dict[str, Any]:
        return {"user": payload.event.user, "ts": payload.event.item.ts}

    @client.define_job(id="joined", trigger=slack.on_member_joined_channel())
    async def joined(payload: MemberJoinedChannel, io: runio.IO) -> dict[str, Any]:
        return {"user": payload.event.user, "channel": payload.event.channel}

    @client.define_job(id="channel-created", trigger=slack.on_event("channel_created"))
    async def channel_created(payload: dict[str, Any], io: runio.IO) -> dict[str, Any]:
        return {"name": payload["event"]["channel"]["name"]}


@dataclass
class Hooked:
    """One test's FakeSlack, the app's two clients, its server and database."""

    fake: FakeSlack
    slack: Slack
    web: runio.Client
    work: runio.Client
    clock: TestClock
    server: LiveServer
    database: Path

    @property
    def url(self) -> str:
        """The app's Slack endpoint: the Request URL of its Event Subscriptions."""
        return f"{self.server.url}/api/v1/webhooks/{self.slack.id}"

    def work_until_idle(self) -> None:
        self.work.run_worker(until_idle=True)

    def runs(self, job_id: str) -> list[runio.Run]:
        return self.work.list_runs(job_id=job_id, limit=1000)

    def outputs(self, job_id: str) -> list[Any]:
        return [run.output for run in reversed(self.runs(job_id))]

    def count(self, table: str) -> int:
        connection = sqlite3.connect(self.database)
        try:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            connection.close()

    def event_names(self) -> list[str]:
        connection = sqlite3.connect(self.database)
        try:
            return [row[0] for row in connection.execute("SELECT name FROM events ORDER BY rowid")]
        finally:
            connection.close()


@contextmanager
def hooked(tmp_path: Path, *, signing_secret: str | None = SIGNING_SECRET) -> Iterator[Hooked]:
    """Start the fake, the app (jobs defined on both clients) and its server."""
    database = tmp_path / "runio.db"
    clock = TestClock(start=float(int(time.time())))
    with FakeSlack(token=TOKEN, signing_secret=SIGNING_SECRET) as fake:
        slack = Slack(token=TOKEN, base_url=fake.url, signing_secret=signing_secret)
        clients = []
        for _ in range(2):
            client = runio.Client(
                APP,
                database_url=f"sqlite:///{database}",
                clock=clock,
                time_scale=1,
                plugins=create_plugin_manager(entry_points=False),
            )
            define_jobs(client, slack, fake.general_id)
            clients.append(client)
        web, work = clients
        server = LiveServer(web, ServerConfig(port=0)).start()
        try:
            yield Hooked(fake, slack, web, work, clock, server, database)
        finally:
            server.stop()
            work.close()
