"""Writes whose answer was lost take effect once: Slack applied the post and the connection
dropped (or Slack answered 5xx), and the retry finds the task's marker in the history instead
of posting again. The lookup asks for metadata explicitly, pages through Slack's small pages,
and a rate-limited lookup waits durably instead of reposting. Rate limits on the write itself
wait the ``Retry-After`` on the test clock."""

from __future__ import annotations

import time
from typing import Any

from runio_slack import MARKER_KEY, Slack
from runio_slack.testing import FakeSlack
from slack_helpers import TOKEN, World


def paths(fake: FakeSlack) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in fake.requests]


def post(channel: str, text: str = "hello", **params: Any) -> Any:
    async def body(slack: Any) -> Any:
        return await slack.post_message("post", channel=channel, text=text, **params)

    return body


def test_a_post_applied_then_dropped_is_posted_once(world: World) -> None:
    fake = world.fake
    fake.drop_after_write(method="chat.postMessage")
    run = world.run(post(fake.general_id))
    assert run.status == "COMPLETED", run.error
    (message,) = fake.messages(fake.general_id)  # exactly one message
    assert run.output == {
        "ok": True,
        "channel": fake.general_id,
        "ts": message["ts"],
        "message": run.output["message"],
    }
    assert run.output["message"]["metadata"]["event_payload"][MARKER_KEY].startswith("runio-")
    attempts = run.task("post").attempts
    assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"]
    assert attempts[0].error is not None and attempts[0].error.get("outcome_unknown") is True
    assert paths(fake) == ["chat.postMessage", "auth.test", "conversations.history"]
    (lookup,) = [r for r in fake.requests if r.path == "/api/conversations.history"]
    params = lookup.form()
    assert params["include_all_metadata"] == "1"  # metadata must be asked for
    assert float(params["oldest"]) <= float(message["ts"])


def test_a_post_that_never_arrived_is_posted_after_looking(world: World) -> None:
    fake = world.fake
    fake.fail_next(503, method="chat.postMessage")  # not applied, but that cannot be known
    run = world.run(post(fake.general_id))
    assert run.status == "COMPLETED", run.error
    assert world.texts() == ["hello"]
    assert paths(fake) == [
        "chat.postMessage",
        "auth.test",
        "conversations.history",
        "chat.postMessage",
    ]


def test_a_reply_applied_then_dropped_is_found_in_its_thread(world: World) -> None:
    fake = world.fake
    parent = fake.add_message(fake.general_id, "parent")["ts"]
    fake.drop_after_write(method="chat.postMessage")
    run = world.run(post(fake.general_id, "reply", thread_ts=parent))
    assert run.status == "COMPLETED", run.error
    assert world.texts(thread_ts=parent) == ["parent", "reply"]
    assert "conversations.replies" in paths(fake)
    assert run.output["message"]["thread_ts"] == parent


def test_the_lookup_ignores_other_tasks_messages_and_pages_through_small_pages(
    world: World,
) -> None:
    with FakeSlack(token=TOKEN, history_page_cap=15) as strict:
        world.slack = Slack(token=TOKEN, base_url=strict.url)
        channel = strict.general_id
        strict.drop_after_write(method="chat.postMessage")
        run_id = world.start(post(channel, "mine"))
        world.work()  # the post is applied and its answer dropped
        assert [m["text"] for m in strict.messages(channel)] == ["mine"]
        # Then 40 more messages arrive, some of them marked by other tasks.
        for i in range(40):
            metadata = {"event_type": "runio_task", "event_payload": {MARKER_KEY: f"runio-{i}"}}
            strict.add_message(channel, f"noise {i}", metadata=metadata)
        run = world.drive(run_id)
        assert run.status == "COMPLETED", run.error
        texts = [m["text"] for m in strict.messages(channel)]
        assert texts.count("mine") == 1
        assert run.output["message"]["text"] == "mine"
        pages = [r for r in strict.requests if r.path == "/api/conversations.history"]
        assert len(pages) == 3  # 41 messages in pages of 15, newest first


def test_a_rate_limited_lookup_waits_durably_and_never_reposts(world: World) -> None:
    fake, clock = world.fake, world.clock
    fake.drop_after_write(method="chat.postMessage")
    fake.fail_next(429, retry_after=60, method="conversations.history")
    run_id = world.start(post(fake.general_id))
    world.work()  # the post: applied, answer dropped; a retry is due after the backoff
    run = world.client.get_run(run_id)
    assert run.status == "WAITING"
    assert run.ready_at is not None
    clock.advance(seconds=run.ready_at - clock.now())
    world.work()  # the lookup: 429
    run = world.client.get_run(run_id)
    assert run.status == "WAITING"
    task = run.task("post")
    assert task.retry_at is not None
    assert abs(task.retry_at - (clock.now() + 60)) <= 1.5
    assert world.texts() == ["hello"]
    clock.advance(seconds=59)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING", "retried before Retry-After"
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert world.texts() == ["hello"]  # found, never posted again
    assert paths(fake).count("chat.postMessage") == 1
    assert [a.status for a in run.task("post").attempts] == ["ERRORED", "ERRORED", "COMPLETED"]


def test_a_rate_limited_post_waits_retry_after_on_the_clock(world: World) -> None:
    fake, clock = world.fake, world.clock
    fake.fail_next(429, retry_after=30, method="chat.postMessage")
    run_id = world.start(post(fake.general_id))
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING"
    task = run.task("post")
    assert task.retry_at is not None
    assert abs(task.retry_at - (clock.now() + 30)) <= 1.5
    assert "ratelimited" in str(task.attempts[0].error)
    clock.advance(seconds=29)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING"
    clock.advance(seconds=1)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    assert world.texts() == ["hello"]
    # A rate limit is a known outcome: no lookup before the second post.
    assert paths(fake) == ["chat.postMessage", "chat.postMessage"]


def test_a_scheduled_message_applied_then_dropped_is_scheduled_once(world: World) -> None:
    fake = world.fake
    post_at = int(time.time()) + 3600
    fake.drop_after_write(method="chat.scheduleMessage")

    async def body(slack: Any) -> Any:
        return await slack.schedule_message(
            "later", channel=fake.general_id, post_at=post_at, text="standup"
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (scheduled,) = fake.scheduled
    assert run.output["scheduled_message_id"] == scheduled["id"]
    assert "chat.scheduledMessages.list" in paths(fake)


def test_an_upload_applied_then_dropped_is_shared_once(world: World) -> None:
    fake = world.fake
    fake.drop_after_write(method="files.completeUploadExternal")

    async def body(slack: Any) -> Any:
        return await slack.upload_file(
            "notes", channel=fake.general_id, content="notes", filename="notes.txt"
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    shared = [f for f in fake.files.values() if f["shared"]]
    assert len(shared) == 1
    assert run.output["file"]["id"] == shared[0]["id"]
    assert len(fake.messages(fake.general_id)) == 1


def test_a_delete_applied_then_dropped_counts_as_done(world: World) -> None:
    fake = world.fake
    ts = fake.add_message(fake.general_id, "oops")["ts"]
    fake.drop_after_write(method="chat.delete")

    async def body(slack: Any) -> Any:
        return await slack.delete_message("delete", channel=fake.general_id, ts=ts)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output == {"ok": True, "channel": fake.general_id, "ts": ts}
    assert fake.messages(fake.general_id) == []


def test_a_reaction_applied_then_dropped_counts_as_done(world: World) -> None:
    fake = world.fake
    ts = fake.add_message(fake.general_id, "ship it")["ts"]
    fake.drop_after_write(method="reactions.add")

    async def body(slack: Any) -> Any:
        return await slack.add_reaction(
            "rocket", channel=fake.general_id, timestamp=ts, name="rocket"
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert fake.messages(fake.general_id)[0]["reactions"][0]["count"] == 1


def test_an_ephemeral_message_is_at_least_once(world: World) -> None:
    fake = world.fake
    ada = fake.add_user("ada@example.com")
    fake.drop_after_write(method="chat.postEphemeral")

    async def body(slack: Any) -> Any:
        return await slack.post_ephemeral("psst", channel=fake.general_id, user=ada, text="psst")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    # Nothing to look for: posted again, as docs/integrations/slack.md says.
    assert [e["text"] for e in fake.ephemeral] == ["psst", "psst"]


def test_a_post_slack_applied_and_answered_with_a_5xx_is_posted_once(world: World) -> None:
    fake = world.fake
    fake.fail_after_write(500, error="internal_error", method="chat.postMessage")
    run = world.run(post(fake.general_id))
    assert run.status == "COMPLETED", run.error
    assert world.texts() == ["hello"]
    attempts = run.task("post").attempts
    assert [a.status for a in attempts] == ["ERRORED", "COMPLETED"]
    assert "internal_error" in str(attempts[0].error)
    assert paths(fake).count("chat.postMessage") == 1


def test_a_post_under_a_custom_username_is_found_by_its_bot_id(world: World) -> None:
    fake = world.fake
    fake.drop_after_write(method="chat.postMessage")
    run = world.run(post(fake.general_id, username="Deploy Bot"))
    assert run.status == "COMPLETED", run.error
    (message,) = fake.messages(fake.general_id)
    assert message["username"] == "Deploy Bot" and "user" not in message
    assert run.output["ts"] == message["ts"]
    found = {p["label"]: p["text"] for p in run.task("post").output_properties}
    assert "Found" in found  # the task says it returned the earlier attempt's message


def test_join_if_needed_then_a_dropped_post_joins_once_and_posts_once(world: World) -> None:
    fake = world.fake
    public = fake.add_channel("announcements", bot_member=False)
    fake.drop_after_write(method="chat.postMessage")  # not the refused first post: the second
    run = world.run(post(public, join_if_needed=True))
    assert run.status == "COMPLETED", run.error
    assert [m["text"] for m in fake.messages(public)] == ["hello"]
    assert paths(fake).count("conversations.join") == 1
    assert paths(fake).count("chat.postMessage") == 2  # refused, then applied and dropped
    task = run.task("post")
    assert [a.status for a in task.attempts] == ["ERRORED", "COMPLETED"]
    (join,) = task.children
    assert [a.status for a in join.attempts] == ["COMPLETED"]
