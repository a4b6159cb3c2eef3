"""The GitHub example: triage a bug report, ship a release, and welcome each new issue (a job
started by GitHub's webhook), with ``io.github``.

Each GitHub call is a task of the run (named, with the GitHub icon and properties). GitHub has
no idempotency keys, so the creates carry a hidden marker and are looked up before being made
again after an attempt whose outcome is unknown: a retry or a crash never opens a second issue.
It runs against GitHub (``GITHUB_TOKEN=ghp_... GITHUB_REPO=you/sandbox runio dev
examples/github_app.py:client``) or against ``runio_github.testing.FakeGitHub`` (set
``GITHUB_API_BASE`` to its URL), which is what ``examples/demo.py`` does.

``github-welcome`` is started by GitHub itself: its trigger, ``github.on_issue_opened(repo=...)``,
listens at the server's ``/api/v1/webhooks/github`` for ``issues`` deliveries signed with
``GITHUB_WEBHOOK_SECRET``. ``open_issue_through_github`` drives it through ``FakeGitHub``: it
makes the repository's webhook and opens an issue, and the fake delivers the event.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from runio_github import GitHub, IssuesEvent, as_json
from runio_github.testing import FakeGitHub

import runio

client = runio.Client(id="examples-github")
github = GitHub()  # GITHUB_TOKEN, GITHUB_API_BASE and GITHUB_WEBHOOK_SECRET from the environment
REPO = os.environ.get("GITHUB_REPO", "octo/hello")


class BugReport(BaseModel):
    title: str
    details: str
    reporter: str


@client.define_job(
    id="github-triage",
    name="Open and triage a bug report",
    version="1.0.0",
    trigger=runio.event_trigger(name="bug.reported", schema=BugReport),
    integrations={"github": github},
)
async def triage(payload: BugReport, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    gh = io.use(github)  # typed: mypy checks each wrapper's name and parameters
    issue = await gh.create_issue(
        "issue",
        repo=REPO,
        title=payload.title,
        body=f"{payload.details}\n\nReported by {payload.reporter}.",
        labels=["bug"],
    )
    await gh.add_issue_labels(
        "triage-labels", repo=REPO, issue_number=issue["number"], labels=["needs-triage"]
    )
    await gh.add_issue_assignees(
        "assign", repo=REPO, issue_number=issue["number"], assignees=["octocat"]
    )
    comment = await gh.create_issue_comment_with_reaction(
        "acknowledge",
        repo=REPO,
        issue_number=issue["number"],
        body="Thanks for the report! We are on it.",
        reaction="eyes",
    )

    # Any other call: run_task hands the function an authenticated github.Github (it runs in
    # the worker's thread pool, PyGithub being synchronous); as_json makes its answer storable.
    def open_bugs(gh: Any, task: runio.Task) -> Any:
        return as_json(gh.get_repo(REPO).get_issues(state="open", labels=["bug"]), max_items=20)

    bugs = await gh.run_task("open-bugs", open_bugs, name="List open bugs", icon="github")
    return {
        "issue": issue["number"],
        "comment": comment["id"],
        "open_bugs": [bug["number"] for bug in bugs],
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Release(BaseModel):
    version: str
    notes: str


@client.define_job(
    id="github-release",
    name="Ship a release through a pull request",
    version="1.0.0",
    trigger=runio.event_trigger(name="release.requested", schema=Release),
    integrations={"github": github},
)
async def release(payload: Release, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    gh = io.use(github)
    branch = f"release-{payload.version}"
    main = await gh.get_ref("main", repo=REPO, ref="heads/main")
    head = await gh.get_commit("head", repo=REPO, sha=main["object"]["sha"])
    blob = await gh.create_blob(
        "changelog", repo=REPO, content=f"# {payload.version}\n\n{payload.notes}\n"
    )
    tree = await gh.create_tree(
        "tree",
        repo=REPO,
        base_tree=head["tree"]["sha"],
        tree=[{"path": "CHANGELOG.md", "mode": "100644", "type": "blob", "sha": blob["sha"]}],
    )
    commit = await gh.create_commit(
        "commit",
        repo=REPO,
        message=f"Release {payload.version}",
        tree=tree["sha"],
        parents=[head["sha"]],
        # A fixed date makes a retried commit the very same object.
        author={"name": "runio", "email": "runio@example.com", "date": _iso(ctx.event.timestamp)},
    )
    await gh.create_ref("branch", repo=REPO, ref=f"refs/heads/{branch}", sha=commit["sha"])
    pull = await gh.create_pull_request(
        "pull-request",
        repo=REPO,
        title=f"Release {payload.version}",
        head=branch,
        base="main",
        body=payload.notes,
    )
    merged = await gh.merge_pull_request(
        "merge", repo=REPO, pull_number=pull["number"], merge_method="merge"
    )
    await gh.delete_ref("delete-branch", repo=REPO, ref=f"heads/{branch}")
    published = await gh.create_release(
        "release",
        repo=REPO,
        tag_name=payload.version,
        name=f"Version {payload.version}",
        body=payload.notes,
        target_commitish="main",
    )
    return {"pull_request": pull["number"], "merge": merged["sha"], "release": published["id"]}


@client.define_job(
    id="github-welcome",
    name="Welcome a new issue",
    version="1.0.0",
    trigger=github.on_issue_opened(repo=REPO),
    integrations={"github": github},
)
async def welcome(payload: IssuesEvent, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    gh = io.use(github)
    issue = payload.issue
    author = issue.user.login if issue.user else "there"
    await gh.add_issue_labels(
        "label", repo=payload.repository.full_name, issue_number=issue.number, labels=["new"]
    )
    comment = await gh.create_issue_comment(
        "welcome",
        repo=payload.repository.full_name,
        issue_number=issue.number,
        body=f"Thanks for opening this, @{author}! Someone will look at it soon.",
    )
    # GitHub's JSON as sent is there too, every field of it.
    return {"issue": issue.number, "comment": comment["id"], "delivery": ctx.event.id}


def open_issue_through_github(fake: FakeGitHub, endpoint: str, title: str, body: str = "") -> int:
    """Start ``github-welcome`` as GitHub would: make ``REPO``'s webhook for ``endpoint`` (the
    server's ``.../api/v1/webhooks/github``; once, later calls update it) and open an issue
    through the fake's API; the fake delivers the signed ``issues`` event to the endpoint.
    Blocking (PyGithub and the fake's delivery): from async code, run it in a thread. Returns
    the issue's number."""
    github.register_webhook(endpoint, ["issues"], repos=[REPO])
    issue = fake.seed("POST", f"/repos/{REPO}/issues", {"title": title, "body": body})
    fake.wait_for_webhooks()
    return int(issue["number"])
