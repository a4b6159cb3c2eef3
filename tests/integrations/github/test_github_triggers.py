"""GitHub's webhooks start jobs: signed deliveries from FakeGitHub (its hooks, notified when its
API opens an issue, adds a comment, moves a branch..., and ``send_event``) reach a real runio
server on 127.0.0.1, which verifies ``X-Hub-Signature-256`` and stores each as an event; a
worker then runs the jobs whose triggers match, with typed payloads. Refusals (401, 400) store
nothing; a redelivery (same ``X-GitHub-Delivery``) starts nothing twice; the secret is never
logged or stored."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import logging
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from github_helpers import REPO, TOKEN, sdk_client
from integration_world import text_columns
from runio_github import (
    GitHub,
    GitHubAPIError,
    GitHubEvent,
    IssueCommentEvent,
    IssuesEvent,
    PullRequestEvent,
    PushEvent,
    ReleaseEvent,
)
from runio_github.testing import FakeGitHub
from server_harness import LiveServer

import runio
from runio.errors import (
    ConfigurationError,
    IntegrationSettingError,
    JobDefinitionError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from runio.integrations import WebhookDelivery, WebhookReply, WebhookRequest
from runio.plugins import create_plugin_manager
from runio.server import ServerConfig
from runio.testing import TestClock

SECRET = "gh-hook-secret-7Qx2Lm9Rv4Tz"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "github_app.py"
EVENTS = ["issues", "issue_comment", "push", "pull_request", "release"]


def define_jobs(client: runio.Client, github: GitHub, seen: list[Any]) -> None:
    """The app: one job per trigger helper, each recording what it received."""

    @client.define_job(id="issue-opened", trigger=github.on_issue_opened(repo=REPO))
    async def issue_opened(payload: IssuesEvent, io: runio.IO, ctx: runio.RunContext) -> Any:
        seen.append(("issue-opened", payload, ctx.event.payload))
        return {
            "number": payload.issue.number,
            "title": payload.issue.title,
            "body": payload.issue.body,
            "by": payload.issue.user.login if payload.issue.user else None,
            "repo": payload.repository.full_name,
        }

    @client.define_job(id="issue-comment", trigger=github.on_issue_comment(repo=REPO))
    async def issue_comment(payload: IssueCommentEvent, io: runio.IO) -> Any:
        seen.append(("issue-comment", payload, None))
        return {"issue": payload.issue.number, "comment": payload.comment.body}

    @client.define_job(id="push-main", trigger=github.on_push(repo=REPO, branch="main"))
    async def push_main(payload: PushEvent, io: runio.IO) -> Any:
        seen.append(("push-main", payload, None))
        head = payload.head_commit.id if payload.head_commit else None
        return {"branch": payload.branch, "head": head, "commits": len(payload.commits)}

    @client.define_job(id="pr-opened", trigger=github.on_pull_request(repo=REPO))
    async def pr_opened(payload: PullRequestEvent, io: runio.IO) -> Any:
        seen.append(("pr-opened", payload, None))
        head = payload.pull_request.head.ref if payload.pull_request.head else None
        return {"number": payload.number, "head": head}

    @client.define_job(id="released", trigger=github.on_release_published(repo=REPO))
    async def released(payload: ReleaseEvent, io: runio.IO) -> Any:
        seen.append(("released", payload, None))
        return {"tag": payload.release.tag_name}

    @client.define_job(
        id="issue-closed", trigger=github.on_event("issues", action="closed", schema=GitHubEvent)
    )
    async def issue_closed(payload: GitHubEvent, io: runio.IO, ctx: runio.RunContext) -> Any:
        seen.append(("issue-closed", payload, None))
        return {"action": payload.action, "number": ctx.event.payload["issue"]["number"]}

    unconfigured = GitHub(id="unconfigured", token=TOKEN)  # no webhook secret anywhere

    @client.define_job(id="unconfigured-push", trigger=unconfigured.on_push())
    async def unconfigured_push(payload: PushEvent, io: runio.IO) -> Any:
        return payload.ref


@dataclass
class Live:
    """FakeGitHub, the app served by a real server (``web``) and worked by ``work``."""

    fake: FakeGitHub
    github: GitHub
    web: runio.Client
    work: runio.Client
    clock: TestClock
    database: Path
    server: LiveServer
    seen: list[Any] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/api/v1/webhooks/github"

    def events(self) -> list[tuple[str, str]]:
        """(id, name) of every stored event."""
        with sqlite3.connect(self.database) as db:
            return list(db.execute("SELECT id, name FROM events ORDER BY timestamp, id"))

    def run_count(self) -> int:
        with sqlite3.connect(self.database) as db:
            (count,) = db.execute("SELECT count(*) FROM runs").fetchone()
            return int(count)

    def outputs(self, job_id: str) -> list[Any]:
        self.work.run_worker(until_idle=True)
        runs = self.work.list_runs(job_id=job_id, limit=1000)
        assert all(run.status == "COMPLETED" for run in runs), [r.error for r in runs]
        return [run.output for run in reversed(runs)]

    def register(self) -> None:
        self.github.register_webhook(self.endpoint, EVENTS)
        self.fake.wait_for_webhooks()

    def issue_payload(self, number: int = 7, title: str = "Crash on start") -> dict[str, Any]:
        issue = {"number": number, "title": title, "body": "It crashes.", "user": {"login": "ann"}}
        return self.fake.event_payload(REPO, action="opened", issue=issue)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET", raising=False)
    clock = TestClock(start=1_800_000_000.0)
    database = tmp_path / "runio.db"

    def client() -> runio.Client:
        return runio.Client(
            "github-triggers",
            database_url=f"sqlite:///{database}",
            clock=clock,
            plugins=create_plugin_manager(entry_points=False),
        )

    with FakeGitHub(token=TOKEN, clock=clock.now) as fake:
        fake.add_repo(REPO)
        fake.add_repo("octo/other")
        github = GitHub(token=TOKEN, base_url=fake.url, webhook_secret=SECRET)
        seen: list[Any] = []
        web, work = client(), client()
        define_jobs(web, github, seen)
        define_jobs(work, github, seen)
        work.run_worker(until_idle=True)  # migrates the database and registers the jobs
        server = LiveServer(web, ServerConfig(port=0)).start()
        try:
            yield Live(fake, github, web, work, clock, database, server, seen)
        finally:
            server.stop()
            work.close()


# -- the whole path: the fake's hooks, the server, the worker --------------------------------------


def test_register_webhook_makes_a_signed_json_hook_that_github_pings(live: Live) -> None:
    registration = live.github.register_webhook(live.endpoint, EVENTS)
    hooks = live.fake.repo(REPO).hooks
    (hook,) = hooks.values()
    assert registration.id == f"{REPO}#{hook['id']}"
    assert registration.url == live.endpoint and list(registration.events) == EVENTS
    assert hook["config"]["url"] == live.endpoint
    assert hook["config"]["content_type"] == "json"
    assert hook["events"] == EVENTS and hook["active"]
    assert live.fake.repo(REPO).hook_secrets[hook["id"]] == SECRET
    assert not live.fake.repo("octo/other").hooks  # no trigger names it

    live.fake.wait_for_webhooks()
    (ping,) = live.fake.hook_deliveries
    assert (ping["event"], ping["status_code"], ping["status"]) == ("ping", 200, "OK")
    assert hook["last_response"]["code"] == 200
    assert live.events() == []  # a ping is answered, never stored

    # Registering again (new events, a new secret) updates the same hook.
    live.github.register_webhook(live.endpoint, ["issues", "release", "workflow_run"])
    (again,) = hooks.values()
    assert again["id"] == hook["id"]
    assert again["events"] == [*EVENTS, "workflow_run"]


def test_an_issue_opened_through_the_api_runs_the_job_with_a_typed_payload(live: Live) -> None:
    live.register()
    created = sdk_client(live.fake).get_repo(REPO).create_issue(title="Login fails", body="Steps")
    live.fake.wait_for_webhooks()

    assert [name for _, name in live.events()] == ["github:issues"]
    delivery = live.fake.hook_deliveries[-1]
    assert (delivery["event"], delivery["action"], delivery["status_code"]) == (
        "issues",
        "opened",
        200,
    )
    assert live.events()[0][0] == f"github:{delivery['guid']}"
    assert live.outputs("issue-opened") == [
        {
            "number": created.number,
            "title": "Login fails",
            "body": "Steps",
            "by": live.fake.login,
            "repo": REPO,
        }
    ]
    (_, payload, raw) = live.seen[0]
    assert isinstance(payload, IssuesEvent)
    assert raw["issue"]["title"] == "Login fails" and raw["action"] == "opened"
    assert live.outputs("issue-closed") == []  # same event type, another action

    created.edit(state="closed")
    live.fake.wait_for_webhooks()
    assert live.outputs("issue-closed") == [{"action": "closed", "number": created.number}]
    assert len(live.outputs("issue-opened")) == 1


def test_comments_pushes_pull_requests_and_releases_start_their_jobs(live: Live) -> None:
    live.register()
    repo = sdk_client(live.fake).get_repo(REPO)
    issue = repo.create_issue(title="Question")
    issue.create_comment("Any news?")
    head = live.fake.commit_on(REPO, "main", "Fix the crash")
    live.fake.branch(REPO, "feature")
    live.fake.commit_on(REPO, "feature", "Work in progress")  # not main: filtered out
    pull = repo.create_pull(title="Feature", body="", head="feature", base="main")
    repo.create_git_release("v1.0.0", "Version 1", "Notes")
    live.fake.wait_for_webhooks()
    assert all(d["status_code"] == 200 for d in live.fake.hook_deliveries)

    assert live.outputs("issue-comment") == [{"issue": issue.number, "comment": "Any news?"}]
    assert live.outputs("push-main") == [{"branch": "main", "head": head, "commits": 1}]
    assert live.outputs("pr-opened") == [{"number": pull.number, "head": "feature"}]
    assert live.outputs("released") == [{"tag": "v1.0.0"}]
    kinds = {name: type(payload) for name, payload, _ in live.seen}
    assert kinds["push-main"] is PushEvent and kinds["released"] is ReleaseEvent
    assert live.run_count() == 5  # the issue opened, the comment, main's push, the PR, the release


def test_organisation_hooks_and_pings_on_request_are_delivered(live: Live) -> None:
    gh = sdk_client(live.fake)
    live.fake.add_org("octo")
    config = {"url": live.endpoint, "content_type": "json", "secret": SECRET}
    hook = gh.get_organization("octo").create_hook("web", config, events=["issues"])
    gh.get_repo(REPO).create_issue(title="Seen by the organisation's hook")
    live.fake.wait_for_webhooks()
    assert [(d["hook_id"], d["event"], d["status_code"]) for d in live.fake.hook_deliveries] == [
        (hook.id, "ping", 200),
        (hook.id, "issues", 200),
    ]
    repo_hook = gh.get_repo(REPO).create_hook("web", dict(config), events=["push"])
    repo_hook.ping()
    live.fake.wait_for_webhooks()
    pings = [d for d in live.fake.hook_deliveries[2:] if d["event"] == "ping"]
    assert [(d["hook_id"], d["status_code"]) for d in pings] == [(repo_hook.id, 200)] * 2
    assert [o["title"] for o in live.outputs("issue-opened")] == ["Seen by the organisation's hook"]


def test_a_hook_of_content_type_form_delivers_a_payload_field(live: Live) -> None:
    repo = sdk_client(live.fake).get_repo(REPO)
    # GitHub's default content type is form: payload=<JSON>, form-encoded, signed as sent.
    repo.create_hook("web", {"url": live.endpoint, "secret": SECRET}, events=["issues"])
    repo.create_issue(title="Sent as a form")
    live.fake.wait_for_webhooks()
    sent = live.fake.webhook_deliveries[-1]
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.body.startswith(b"payload=")
    assert [o["title"] for o in live.outputs("issue-opened")] == ["Sent as a form"]


# -- deliveries sent directly: redeliveries, refusals ----------------------------------------------


def test_a_redelivery_creates_no_second_run(live: Live) -> None:
    first = live.fake.send_event(live.endpoint, "issues", live.issue_payload(), secret=SECRET)
    assert first.status_code == 200 and first.json()["stored"] is True
    sent = live.fake.webhook_deliveries[-1]
    again = live.fake.redeliver(sent)
    assert again.status_code == 200
    assert again.json()["event_id"] == first.json()["event_id"]
    assert len(live.events()) == 1
    assert [o["number"] for o in live.outputs("issue-opened")] == [7]
    # The same event under a new delivery id is GitHub sending it again as a new delivery.
    live.fake.send_event(live.endpoint, "issues", live.issue_payload(), secret=SECRET)
    assert len(live.events()) == 2


def test_redelivery_through_the_api_keeps_the_delivery_guid(live: Live) -> None:
    live.register()
    sdk_client(live.fake).get_repo(REPO).create_issue(title="Once")
    live.fake.wait_for_webhooks()
    delivery = live.fake.hook_deliveries[-1]
    hook_id = delivery["hook_id"]
    with httpx.Client(base_url=live.fake.url, headers={"Authorization": f"token {TOKEN}"}) as api:
        listed = api.get(f"/repos/{REPO}/hooks/{hook_id}/deliveries").json()
        assert [d["event"] for d in listed] == ["issues", "ping"]
        answer = api.post(f"/repos/{REPO}/hooks/{hook_id}/deliveries/{delivery['id']}/attempts")
        assert answer.status_code == 202
    live.fake.wait_for_webhooks()
    redelivered = live.fake.hook_deliveries[-1]
    assert redelivered["redelivery"] is True and redelivered["guid"] == delivery["guid"]
    assert redelivered["status_code"] == 200
    assert len(live.events()) == 1
    assert len(live.outputs("issue-opened")) == 1


def _forged(live: Live, how: str) -> httpx.Response:
    payload = live.issue_payload()
    if how == "unsigned":  # a hook without a secret
        return live.fake.send_event(live.endpoint, "issues", payload, secret=None)
    if how == "wrong secret":
        return live.fake.send_event(live.endpoint, "issues", payload, secret="not-the-secret")
    if how == "not hex":
        return live.fake.send_event(
            live.endpoint, "issues", payload, secret=SECRET, signature="sha256=zz"
        )
    if how == "sha1 only":
        body, headers = live.fake.webhook_request("issues", payload, secret=SECRET)
        del headers["X-Hub-Signature-256"]
        return live.fake.deliver_webhook(live.endpoint, body, headers)
    if how == "replayed signature, other body":  # a captured signature on a changed event
        body, headers = live.fake.webhook_request("issues", payload, secret=SECRET)
        changed = body.replace(b"Crash on start", b"Pay to octo/evil")
        return live.fake.deliver_webhook(live.endpoint, changed, headers)
    raise AssertionError(how)


FORGERIES = (
    ("unsigned", "no X-Hub-Signature-256 header"),
    ("wrong secret", "does not match"),
    ("not hex", "not 'sha256=<64 hex digits>'"),
    ("sha1 only", "only the SHA-1 X-Hub-Signature"),
    ("replayed signature, other body", "does not match"),
)


def test_bad_signatures_are_refused_and_store_nothing(live: Live) -> None:
    for how, said in FORGERIES:
        answer = _forged(live, how)
        assert answer.status_code == 401, how
        assert said in answer.json()["detail"], how
        assert SECRET not in answer.text
    assert live.events() == [] and live.run_count() == 0


def test_a_delivery_is_not_stale_by_age_github_signs_no_timestamp(live: Live) -> None:
    """GitHub's signature covers the body only: a delivery days late (a redelivery from the
    hook's log) is accepted; its GUID keeps it from running twice."""
    live.clock.advance(3 * 86400)
    answer = live.fake.send_event(live.endpoint, "issues", live.issue_payload(), secret=SECRET)
    assert answer.status_code == 200 and len(live.events()) == 1


def _signed(live: Live, body: bytes, **headers: str) -> httpx.Response:
    _, sent = live.fake.webhook_request("issues", {}, secret=SECRET)
    sent["X-Hub-Signature-256"] = "sha256=" + _hmac(body)
    for name, value in headers.items():
        key = name.replace("_", "-")
        if value:
            sent[key] = value
        else:
            del sent[key]
    return live.fake.deliver_webhook(live.endpoint, body, sent)


def _hmac(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


NOT_EVENTS: tuple[tuple[bytes, dict[str, str], str], ...] = (
    (b"{not json", {}, "not JSON"),
    (b"[1, 2]", {}, "not an object"),
    (b'{"action": "opened"}', {"X_GitHub_Event": ""}, "X-GitHub-Event header is missing"),
    (b'{"action": "opened"}', {"X_GitHub_Event": "Issues!"}, "X-GitHub-Event header is"),
    (b'{"action": "opened"}', {"X_GitHub_Delivery": ""}, "X-GitHub-Delivery header is missing"),
    (
        b"other=1",
        {"Content_Type": "application/x-www-form-urlencoded"},
        "no single 'payload' field",
    ),
    (
        b"payload=%7Bbroken",
        {"Content_Type": "application/x-www-form-urlencoded"},
        "not JSON",
    ),
    (b"<xml/>", {"Content_Type": "text/xml"}, "Content-Type is 'text/xml'"),
    (b"\xff\xfe\x00", {}, "not JSON"),
)


def test_signed_bodies_that_are_not_github_events_get_400(live: Live) -> None:
    for body, headers, said in NOT_EVENTS:
        answer = _signed(live, body, **headers)
        assert answer.status_code == 400, (body, answer.text)
        assert said in answer.json()["detail"], (body, answer.text)
    assert live.events() == [] and live.run_count() == 0


def test_a_ping_and_events_no_job_listens_to_are_answered_and_not_stored(live: Live) -> None:
    ping = live.fake.event_payload(REPO, zen="Design for failure.", hook_id=12)
    answer = live.fake.send_event(live.endpoint, "ping", ping, secret=SECRET)
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "event": "ping", "hook_id": 12}
    forged = live.fake.send_event(live.endpoint, "ping", ping, secret="wrong")
    assert forged.status_code == 401

    payload = live.fake.event_payload(REPO, action="completed", workflow_run={"id": 1})
    answer = live.fake.send_event(live.endpoint, "workflow_run", payload, secret=SECRET)
    assert answer.status_code == 200 and answer.json()["stored"] is False
    assert live.events() == []


def test_an_unreadable_event_or_a_missing_secret_is_refused_and_stores_nothing(
    live: Live,
) -> None:
    payload = live.fake.event_payload(REPO, action="opened", issue={"title": "no number"})
    answer = live.fake.send_event(live.endpoint, "issues", payload, secret=SECRET)
    assert answer.status_code == 422  # IssuesEvent needs issue.number
    assert "number" in answer.text

    payload = live.fake.event_payload(REPO, ref="refs/heads/main", commits=[])
    url = live.endpoint.replace("/github", "/unconfigured")  # its instance has no secret
    answer = live.fake.send_event(url, "push", payload, secret=SECRET)
    assert answer.status_code == 503
    assert "GITHUB_WEBHOOK_SECRET" in answer.json()["detail"]
    assert live.events() == [] and live.run_count() == 0


def test_a_burst_of_500_deliveries_is_stored_with_none_lost(live: Live) -> None:
    def send(number: int) -> int:
        payload = live.issue_payload(number=number, title=f"Issue {number}")
        return live.fake.send_event(live.endpoint, "issues", payload, secret=SECRET).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(1, 501)))
    assert statuses == [200] * 500, f"{statuses.count(200)} stored"
    assert len(live.events()) == 500
    assert live.run_count() == 500
    with sqlite3.connect(live.database) as db:
        numbers = {
            json.loads(p)["issue"]["number"]
            for (p,) in db.execute(
                "SELECT e.payload FROM runs r JOIN events e ON e.id = r.event_id"
            )
        }
    assert numbers == set(range(1, 501))


def test_the_secret_is_never_logged_nor_stored(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    live.register()
    sdk_client(live.fake).get_repo(REPO).create_issue(title="Logged?")
    live.fake.wait_for_webhooks()
    for how in ("wrong secret", "replayed signature, other body", "unsigned"):
        _forged(live, how)
    _signed(live, b"{broken")
    live.outputs("issue-opened")
    assert SECRET not in caplog.text
    assert "refused" in caplog.text  # the refusals were logged, without the secret
    assert not [cell for cell in text_columns(live.database) if SECRET in cell[2]]
    assert SECRET not in repr(live.github)
    assert SECRET not in json.dumps(list(live.fake.repo(REPO).hooks.values()))


# -- the integration on its own: verify_webhook, triggers, register_webhook ------------------------


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(headers=headers, body=body, received_at=0.0)


def test_verify_webhook_reads_type_id_and_payload() -> None:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        github = GitHub(token=TOKEN, base_url=fake.url, webhook_secret=SECRET)
        payload = fake.event_payload(REPO, action="created", comment={"id": 3, "body": "hi"})
        body, headers = fake.webhook_request(
            "issue_comment", payload, secret=SECRET, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958"
        )
        assert headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert headers["X-Hub-Signature"].startswith("sha1=")
        lowered = {name.lower(): value for name, value in headers.items()}
        delivery = github.verify_webhook(_request(body, lowered))
        assert delivery == WebhookDelivery(
            id="72d3162e-cc78-11e3-81ab-4c9367dc0958", type="issue_comment", payload=payload
        )
        form, form_headers = fake.webhook_request("ping", {"hook_id": 5}, secret=SECRET)
        assert github.verify_webhook(_request(form, form_headers)) == WebhookReply(
            body={"ok": True, "event": "ping", "hook_id": 5}
        )
        with pytest.raises(WebhookSignatureError):
            GitHub(token=TOKEN, webhook_secret="other").verify_webhook(_request(body, headers))
        with pytest.raises(WebhookPayloadError, match="X-GitHub-Delivery"):
            headers.pop("X-GitHub-Delivery")
            github.verify_webhook(_request(body, headers))


def test_a_delivery_without_a_configured_secret_says_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET", raising=False)
    with pytest.raises(IntegrationSettingError, match="GITHUB_WEBHOOK_SECRET") as caught:
        GitHub(token=TOKEN).verify_webhook(_request(b"{}", {}))
    assert caught.value.setting == "webhook_secret"
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    assert GitHub(token=TOKEN).webhook_secret == SECRET


def test_trigger_helpers_build_the_filters_github_events_need() -> None:
    github = GitHub(token=TOKEN, id="gh")
    opened = github.on_issue_opened(repo="octo/hello")
    assert opened.name == "gh:issues" and opened.schema is IssuesEvent
    assert opened.filter == {"action": ["opened"], "repository": {"full_name": ["octo/hello"]}}
    push = github.on_push(repo=["octo/a", "octo/b"], branch="release/2.x")
    assert push.filter == {
        "ref": ["refs/heads/release/2.x"],
        "repository": {"full_name": ["octo/a", "octo/b"]},
    }
    assert github.on_push().filter is None
    assert github.on_pull_request(action=["closed", "reopened"]).filter == {
        "action": ["closed", "reopened"]
    }
    assert github.on_issue_comment(action=None).filter is None
    custom = github.on_event(
        "issues", repo="octo/hello", filter={"issue": {"state": ["open"]}, "repository": {}}
    )
    assert custom.filter == {
        "issue": {"state": ["open"]},
        "repository": {"full_name": ["octo/hello"]},
    }
    assert custom.stored_info() == {
        "webhook": {"integration": "gh", "vendor": "GitHub", "event_type": "issues"}
    }
    assert custom.matches({"issue": {"state": "open"}, "repository": {"full_name": "octo/hello"}})
    assert not custom.matches({"issue": {"state": "open"}, "repository": {"full_name": "x/y"}})


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda g: g.on_event("Issues"), "not a GitHub webhook event"),
        (lambda g: g.on_event("ping"), "'ping' is GitHub's check"),
        (lambda g: g.on_event("issues", repo="hello"), "'owner/name'"),
        (lambda g: g.on_event("issues", repo=[]), "'owner/name'"),
        (lambda g: g.on_event("issues", action=""), "action must name"),
        (
            lambda g: g.on_event("issues", action="opened", filter={"action": ["closed"]}),
            "not both",
        ),
        (
            lambda g: g.on_event(
                "issues", repo="o/r", filter={"repository": {"full_name": ["x/y"]}}
            ),
            "not both",
        ),
        (lambda g: g.on_push(branch="refs/heads/main"), "names a branch such as 'main'"),
        (lambda g: g.on_event("issues", filter={"action": "opened"}), "must list the allowed"),
    ],
)
def test_trigger_mistakes_are_explained(make: Any, said: str) -> None:
    with pytest.raises(JobDefinitionError, match=said.replace("(", r"\(")):
        make(GitHub(token=TOKEN))


def test_register_webhook_says_what_is_missing(fake: FakeGitHub) -> None:
    url = "http://127.0.0.1:9/api/v1/webhooks/github"
    without_secret = GitHub(token=TOKEN, base_url=fake.url, webhook_secret=None)
    without_secret.on_issue_opened(repo=REPO)
    with pytest.raises(IntegrationSettingError, match="GITHUB_WEBHOOK_SECRET"):
        without_secret.register_webhook(url, ["issues"])
    github = GitHub(token=TOKEN, base_url=fake.url, webhook_secret=SECRET)
    with pytest.raises(ConfigurationError, match="no repository to make the webhook on"):
        github.register_webhook(url, ["issues"])
    with pytest.raises(ConfigurationError, match="needs the events"):
        github.register_webhook(url, [], repos=[REPO])
    with pytest.raises(ConfigurationError, match="not a GitHub webhook event"):
        github.register_webhook(url, ["Issues"], repos=[REPO])
    with pytest.raises(ConfigurationError, match="http"):
        github.register_webhook("ftp://x", ["issues"], repos=[REPO])
    with pytest.raises(GitHubAPIError, match="Not Found") as caught:
        github.register_webhook(url, ["issues"], repos=["octo/missing"])
    assert caught.value.status == 404
    registration = github.register_webhook(url, ["issues"], repos=[REPO])
    assert registration.id.startswith(f"{REPO}#") and registration.secret is None
    assert SECRET not in str(caught.value)


def test_the_fake_sends_nothing_beyond_this_machine(fake: FakeGitHub, tmp_path: Path) -> None:
    repo = sdk_client(fake).get_repo(REPO)
    repo.create_hook("web", {"url": "https://example.com/hook"}, events=["*"])
    repo.create_issue(title="Not sent")
    fake.wait_for_webhooks()
    assert [d["event"] for d in fake.hook_deliveries] == ["ping", "issues"]
    assert all(d["status"].startswith("not delivered") for d in fake.hook_deliveries)
    assert fake.webhook_deliveries == []


# -- the example app ----------------------------------------------------------------------------


def _load_example(name: str) -> ModuleType:
    """A fresh copy of examples/github_app.py (its own client and GitHub instance)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_welcomes_each_issue_github_delivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_repo(REPO)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_BASE", fake.url)
        monkeypatch.setenv("GITHUB_REPO", REPO)
        monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("RUNIO_DATABASE_URL", f"sqlite:///{tmp_path / 'example.db'}")
        served, worked = _load_example("github_app_served"), _load_example("github_app_worked")
        worked.client.run_worker(until_idle=True)
        server = LiveServer(served.client, ServerConfig(port=0)).start()
        try:
            endpoint = f"{server.url}/api/v1/webhooks/github"
            first = served.open_issue_through_github(fake, endpoint, "It crashes", "Steps...")
            second = served.open_issue_through_github(fake, endpoint, "It crashes again")
        finally:
            server.stop()
        try:
            worked.client.run_worker(until_idle=True)
            runs = worked.client.list_runs(job_id="github-welcome")
        finally:
            worked.client.close()
    assert len(fake.repo(REPO).hooks) == 1  # the second call found the webhook made by the first
    assert sorted(run.output["issue"] for run in runs) == [first, second]
    assert all(run.status == "COMPLETED" for run in runs)
    for number in (first, second):
        (comment,) = fake.repo(REPO).issue_comments(number)
        assert comment["body"].startswith(f"Thanks for opening this, @{fake.login}!")
        assert [label["name"] for label in fake.repo(REPO).issues[number]["labels"]] == ["new"]
