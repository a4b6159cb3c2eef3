"""FakeSlack through the real ``slack_sdk.WebClient``: the methods the wrappers use answer as
Slack does (shapes, errors, history windows and cursors, metadata only on request), and its
faults (injected errors, rate limits, applied-then-dropped writes, held answers) behave as
documented."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest
from runio_slack.testing import FakeSlack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

TOKEN = "xoxb-fake-1-2-abcdefabcdefabcdef"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as server:
        yield server


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url + "/api/", retry_handlers=[])


def slack_error(call: object) -> SlackApiError:
    assert callable(call)
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def test_auth_test_names_the_bot(fake: FakeSlack, web: WebClient) -> None:
    answer = web.auth_test()
    assert answer["ok"] is True
    assert answer["user_id"] == fake.bot_user_id
    assert answer["bot_id"] == fake.bot_id
    assert answer["team_id"] == fake.team_id


def test_a_missing_or_wrong_token_is_refused(fake: FakeSlack) -> None:
    anonymous = WebClient(base_url=fake.url + "/api/", retry_handlers=[])
    assert slack_error(anonymous.auth_test).response["error"] == "not_authed"
    wrong = WebClient(token="xoxb-wrong", base_url=fake.url + "/api/", retry_handlers=[])
    error = slack_error(lambda: wrong.chat_postMessage(channel=fake.general_id, text="hi"))
    assert error.response.status_code == 200
    assert error.response["error"] == "invalid_auth"
    assert fake.messages(fake.general_id) == []
    # The token may also travel as a form parameter, as Slack allows.
    as_param = WebClient(base_url=fake.url + "/api/", retry_handlers=[])
    assert as_param.api_call("auth.test", params={"token": TOKEN})["ok"] is True


def test_json_form_and_query_parameters(fake: FakeSlack, web: WebClient) -> None:
    web.chat_postMessage(channel=fake.general_id, text="as json")  # the SDK sends JSON
    web.api_call("chat.postMessage", data={"channel": fake.general_id, "text": "as form"})
    web.api_call(
        "chat.postMessage",
        http_verb="GET",
        params={"channel": fake.general_id, "text": "as a GET"},
    )
    bodies = [r.header("Content-Type") for r in fake.requests]
    assert any(b and b.startswith("application/json") for b in bodies)
    assert any(b == "application/x-www-form-urlencoded" for b in bodies)
    assert [m["text"] for m in fake.messages(fake.general_id)] == ["as json", "as form", "as a GET"]


def test_post_message_answers_like_slack(fake: FakeSlack, web: WebClient) -> None:
    answer = web.chat_postMessage(
        channel=fake.general_id,
        text="Deploy finished",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* finished"}}],
        metadata={"event_type": "deploy", "event_payload": {"id": "d1"}},
    )
    assert answer["channel"] == fake.general_id
    assert answer["ts"] == answer["message"]["ts"]
    assert answer["message"]["bot_id"] == fake.bot_id
    assert answer["message"]["blocks"][0]["type"] == "section"
    assert float(answer["ts"]) == pytest.approx(time.time(), abs=60)
    by_name = web.chat_postMessage(channel="#general", text="by name")
    assert by_name["channel"] == fake.general_id
    assert float(by_name["ts"]) > float(answer["ts"])
    empty = slack_error(lambda: web.api_call("chat.postMessage", json={"channel": "general"}))
    assert empty.response["error"] == "no_text"


def test_history_returns_metadata_only_when_asked(fake: FakeSlack, web: WebClient) -> None:
    web.chat_postMessage(
        channel=fake.general_id,
        text="marked",
        metadata={"event_type": "runio_task", "event_payload": {"runio_marker": "m-1"}},
    )
    plain = web.conversations_history(channel=fake.general_id)["messages"]
    assert [m["text"] for m in plain] == ["marked"]
    assert "metadata" not in plain[0]
    full = web.conversations_history(channel=fake.general_id, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == {
        "event_type": "runio_task",
        "event_payload": {"runio_marker": "m-1"},
    }


def test_history_windows_limits_and_cursors(fake: FakeSlack, web: WebClient) -> None:
    stamps = [web.chat_postMessage(channel=fake.general_id, text=f"m{i}")["ts"] for i in range(7)]
    newest_first = web.conversations_history(channel=fake.general_id)["messages"]
    assert [m["ts"] for m in newest_first] == stamps[::-1]

    window = web.conversations_history(channel=fake.general_id, oldest=stamps[1], latest=stamps[5])
    assert [m["text"] for m in window["messages"]] == ["m4", "m3", "m2"]  # bounds excluded
    inclusive = web.conversations_history(
        channel=fake.general_id, oldest=stamps[1], latest=stamps[5], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m5", "m4", "m3", "m2", "m1"]

    seen, cursor, pages = [], None, 0
    while True:
        page = web.conversations_history(channel=fake.general_id, limit=3, cursor=cursor)
        pages += 1
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break
    assert pages == 3
    assert seen == [f"m{i}" for i in range(6, -1, -1)]

    # The SDK's own pagination follows the same cursors.
    texts = [
        m["text"]
        for page in web.conversations_history(channel=fake.general_id, limit=2)
        for m in page["messages"]
    ]
    assert texts == seen
    bad = slack_error(lambda: web.conversations_history(channel=fake.general_id, cursor="x!"))
    assert bad.response["error"] == "invalid_cursor"


def test_history_pages_are_capped_for_apps_outside_the_marketplace() -> None:
    with FakeSlack(token=TOKEN, history_page_cap=15) as fake:
        web = WebClient(token=TOKEN, base_url=fake.url + "/api/", retry_handlers=[])
        for i in range(20):
            fake.add_message(fake.general_id, f"m{i}")
        page = web.conversations_history(channel=fake.general_id, limit=200)
        assert len(page["messages"]) == 15
        assert page["has_more"] is True
        rest = web.conversations_history(
            channel=fake.general_id, limit=200, cursor=page["response_metadata"]["next_cursor"]
        )
        assert [m["text"] for m in rest["messages"]] == [f"m{i}" for i in range(4, -1, -1)]


def test_threads_and_replies(fake: FakeSlack, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=fake.general_id, text="parent")["ts"]
    first = web.chat_postMessage(channel=fake.general_id, text="r1", thread_ts=parent)
    assert first["message"]["thread_ts"] == parent
    web.chat_postMessage(
        channel=fake.general_id,
        text="r2",
        thread_ts=parent,
        metadata={"event_type": "t", "event_payload": {"k": "v"}},
    )
    history = web.conversations_history(channel=fake.general_id)["messages"]
    assert [m["text"] for m in history] == ["parent"]  # replies stay in their thread
    assert history[0]["reply_count"] == 2
    replies = web.conversations_replies(channel=fake.general_id, ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["parent", "r1", "r2"]
    assert all("metadata" not in m for m in replies)
    after = web.conversations_replies(
        channel=fake.general_id, ts=parent, oldest=first["ts"], include_all_metadata=True
    )["messages"]
    assert [m["text"] for m in after] == ["parent", "r2"]
    assert after[1]["metadata"]["event_payload"] == {"k": "v"}
    paged = web.conversations_replies(channel=fake.general_id, ts=parent, limit=2)
    assert paged["has_more"] is True
    rest = web.conversations_replies(
        channel=fake.general_id,
        ts=parent,
        limit=2,
        cursor=paged["response_metadata"]["next_cursor"],
    )
    assert [m["text"] for m in rest["messages"]] == ["r2"]
    missing = slack_error(lambda: web.conversations_replies(channel=fake.general_id, ts="1.0"))
    assert missing.response["error"] == "thread_not_found"
    broadcast = web.chat_postMessage(
        channel=fake.general_id, text="to all", thread_ts=parent, reply_broadcast=True
    )
    assert broadcast["message"]["subtype"] == "thread_broadcast"
    top = web.conversations_history(channel=fake.general_id)["messages"]
    assert [m["text"] for m in top] == ["to all", "parent"]


def test_channels_have_members(fake: FakeSlack, web: WebClient) -> None:
    public = fake.add_channel("random", bot_member=False)
    private = fake.add_channel("secret", private=True, bot_member=False)
    assert (
        slack_error(lambda: web.chat_postMessage(channel=public, text="x")).response["error"]
        == "not_in_channel"
    )
    assert (
        slack_error(lambda: web.conversations_history(channel=public)).response["error"]
        == "not_in_channel"
    )
    for target in (private, "C99999999"):
        error = slack_error(lambda target=target: web.chat_postMessage(channel=target, text="x"))
        assert error.response["error"] == "channel_not_found"
    assert (
        slack_error(lambda: web.conversations_join(channel=private)).response["error"]
        == "channel_not_found"
    )
    joined = web.conversations_join(channel=public)
    assert joined["channel"]["id"] == public and joined["channel"]["is_member"] is True
    again = web.conversations_join(channel=public)
    assert again["warning"] == "already_in_channel"
    web.chat_postMessage(channel=public, text="now a member")
    assert [m["text"] for m in fake.messages(public)] == ["now a member"]
    archived = fake.add_channel("old", archived=True)
    assert (
        slack_error(lambda: web.chat_postMessage(channel=archived, text="x")).response["error"]
        == "is_archived"
    )
    # conversations.* methods want ids, not names.
    assert (
        slack_error(lambda: web.conversations_history(channel="general")).response["error"]
        == "channel_not_found"
    )


def test_update_and_delete_own_messages_only(fake: FakeSlack, web: WebClient) -> None:
    ts = web.chat_postMessage(channel=fake.general_id, text="v1")["ts"]
    updated = web.chat_update(channel=fake.general_id, ts=ts, text="v2")
    assert updated["ts"] == ts and updated["text"] == "v2"
    assert fake.messages(fake.general_id)[0]["text"] == "v2"
    theirs = fake.add_message(fake.general_id, "by a human", user=fake.owner_id)["ts"]
    refused = slack_error(lambda: web.chat_update(channel=fake.general_id, ts=theirs, text="x"))
    assert refused.response["error"] == "cant_update_message"
    assert (
        slack_error(lambda: web.chat_delete(channel=fake.general_id, ts=theirs)).response["error"]
        == "cant_delete_message"
    )
    deleted = web.chat_delete(channel=fake.general_id, ts=ts)
    assert deleted["ts"] == ts and deleted["channel"] == fake.general_id
    assert [m["text"] for m in fake.messages(fake.general_id)] == ["by a human"]
    gone = slack_error(lambda: web.chat_delete(channel=fake.general_id, ts=ts))
    assert gone.response["error"] == "message_not_found"


def test_ephemeral_messages(fake: FakeSlack, web: WebClient) -> None:
    ada = fake.add_user("ada@example.com")
    answer = web.chat_postEphemeral(channel=fake.general_id, user=ada, text="only you")
    assert answer["message_ts"]
    assert fake.ephemeral == [
        {
            "channel": fake.general_id,
            "user": ada,
            "message_ts": answer["message_ts"],
            "text": "only you",
        }
    ]
    assert fake.messages(fake.general_id) == []  # never in the history
    elsewhere = fake.add_channel("ops")
    error = slack_error(lambda: web.chat_postEphemeral(channel=elsewhere, user=ada, text="x"))
    assert error.response["error"] == "user_not_in_channel"


def test_scheduled_messages(fake: FakeSlack, web: WebClient) -> None:
    post_at = int(time.time()) + 3600
    answer = web.chat_scheduleMessage(channel=fake.general_id, text="later", post_at=post_at)
    assert answer["scheduled_message_id"].startswith("Q")
    assert answer["post_at"] == post_at
    listed = web.chat_scheduledMessages_list(channel=fake.general_id)["scheduled_messages"]
    assert [(s["id"], s["text"], s["post_at"]) for s in listed] == [
        (answer["scheduled_message_id"], "later", post_at)
    ]
    past = slack_error(
        lambda: web.chat_scheduleMessage(
            channel=fake.general_id, text="x", post_at=int(time.time()) - 10
        )
    )
    assert past.response["error"] == "time_in_past"


def test_reactions(fake: FakeSlack, web: WebClient) -> None:
    ts = web.chat_postMessage(channel=fake.general_id, text="ship it")["ts"]
    assert web.reactions_add(channel=fake.general_id, timestamp=ts, name="rocket")["ok"]
    assert fake.messages(fake.general_id)[0]["reactions"] == [
        {"name": "rocket", "users": [fake.bot_user_id], "count": 1}
    ]
    twice = slack_error(
        lambda: web.reactions_add(channel=fake.general_id, timestamp=ts, name="rocket")
    )
    assert twice.response["error"] == "already_reacted"
    missing = slack_error(
        lambda: web.reactions_add(channel=fake.general_id, timestamp="1.0", name="rocket")
    )
    assert missing.response["error"] == "message_not_found"


def test_users_and_direct_messages(fake: FakeSlack, web: WebClient) -> None:
    ada = fake.add_user("ada@example.com", name="ada")
    assert web.users_lookupByEmail(email="ADA@example.com")["user"]["id"] == ada
    missing = slack_error(lambda: web.users_lookupByEmail(email="nobody@example.com"))
    assert missing.response["error"] == "users_not_found"
    opened = web.conversations_open(users=ada)
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "no_op" not in opened
    again = web.conversations_open(users=[ada])
    assert again["channel"]["id"] == dm and again["already_open"] is True
    web.chat_postMessage(channel=dm, text="hello Ada")
    assert [m["text"] for m in fake.messages(dm)] == ["hello Ada"]
    unknown = slack_error(lambda: web.conversations_open(users="U404"))
    assert unknown.response["error"] == "user_not_found"


def test_conversations_list_pages(fake: FakeSlack, web: WebClient) -> None:
    for name in ("a", "b", "c", "d"):
        fake.add_channel(name, bot_member=name != "b")
    fake.add_channel("hidden", private=True, bot_member=False)
    fake.add_channel("mine", private=True)
    names, cursor = [], None
    while True:
        page = web.conversations_list(limit=2, cursor=cursor)
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == ["general", "a", "b", "c", "d"]
    both = web.conversations_list(types="public_channel,private_channel")["channels"]
    assert [c["name"] for c in both] == ["general", "a", "b", "c", "d", "mine"]
    assert {c["name"]: c["is_member"] for c in both}["b"] is False


def test_files_upload_v2(fake: FakeSlack, web: WebClient) -> None:
    answer = web.files_upload_v2(
        channel=fake.general_id,
        content="col1,col2\n1,2\n",
        filename="report.csv",
        title="Report",
        initial_comment="Here is the report",
    )
    file = answer["file"]
    assert file["name"] == "report.csv" and file["title"] == "Report"
    assert fake.files[file["id"]]["content"] == b"col1,col2\n1,2\n"
    (message,) = fake.messages(fake.general_id)
    assert message["text"] == "Here is the report"
    assert [f["id"] for f in message["files"]] == [file["id"]]
    paths = [r.path for r in fake.requests]
    assert paths == [
        "/api/files.getUploadURLExternal",
        f"/upload/v1/{file['id']}",
        "/api/files.completeUploadExternal",
    ]
    assert fake.count("files.completeUploadExternal") == 1


def test_injected_errors_and_rate_limits(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_next(error="channel_not_found", method="chat.postMessage")
    web.auth_test()  # another method is not affected
    refused = slack_error(lambda: web.chat_postMessage(channel=fake.general_id, text="x"))
    assert refused.response.status_code == 200
    assert refused.response["error"] == "channel_not_found"
    fake.fail_next(429, retry_after=30)
    limited = slack_error(lambda: web.chat_postMessage(channel=fake.general_id, text="x"))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "30"
    assert limited.response["error"] == "ratelimited"
    fake.fail_next(503, times=2)
    for _ in range(2):
        assert slack_error(lambda: web.auth_test()).response.status_code == 503
    assert fake.messages(fake.general_id) == [] and fake.writes == []
    web.chat_postMessage(channel=fake.general_id, text="finally")
    assert [r.path for r in fake.writes] == ["/api/chat.postMessage"]


def test_a_dropped_write_was_applied(fake: FakeSlack, web: WebClient) -> None:
    fake.drop_after_write()
    web.conversations_history(channel=fake.general_id)  # reads are POSTs too, but not writes
    refused = slack_error(lambda: web.chat_postMessage(channel="C404", text="x"))
    assert refused.response["error"] == "channel_not_found"  # refused: answered, not dropped
    with pytest.raises(http.client.RemoteDisconnected):
        web.chat_postMessage(channel=fake.general_id, text="applied, answer lost")
    assert [m["text"] for m in fake.messages(fake.general_id)] == ["applied, answer lost"]
    (write,) = fake.writes
    assert write.outcome == "dropped"
    web.chat_postMessage(channel=fake.general_id, text="next one answered")
    assert len(fake.writes) == 2


def test_a_held_write_is_applied_before_its_answer(fake: FakeSlack, web: WebClient) -> None:
    hold = fake.hold_after_write(method="chat.postMessage")
    answers: list[str] = []
    poster = threading.Thread(
        target=lambda: answers.append(
            web.chat_postMessage(channel=fake.general_id, text="held")["ts"]
        )
    )
    poster.start()
    try:
        held = hold.wait_applied(timeout=10)
        assert held.path == "/api/chat.postMessage"
        assert answers == []
        # Slack has the message, and answers other calls while this answer is held.
        listed = web.conversations_history(channel=fake.general_id)["messages"]
        assert [m["text"] for m in listed] == ["held"]
    finally:
        hold.release()
        poster.join(10)
    assert answers == [fake.messages(fake.general_id)[0]["ts"]]


def test_a_write_can_fail_after_it_was_applied(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_after_write(500, method="chat.postMessage")
    web.conversations_join(channel=fake.general_id)  # another method is not affected
    error = slack_error(lambda: web.chat_postMessage(channel=fake.general_id, text="done anyway"))
    assert error.response.status_code == 500
    assert error.response["error"] == "internal_error"
    assert [m["text"] for m in fake.messages(fake.general_id)] == ["done anyway"]
    assert fake.count("chat.postMessage") == 1


def test_a_custom_username_makes_a_bot_message(fake: FakeSlack, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=fake.general_id, text="hi", username="Deploy Bot")
    message = parent["message"]
    assert message["subtype"] == "bot_message" and message["username"] == "Deploy Bot"
    assert "user" not in message and message["bot_id"] == fake.bot_id
    web.chat_postMessage(channel=fake.general_id, text="reply", thread_ts=parent["ts"])
    assert web.chat_update(channel=fake.general_id, ts=parent["ts"], text="edited")["ok"]
