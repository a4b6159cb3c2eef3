"""Every Slack task wrapper in a real run, through the real ``slack_sdk`` against FakeSlack:
what reaches Slack, what the task returns and records (name, icon, properties, params), and
``post_message(join_if_needed=...)`` on a channel the bot is not in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from runio_slack import MARKER_KEY, Slack
from runio_slack.testing import FakeSlack
from slack_helpers import World
from slack_sdk import WebClient

import runio


def props(task: Any) -> dict[str, str]:
    return {p["label"]: p["text"] for p in task.properties}


def test_post_message_posts_once_with_the_tasks_marker(world: World) -> None:
    fake = world.fake

    async def body(slack: Any) -> Any:
        return await slack.post_message(
            "hello",
            channel=fake.general_id,
            text="Deployed *1.2.0*",
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Deployed"}}],
            unfurl_links=False,
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (message,) = fake.messages(fake.general_id)
    assert run.output["ok"] is True
    assert run.output["channel"] == fake.general_id
    assert run.output["ts"] == message["ts"]
    assert message["text"] == "Deployed *1.2.0*"
    assert message["blocks"][0]["type"] == "section"
    task = run.task("hello")
    assert task.name == "Post Message"
    assert task.icon == "slack"
    assert props(task) == {"Channel": fake.general_id}
    assert task.params["text"] == "Deployed *1.2.0*"
    assert task.params["unfurl_links"] is False
    marker = world.slack.marker(runio.Task(**_task_fields(task)))
    assert message["metadata"] == {
        "event_type": "runio_task",
        "event_payload": {MARKER_KEY: marker},
    }
    (sent,) = [r for r in fake.requests if r.path == "/api/chat.postMessage"]
    assert sent.json()["unfurl_links"] is False


def _task_fields(task: Any) -> dict[str, Any]:
    return {
        "id": task.id,
        "idempotency_key": task.idempotency_key,
        "attempt": len(task.attempts),
        "cache_key": task.cache_key,
        "run_id": task.run_id,
        "parent_id": task.parent_id,
        "params": task.params,
        "name": task.name,
    }


def test_post_message_keeps_the_callers_metadata(world: World) -> None:
    fake = world.fake

    async def body(slack: Any) -> Any:
        return await slack.post_message(
            "hello",
            channel=fake.general_id,
            text="order shipped",
            metadata={"event_type": "order_shipped", "event_payload": {"order": "o_1"}},
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    metadata = fake.messages(fake.general_id)[0]["metadata"]
    assert metadata["event_type"] == "order_shipped"
    assert metadata["event_payload"]["order"] == "o_1"
    assert metadata["event_payload"][MARKER_KEY].startswith("runio-")
    assert run.task("hello").params["metadata"] == {
        "event_type": "order_shipped",
        "event_payload": {"order": "o_1"},
    }


def test_bad_metadata_fails_at_once_and_says_why(world: World) -> None:
    async def body(slack: Any) -> Any:
        return await slack.post_message(
            "hello", channel=world.fake.general_id, text="x", metadata={"payload": 1}
        )

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("hello")
    assert len(task.attempts) == 1
    assert "metadata must be a dict {'event_type': str, 'event_payload': dict}" in str(run.error)
    assert world.fake.writes == []


def test_replies_in_a_thread_and_by_channel_name(world: World) -> None:
    fake = world.fake
    parent = fake.add_message(fake.general_id, "parent")["ts"]

    async def body(slack: Any) -> Any:
        reply = await slack.post_message(
            "reply", channel="#general", thread_ts=parent, text="in the thread"
        )
        return reply

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output["channel"] == fake.general_id
    assert world.texts(thread_ts=parent) == ["parent", "in the thread"]
    assert props(run.task("reply")) == {"Channel": "#general", "Thread": parent}


def test_not_in_channel_fails_without_join_if_needed(world: World) -> None:
    fake = world.fake
    public = fake.add_channel("announcements", bot_member=False)

    async def body(slack: Any) -> Any:
        return await slack.post_message("post", channel=public, text="hi")

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("post")
    assert len(task.attempts) == 1, "not_in_channel is permanent"
    assert "Slack chat.postMessage failed: not_in_channel" in str(run.error)
    assert "join_if_needed=True" in str(run.error)
    assert fake.messages(public) == []
    assert world.fake.bot_user_id not in fake.channels[public].members
    assert task.children == []


def test_join_if_needed_joins_as_a_subtask_and_posts(world: World) -> None:
    fake = world.fake
    public = fake.add_channel("announcements", bot_member=False)

    async def body(slack: Any) -> Any:
        return await slack.post_message("post", channel=public, text="hi", join_if_needed=True)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert [m["text"] for m in fake.messages(public)] == ["hi"]
    assert fake.bot_user_id in fake.channels[public].members
    task = run.task("post")
    assert [a.status for a in task.attempts] == ["COMPLETED"]
    (join,) = task.children
    assert join.name == "Join Conversation"
    assert join.icon == "slack"
    assert join.status == "COMPLETED"
    assert props(join) == {"Channel": public}
    assert join.output["channel"]["id"] == public
    methods = [r.path.rsplit("/", 1)[-1] for r in fake.requests]
    assert methods == ["chat.postMessage", "conversations.join", "chat.postMessage"]


def test_join_if_needed_by_channel_name(world: World) -> None:
    fake = world.fake
    public = fake.add_channel("announcements", bot_member=False)

    async def body(slack: Any) -> Any:
        return await slack.post_message(
            "post", channel="#announcements", text="hi", join_if_needed=True
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert [m["text"] for m in fake.messages(public)] == ["hi"]
    assert run.task("post").children[0].params == {"channel": public}


def test_join_if_needed_cannot_join_a_private_channel(world: World) -> None:
    fake = world.fake
    private = fake.add_channel("hr", private=True, bot_member=False)

    async def body(slack: Any) -> Any:
        return await slack.post_message("post", channel=private, text="hi", join_if_needed=True)

    run = world.run(body)
    assert run.status == "FAILED"
    assert "channel_not_found" in str(run.error)
    assert "invite the bot to a private channel" in str(run.error)
    assert run.task("post").children == []


def test_update_and_delete_message(world: World) -> None:
    fake = world.fake

    async def body(slack: Any) -> Any:
        posted = await slack.post_message("post", channel=fake.general_id, text="v1")
        updated = await slack.update_message(
            "update", channel=posted["channel"], ts=posted["ts"], text="v2"
        )
        assert world.texts() == ["v2"]
        deleted = await slack.delete_message("delete", channel=posted["channel"], ts=posted["ts"])
        return {"ts": posted["ts"], "updated": updated, "deleted": deleted}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output["updated"]["text"] == "v2"
    assert run.output["deleted"] == {"ok": True, "channel": fake.general_id, "ts": run.output["ts"]}
    assert fake.messages(fake.general_id) == []
    assert run.task("update").name == "Update Message"
    assert props(run.task("update")) == {"Channel": fake.general_id, "Message": run.output["ts"]}
    assert run.task("delete").name == "Delete Message"


def test_post_ephemeral(world: World) -> None:
    fake = world.fake
    ada = fake.add_user("ada@example.com")

    async def body(slack: Any) -> Any:
        return await slack.post_ephemeral("psst", channel=fake.general_id, user=ada, text="psst")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert [(e["user"], e["text"]) for e in fake.ephemeral] == [(ada, "psst")]
    assert run.output["message_ts"] == fake.ephemeral[0]["message_ts"]
    task = run.task("psst")
    assert task.name == "Post Ephemeral"
    assert props(task) == {"Channel": fake.general_id, "User": ada}


def test_schedule_message(world: World) -> None:
    fake = world.fake
    post_at = int(time.time()) + 3600

    async def body(slack: Any) -> Any:
        return await slack.schedule_message(
            "later", channel=fake.general_id, post_at=post_at, text="standup in 5"
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (scheduled,) = fake.scheduled
    assert run.output["scheduled_message_id"] == scheduled["id"]
    assert scheduled["post_at"] == post_at
    assert scheduled["message"]["metadata"]["event_payload"][MARKER_KEY].startswith("runio-")
    task = run.task("later")
    assert task.name == "Schedule Message"
    assert props(task)["Post at"].endswith("UTC")


def test_add_reaction(world: World) -> None:
    fake = world.fake
    ts = fake.add_message(fake.general_id, "ship it")["ts"]

    async def body(slack: Any) -> Any:
        return await slack.add_reaction(
            "rocket", channel=fake.general_id, timestamp=ts, name=":rocket:"
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert fake.messages(fake.general_id)[0]["reactions"][0]["name"] == "rocket"
    assert props(run.task("rocket")) == {
        "Channel": fake.general_id,
        "Message": ts,
        "Reaction": ":rocket:",
    }


def test_add_reaction_twice_is_slacks_error_on_a_plain_first_attempt(world: World) -> None:
    fake = world.fake
    ts = fake.add_message(fake.general_id, "ship it")["ts"]

    async def body(slack: Any) -> Any:
        await slack.add_reaction("first", channel=fake.general_id, timestamp=ts, name="rocket")
        return await slack.add_reaction(
            "second", channel=fake.general_id, timestamp=ts, name="rocket"
        )

    run = world.run(body)
    assert run.status == "FAILED"
    assert "already_reacted" in str(run.error)


def test_upload_file_text_and_path(world: World, tmp_path: Path) -> None:
    fake = world.fake
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n", encoding="utf-8")

    async def body(slack: Any) -> Any:
        text = await slack.upload_file(
            "notes",
            channel=fake.general_id,
            content="release notes",
            filename="notes.txt",
            title="Notes",
            initial_comment="Here are the notes",
        )
        path = await slack.upload_file("report", channel=fake.general_id, file=str(report))
        return {"text": text, "path": path}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    notes, csv = run.output["text"]["file"], run.output["path"]["file"]
    assert fake.files[notes["id"]]["content"] == b"release notes"
    assert fake.files[csv["id"]]["content"] == b"a,b\n1,2\n"
    assert csv["name"] == "report.csv"
    assert world.texts() == ["Here are the notes", ""]
    assert props(run.task("notes")) == {"Channel": fake.general_id, "File": "notes.txt"}
    assert run.task("notes").name == "Upload File"


def test_upload_file_needs_content_or_file(world: World) -> None:
    async def body(slack: Any) -> Any:
        return await slack.upload_file("nothing", channel=world.fake.general_id, filename="a")

    run = world.run(body)
    assert run.status == "FAILED"
    assert "exactly one of content= (text) or file=" in str(run.error)
    assert len(run.task("nothing").attempts) == 1


def test_open_conversation_and_lookup_user_by_email(world: World) -> None:
    fake = world.fake
    ada = fake.add_user("ada@example.com")

    async def body(slack: Any) -> Any:
        user = await slack.lookup_user_by_email("user", email="ada@example.com")
        dm = await slack.open_conversation("dm", users=[user["user"]["id"]])
        await slack.post_message("hello", channel=dm["channel"]["id"], text="hello Ada")
        return dm["channel"]["id"]

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert [m["text"] for m in fake.messages(run.output)] == ["hello Ada"]
    lookup = run.task("user")
    assert lookup.name == "Look Up User By Email"
    assert props(lookup) == {"Email": "ada@example.com"}
    assert {p["label"]: p["text"] for p in lookup.output_properties} == {"User": ada}
    assert props(run.task("dm")) == {"Users": ada}


def test_lookup_of_an_unknown_email_fails_at_once(world: World) -> None:
    async def body(slack: Any) -> Any:
        return await slack.lookup_user_by_email("user", email="nobody@example.com")

    run = world.run(body)
    assert run.status == "FAILED"
    assert "Slack users.lookupByEmail failed: users_not_found" in str(run.error)


def test_list_conversations_follows_cursors_up_to_the_limit(world: World) -> None:
    fake = world.fake
    for i in range(450):
        fake.add_channel(f"c{i:03d}", bot_member=False)

    async def body(slack: Any) -> Any:
        some = await slack.list_conversations("some", limit=250)
        everything = await slack.list_conversations("all", limit=1000)
        return {"some": some, "all": everything}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    some, everything = run.output["some"], run.output["all"]
    assert len(some["channels"]) == 250
    assert some["response_metadata"]["next_cursor"]
    assert len(everything["channels"]) == 451
    assert everything["response_metadata"]["next_cursor"] == ""
    pages = [r for r in fake.requests if r.path == "/api/conversations.list"]
    assert len(pages) == 2 + 3  # 200 + 50, then 200 + 200 + 51
    assert props(run.task("some")) == {"Types": "public_channel", "Limit": "250"}


def test_run_task_gets_an_authenticated_web_client(world: World) -> None:
    fake = world.fake

    async def body(slack: Any) -> Any:
        def call(client: WebClient, task: runio.Task) -> Any:
            assert isinstance(client, WebClient)
            return client.auth_test().data

        return await slack.run_task("whoami", call)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output["user_id"] == fake.bot_user_id
    assert run.task("whoami").icon == "slack"


def test_run_task_errors_are_translated(world: World) -> None:
    fake = world.fake

    async def body(slack: Any) -> Any:
        return await slack.run_task(
            "pins", lambda client, task: client.conversations_join(channel="C404404404").data
        )

    run = world.run(body)
    assert run.status == "FAILED"
    assert "Slack conversations.join failed: channel_not_found" in str(run.error)
    assert len(run.task("pins").attempts) == 1
    assert fake.writes == []


def test_typed_use_of_the_instance(world: World) -> None:
    fake = world.fake
    slack = world.slack

    @world.client.define_job(
        id="typed", trigger=runio.event_trigger("typed"), integrations={"slack": slack}
    )
    async def typed(payload: Any, io: runio.IO) -> str:
        posted = await io.use(slack).post_message("hi", channel=fake.general_id, text="typed")
        return str(posted["ts"])

    run_id = world.client.send_event("typed", {}).run_ids[0]
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert world.texts() == ["typed"]


@pytest.mark.parametrize("env_token", [True, False])
def test_settings_from_arguments_or_the_environment(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, env_token: bool
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_API_BASE", fake.url)
    if env_token:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        slack = Slack()
    else:
        slack = Slack(token=fake.token)
    client = slack.create_client()
    assert client.base_url == fake.url + "/api/"
    assert client.retry_handlers == []
    assert client.auth_test()["user_id"] == fake.bot_user_id


def test_a_wrong_token_fails_at_once_and_says_what_to_fix(world: World) -> None:
    wrong = Slack(id="wrong", token="xoxb-not-the-right-one", base_url=world.fake.url)

    async def body(slack: Any) -> Any:
        return await slack.post_message("post", channel=world.fake.general_id, text="hi")

    run = world.run(body, integration=wrong)
    assert run.status == "FAILED"
    task = run.task("post")
    assert len(task.attempts) == 1
    assert "Slack chat.postMessage failed: invalid_auth" in str(run.error)
    assert "SLACK_BOT_TOKEN" in str(run.error)
    assert world.fake.messages(world.fake.general_id) == []
