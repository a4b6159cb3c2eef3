"""Slack's Events API starts jobs: FakeSlack signs and delivers events to a real runio server,
which verifies them (slack-sdk's ``SignatureVerifier``) and stores them; a worker runs the jobs
with typed payloads. Refused requests store nothing; Slack's retries start nothing twice."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from integration_world import text_columns
from runio_slack import Slack
from runio_slack.testing import EventSubscription, FakeSlack
from slack_helpers import TOKEN
from slack_hooks import SIGNING_SECRET, Hooked, LiveServer, hooked

from runio.errors import ConfigurationError, JobDefinitionError
from runio.server import ServerConfig


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Hooked]:
    with hooked(tmp_path) as made:
        yield made


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hooked]:
    """One app for the tests of requests it must refuse: none of them stores anything."""
    with hooked(tmp_path_factory.mktemp("refusing")) as made:
        yield made


def mention(app: Hooked, text: str = "deploy status?", **extra: Any) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": app.fake.owner_id,
        "text": f"<@{app.fake.bot_user_id}> {text}",
        "ts": "1800000000.000100",
        "channel": app.fake.general_id,
        "event_ts": "1800000000.000100",
        **extra,
    }


def sent_envelope(app: Hooked) -> dict[str, Any]:
    return json.loads(app.fake.webhook_deliveries[-1].body)  # type: ignore[no-any-return]


# -- the handshake -------------------------------------------------------------------------


def test_the_url_verification_challenge_is_answered_and_nothing_is_stored(app: Hooked) -> None:
    answer = app.fake.verify_url(app.url)
    challenge = sent_envelope(app)["challenge"]
    assert answer.status_code == 200
    assert answer.json() == {"challenge": challenge}
    assert app.count("events") == 0
    subscription = app.fake.subscribe(app.url, ["app_mention"])  # Slack saves the URL
    assert subscription.url == app.url


def test_an_app_with_another_signing_secret_refuses_the_challenge_so_the_url_stays_unverified(
    tmp_path: Path,
) -> None:
    with hooked(tmp_path, signing_secret="the-secret-of-another-app") as app:
        answer = app.fake.verify_url(app.url)
        assert answer.status_code == 401
        assert "challenge" not in answer.text
        with pytest.raises(ValueError, match="didn't respond with the value of the challenge"):
            app.fake.subscribe(app.url, ["app_mention"])
        assert app.fake.event_subscription is None


def test_app_rate_limited_is_acknowledged_and_stores_nothing(
    app: Hooked, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(
        {
            "token": app.fake.verification_token,
            "type": "app_rate_limited",
            "team_id": app.fake.team_id,
            "minute_rate_limited": 1800000000,
            "api_app_id": app.fake.app_id,
        }
    ).encode()
    with caplog.at_level(logging.WARNING, logger="runio_slack"):
        assert app.fake.send_signed(app.url, body).status_code == 200
    assert app.count("events") == 0
    assert "rate-limited the events of app A0000APP01" in caplog.text


# -- events start jobs ---------------------------------------------------------------------


def test_a_mention_starts_the_job_with_a_typed_payload_and_the_raw_envelope(app: Hooked) -> None:
    app.fake.subscribe(app.url)
    posted = app.fake.user_posts(app.fake.general_id, f"<@{app.fake.bot_user_id}> is billing up?")
    assert [d.status for d in app.fake.webhook_deliveries[1:]] == [200, 200]  # message, mention
    app.work_until_idle()

    [mentioned] = app.outputs("answer-mention")
    assert mentioned["text"] == f"<@{app.fake.bot_user_id}> is billing up?"
    assert mentioned["user"] == app.fake.owner_id
    assert mentioned["channel"] == app.fake.general_id
    assert mentioned["team"] == app.fake.team_id
    assert mentioned["event_id"].startswith("Ev")
    # The raw envelope as Slack sent it, less the deprecated verification token.
    assert "token" not in mentioned["raw_keys"]
    assert {"event", "event_id", "event_time", "team_id", "api_app_id"} <= set(
        mentioned["raw_keys"]
    )
    [run] = app.runs("answer-mention")
    assert run.event_name == "slack:app_mention"
    assert run.event_id == f"slack:{mentioned['event_id']}"
    assert run.status == "COMPLETED"

    # The job answered in the thread...
    [reply] = app.fake.messages(app.fake.general_id, thread_ts=posted["ts"])[1:]
    assert reply["text"] == f"Hi <@{app.fake.owner_id}>, on it."
    # ...and Slack told the app about its own reply, which no trigger takes: acknowledged, and
    # not stored. Only the person's message was.
    assert app.fake.webhook_deliveries[-1].status == 200
    assert app.event_names().count("slack:message") == 1
    assert app.outputs("general-message") == [
        {"text": f"<@{app.fake.bot_user_id}> is billing up?", "user": app.fake.owner_id}
    ]


def test_the_api_lists_each_jobs_slack_event_and_what_it_skips(app: Hooked) -> None:
    jobs = {job["id"]: job for job in httpx.get(f"{app.server.url}/api/v1/jobs").json()["jobs"]}
    assert jobs["answer-mention"]["webhook"] == {
        "integration": "slack",
        "vendor": "Slack",
        "event_type": "app_mention",
        "skips": "the app's own events",
    }
    assert jobs["channel-created"]["webhook"] == {
        "integration": "slack",
        "vendor": "Slack",
        "event_type": "channel_created",
    }
    assert jobs["general-message"]["event_name"] == "slack:message"
    assert jobs["general-message"]["payload_filter"] == {
        "event": {"channel": [app.fake.general_id]}
    }
    assert jobs["general-message"]["webhook"]["skips"].startswith("the app's own events; bot")
    assert jobs["any-message-incl-bots"]["webhook"]["skips"].startswith("the app's own events; sub")


def test_a_raw_on_event_trigger_gets_the_envelope_as_a_dict(app: Hooked) -> None:
    event = {
        "type": "channel_created",
        "channel": {"id": "C0NEWCHAN1", "name": "launch", "created": 1800000000},
        "event_ts": "1800000000.000200",
    }
    assert app.fake.send_event(app.url, event).status_code == 200
    app.work_until_idle()
    assert app.outputs("channel-created") == [{"name": "launch"}]


def test_slack_retries_of_an_event_start_no_second_run(app: Hooked) -> None:
    first = app.fake.send_event(app.url, mention(app))
    assert first.status_code == 200 and first.json()["stored"] is True
    [run_id] = first.json()["run_ids"]
    for reason in ("http_timeout", "http_error", "connection_failed"):
        again = app.fake.retry_delivery(reason=reason)
        assert again.status_code == 200
        assert again.json()["run_ids"] == [run_id]
    retries = [d.headers.get("X-Slack-Retry-Num") for d in app.fake.webhook_deliveries]
    assert retries == [None, "1", "2", "3"]
    assert app.count("events") == 1
    app.work_until_idle()
    assert len(app.runs("answer-mention")) == 1


def test_events_the_server_failed_to_take_are_retried_by_the_fake_as_slack_does(
    tmp_path: Path,
) -> None:
    with hooked(tmp_path, signing_secret=None) as app:  # every delivery answered 503
        # The URL was verified when the app had its secret (subscribe() needs the challenge
        # answered); since then the secret went missing.
        app.fake.event_subscription = EventSubscription(app.url, frozenset({"app_mention"}))
        app.fake.user_posts(app.fake.general_id, f"<@{app.fake.bot_user_id}> hi")
        statuses = [
            (d.status, d.headers.get("X-Slack-Retry-Num")) for d in app.fake.webhook_deliveries
        ]
        assert statuses == [(503, None), (503, "1"), (503, "2"), (503, "3")]
        assert len(app.fake.undelivered_events) == 1
        assert app.count("events") == 0


# -- on_message: what people post ----------------------------------------------------------


def test_on_message_skips_bots_edits_and_other_channels(app: Hooked) -> None:
    general = app.fake.general_id
    elsewhere = app.fake.add_channel("random")
    app.fake.subscribe(app.url)
    app.fake.user_posts(general, "plain")
    app.fake.user_posts(elsewhere, "another channel")
    other_bot = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0OTHERBOT",
        "text": "CI passed",
        "ts": "1800000000.000300",
        "channel": general,
        "channel_type": "channel",
    }
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": general,
        "message": {"type": "message", "user": app.fake.owner_id, "text": "plain!"},
        "ts": "1800000000.000400",
    }
    shared = {
        "type": "message",
        "subtype": "file_share",
        "user": app.fake.owner_id,
        "text": "the log",
        "files": [{"id": "F0001", "name": "log.txt"}],
        "ts": "1800000000.000500",
        "channel": general,
    }
    for event in (other_bot, edited, shared):
        assert app.fake.send_event(app.url, event).status_code == 200
    app.work_until_idle()

    assert app.outputs("general-message") == [
        {"text": "plain", "user": app.fake.owner_id},
        {"text": "the log", "user": app.fake.owner_id},
    ]
    # include_bots=True takes other bots' messages, in any channel, still not edits.
    assert app.outputs("any-message-incl-bots") == [
        {"text": "plain", "bot_id": None},
        {"text": "another channel", "bot_id": None},
        {"text": "CI passed", "bot_id": "B0OTHERBOT"},
        {"text": "the log", "bot_id": None},
    ]


def test_the_apps_own_posts_start_no_message_or_mention_job_even_with_bots_included(
    app: Hooked,
) -> None:
    app.fake.subscribe(app.url, ["message.channels"])
    with httpx.Client(base_url=app.fake.url) as web_api:  # the bot posts through the Web API
        answer = web_api.post(
            "/api/chat.postMessage",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"channel": app.fake.general_id, "text": "deployed"},
        )
    assert answer.json()["ok"] is True
    assert sent_envelope(app)["event"]["bot_id"] == app.fake.bot_id
    assert app.fake.webhook_deliveries[-1].status == 200  # acknowledged...
    assert app.event_names() == []  # ...and not stored: no trigger takes the app's own post
    own_mention = mention(
        app, user=app.fake.bot_user_id, bot_id=app.fake.bot_id, app_id=app.fake.app_id
    )
    assert app.fake.send_event(app.url, own_mention).status_code == 200
    app.work_until_idle()
    assert app.runs("general-message") == []
    assert app.runs("any-message-incl-bots") == []
    assert app.runs("answer-mention") == []


# -- reactions and joins -------------------------------------------------------------------


def test_reactions_and_joins_start_their_jobs_but_not_the_apps_own_reaction(app: Hooked) -> None:
    general = app.fake.general_id
    app.fake.subscribe(app.url, ["reaction_added", "member_joined_channel"])
    message = app.fake.add_message(general, "ship it?", user=app.fake.owner_id)
    app.fake.user_reacts(general, message["ts"], ":eyes:")
    app.fake.user_reacts(general, message["ts"], "tada")  # another emoji: not this job's
    with httpx.Client(base_url=app.fake.url) as web_api:
        web_api.post(
            "/api/reactions.add",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"channel": general, "timestamp": message["ts"], "name": "eyes"},
        )
    newcomer = app.fake.add_user("grace@example.com", name="grace")
    team = app.fake.add_channel("team")
    app.fake.user_joins(team, newcomer, inviter=app.fake.owner_id)
    # Three reactions delivered; the other emoji and the app's own reaction match no trigger
    # and are acknowledged without being stored.
    assert [d.status for d in app.fake.webhook_deliveries].count(200) >= 3
    assert app.event_names().count("slack:reaction_added") == 1
    app.work_until_idle()
    assert app.outputs("eyes") == [{"user": app.fake.owner_id, "ts": message["ts"]}]
    assert app.outputs("joined") == [{"user": newcomer, "channel": team}]


# -- refusals ------------------------------------------------------------------------------


def _signed(app: Hooked, **options: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(app.fake.envelope(mention(app))).encode()
    return body, app.fake.sign(body, **options)


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("no signature", "no X-Slack-Signature header"),
        ("no timestamp", "no X-Slack-Request-Timestamp header"),
        ("no headers", "no X-Slack-Signature and no X-Slack-Request-Timestamp header"),
        ("wrong secret", "does not match"),
        ("body changed", "does not match"),
        ("v1 scheme", "does not match"),
        ("stale", "signed 301 s before it arrived"),
        ("future", "in the future"),
        ("timestamp not a number", "not Unix seconds"),
        ("not utf-8", "not UTF-8"),
    ],
)
def test_bad_signatures_are_refused_with_401_and_nothing_stored(
    refusing: Hooked, case: str, says: str
) -> None:
    app = refusing
    now = app.clock.now()
    body, headers = _signed(app, timestamp=now)
    if case == "no signature":
        del headers["X-Slack-Signature"]
    elif case == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif case == "no headers":
        headers = {}
    elif case == "wrong secret":
        headers = app.fake.sign(body, timestamp=now, secret="another-apps-secret")
    elif case == "body changed":
        body = body.replace(b"deploy status?", b"drop the table")
    elif case == "v1 scheme":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=")
    elif case == "stale":
        body, headers = _signed(app, timestamp=now - 301)
    elif case == "future":
        body, headers = _signed(app, timestamp=now + 400)
    elif case == "timestamp not a number":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    elif case == "not utf-8":
        body = b"\xff\xfe" + body
        headers = app.fake.sign(body, timestamp=now)
    answer = app.fake.deliver_webhook(app.url, body, headers)
    assert answer.status_code == 401
    assert says in answer.json()["detail"]
    assert app.count("events") == 0
    assert app.count("runs") == 0


def test_a_replayed_delivery_is_refused_once_stale_and_runs_nothing_twice_before(
    app: Hooked,
) -> None:
    assert app.fake.send_event(app.url, mention(app), timestamp=app.clock.now()).status_code == 200
    captured = app.fake.webhook_deliveries[-1]
    assert app.fake.replay(captured).status_code == 200  # within the window: a duplicate
    app.clock.advance(5 * 60 + 1)
    late = app.fake.replay(captured)
    assert late.status_code == 401
    assert "outside Slack's 5-minute window" in late.json()["detail"]
    assert app.count("events") == 1
    app.work_until_idle()
    assert len(app.runs("answer-mention")) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON"),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'{"type": "block_actions"}', "'block_actions'"),
        (b'{"type": "event_callback", "event_id": "Ev1"}', "no event with a type"),
        (b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": ""}}', "no event"),
        (b'{"type": "event_callback", "event": {"type": "app_mention"}}', "no event_id"),
        (b'{"type": "url_verification"}', "no challenge"),
        (b"", "not JSON"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_a_400_never_a_5xx(
    refusing: Hooked, body: bytes, says: str
) -> None:
    app = refusing
    answer = app.fake.send_signed(app.url, body, timestamp=app.clock.now())
    assert answer.status_code == 400
    assert says in answer.json()["detail"]
    assert app.count("events") == 0


def test_a_mention_that_fails_the_typed_payload_is_refused_not_lost_quietly(app: Hooked) -> None:
    answer = app.fake.send_event(app.url, {**mention(app), "text": ["not", "text"]})
    assert answer.status_code == 422
    assert "answer-mention" in answer.json()["detail"]
    assert app.count("events") == 0


@pytest.mark.parametrize("secret", [None, "   "])
def test_without_a_signing_secret_deliveries_are_503_and_say_what_to_set(
    tmp_path: Path, secret: str | None
) -> None:
    with hooked(tmp_path, signing_secret=secret) as app:
        answer = app.fake.send_event(app.url, mention(app))
        assert answer.status_code == 503
        assert "SLACK_SIGNING_SECRET" in answer.json()["detail"]
        assert app.count("events") == 0


# -- nothing lost, nothing leaked ----------------------------------------------------------


def test_a_burst_of_500_events_is_stored_whole(app: Hooked) -> None:
    events = [mention(app, text=f"number {n}") for n in range(500)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda event: app.fake.send_event(app.url, event), events))
    assert [a.status_code for a in answers] == [200] * 500
    assert app.count("events") == 500
    assert len(app.runs("answer-mention")) == 500
    ids = {a.json()["event_id"] for a in answers}
    assert len(ids) == 500


def test_the_signing_secret_and_verification_token_reach_no_log_and_no_table(
    app: Hooked, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        app.fake.subscribe(app.url)
        app.fake.user_posts(app.fake.general_id, f"<@{app.fake.bot_user_id}> hello")
        app.fake.send_event(app.url, mention(app), secret="wrong-secret")
        app.fake.send_signed(app.url, b"{broken", timestamp=app.clock.now())
        app.work_until_idle()
    assert app.count("runs") >= 2
    for secret in (SIGNING_SECRET, app.fake.verification_token):
        assert secret not in caplog.text
        assert all(secret not in value for _, _, value in text_columns(app.database))
    assert SIGNING_SECRET not in repr(app.slack)


# -- definitions ---------------------------------------------------------------------------


def test_trigger_definitions_say_what_is_wrong() -> None:
    slack = Slack(token=TOKEN, signing_secret=SIGNING_SECRET)
    with pytest.raises(JobDefinitionError, match="by id"):
        slack.on_message(channel="#general")
    with pytest.raises(JobDefinitionError, match="names no channel"):
        slack.on_app_mention(channel=[])
    with pytest.raises(JobDefinitionError, match="both narrow the same field"):
        slack.on_message(channel="C0123ABCD", filter={"event": {"channel": ["C0999ZZZZ"]}})
    with pytest.raises(JobDefinitionError, match="lists subtypes"):
        slack.on_message(subtypes="file_share")
    with pytest.raises(JobDefinitionError, match="event type"):
        slack.on_event("")
    with pytest.raises(JobDefinitionError, match="takes an emoji name"):
        slack.on_reaction_added(["eyes", "::"])
    with pytest.raises(JobDefinitionError, match="delivers its events as type 'message'"):
        slack.on_event("message.channels")
    trigger = slack.on_message(channel=["C0123ABCD", "C0456EFGH"], filter={"team_id": ["T1"]})
    assert trigger.name == "slack:message"
    assert trigger.filter == {"team_id": ["T1"], "event": {"channel": ["C0123ABCD", "C0456EFGH"]}}
    assert trigger.stored_info()["webhook"]["skips"] == (
        "the app's own events; bot messages; subtypes other than file_share, thread_broadcast, "
        "me_message"
    )
    reaction = slack.on_reaction_added([":eyes:", "tada"], channel="C0123ABCD")
    assert reaction.filter == {
        "event": {"reaction": ["eyes", "tada"], "item": {"channel": ["C0123ABCD"]}}
    }


def test_slack_has_no_api_for_event_subscriptions_so_registering_explains_the_app_page() -> None:
    slack = Slack(token=TOKEN, signing_secret=SIGNING_SECRET)
    assert Slack.webhook_help is not None and "Event Subscriptions" in Slack.webhook_help
    with pytest.raises(ConfigurationError, match="Request URL"):
        slack.register_webhook("https://example.com/api/v1/webhooks/slack", ["app_mention"])


# -- the example ---------------------------------------------------------------------------


def _load_example(name: str) -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "examples" / "slack_app.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_examples_mention_job_answers_in_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSlack(token=TOKEN) as fake:
        monkeypatch.setenv("RUNIO_DATABASE_URL", f"sqlite:///{tmp_path / 'runio.db'}")
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_BASE", fake.url)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", fake.signing_secret)
        web, work = _load_example("slack_app_web"), _load_example("slack_app_work")
        server = LiveServer(web.client, ServerConfig(port=0)).start()
        try:
            endpoint = f"{server.url}/api/v1/webhooks/slack"
            ts = work.mention_the_bot(fake, endpoint, fake.general_id)
            work.client.run_worker(until_idle=True)
        finally:
            server.stop()
            work.client.close()
        [run] = work.client.list_runs(job_id="slack-mention")
        assert run.status == "COMPLETED"
        [mention, reply] = fake.messages(fake.general_id, thread_ts=ts)
        assert reply["text"].startswith(f"<@{fake.owner_id}> on it (run {run.id}")
        assert mention["reactions"][0]["name"] == "eyes"


def test_the_fake_sends_a_channels_events_only_to_an_app_in_it_and_knows_slacks_event_names(
    app: Hooked,
) -> None:
    with pytest.raises(ValueError, match="unknown bot events \\['message'\\]"):
        app.fake.subscribe(app.url, ["message"])
    app.fake.subscribe(app.url, ["message.channels", "app_mention"])
    outside = app.fake.add_channel("outside", bot_member=False)
    app.fake.user_posts(outside, f"<@{app.fake.bot_user_id}> can you see this?")
    private = app.fake.add_channel("secret-plans", private=True)
    app.fake.user_posts(private, "not subscribed to message.groups")
    sent = len(app.fake.webhook_deliveries)
    assert sent == 1  # the challenge: no event from either channel
    app.fake.user_posts(app.fake.general_id, "hello")
    assert sent_envelope(app)["event"]["channel_type"] == "channel"
    assert app.event_names() == ["slack:message"]
