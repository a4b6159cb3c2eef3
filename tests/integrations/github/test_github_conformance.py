"""runio's integration conformance suite, run on GitHub against FakeGitHub through PyGithub:
every wrapper, with a call that succeeds against the fake (seeded first when it needs an
existing object)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runio_github import GitHub
from runio_github.testing import FakeGitHub

from runio.testing import FakeVendorServer, IntegrationConformance

ROOT = Path(__file__).resolve().parents[3]
REPO = "octo/hello"
BASE = f"/repos/{REPO}"


def _issue(fake: FakeGitHub) -> int:
    return int(fake.seed("POST", f"{BASE}/issues", {"title": "Seeded"})["number"])


def _comment(fake: FakeGitHub) -> int:
    number = _issue(fake)
    return int(fake.seed("POST", f"{BASE}/issues/{number}/comments", {"body": "Seeded"})["id"])


def _main(fake: FakeGitHub) -> dict[str, Any]:
    return fake.repo(REPO).commits[fake.repo(REPO).refs["refs/heads/main"]]


def _hook(fake: FakeGitHub, base: str) -> int:
    hook = fake.seed("POST", f"{base}/hooks", {"name": "web", "config": {"url": "https://e.x/s"}})
    return int(hook["id"])


def _pull(fake: FakeGitHub) -> int:
    fake.branch(REPO, "feature")
    fake.commit_on(REPO, "feature", "Work")
    pull = fake.seed("POST", f"{BASE}/pulls", {"title": "F", "head": "feature", "base": "main"})
    return int(pull["number"])


def _tag(fake: FakeGitHub) -> str:
    body = {"tag": "v0", "message": "Seeded", "object": _main(fake)["sha"], "type": "commit"}
    return str(fake.seed("POST", f"{BASE}/git/tags", body)["sha"])


def _blob(fake: FakeGitHub) -> str:
    return str(fake.seed("POST", f"{BASE}/git/blobs", {"content": "seeded"})["sha"])


def _unique(fake: FakeGitHub, name: str) -> str:
    """A fresh name: the suite calls each example more than once, and GitHub refuses a second
    hook on one URL, a second ref or release of one name, a second open pull request."""
    return f"{name}-{fake.next_id()}"


def _branch(fake: FakeGitHub, name: str) -> str:
    fake.branch(REPO, name)
    return name


EXAMPLES: dict[str, Callable[[FakeGitHub], dict[str, Any]]] = {
    "get_repo": lambda f: {},
    "create_issue": lambda f: {"title": "Conformance", "body": "Body", "labels": ["bug"]},
    "get_issue": lambda f: {"issue_number": _issue(f)},
    "close_issue": lambda f: {"issue_number": _issue(f)},
    "add_issue_assignees": lambda f: {"issue_number": _issue(f), "assignees": ["ada"]},
    "add_issue_labels": lambda f: {"issue_number": _issue(f), "labels": ["bug"]},
    "create_issue_comment": lambda f: {"issue_number": _issue(f), "body": "Hello"},
    "add_issue_comment_reaction": lambda f: {"comment_id": _comment(f), "content": "heart"},
    "create_issue_comment_with_reaction": lambda f: {
        "issue_number": _issue(f),
        "body": "Hello",
        "reaction": "rocket",
    },
    "create_repo_webhook": lambda f: {"url": f"https://example.com/{_unique(f, 'hook')}"},
    "update_repo_webhook": lambda f: {"hook_id": _hook(f, BASE), "events": ["issues"]},
    "list_repo_webhooks": lambda f: {},
    "create_org_webhook": lambda f: {
        "org": "octo",
        "url": f"https://example.com/{_unique(f, 'org-hook')}",
    },
    "update_org_webhook": lambda f: {"org": "octo", "hook_id": _hook(f, "/orgs/octo")},
    "list_org_webhooks": lambda f: {"org": "octo"},
    "create_blob": lambda f: {"content": "hello\n"},
    "get_blob": lambda f: {"sha": _blob(f)},
    "create_tree": lambda f: {
        "base_tree": _main(f)["tree"]["sha"],
        "tree": [{"path": "a.txt", "mode": "100644", "type": "blob", "content": "a"}],
    },
    "get_tree": lambda f: {"sha": _main(f)["tree"]["sha"]},
    "create_commit": lambda f: {
        "message": "Conformance",
        "tree": _main(f)["tree"]["sha"],
        "parents": [_main(f)["sha"]],
        "author": {"name": "Ada", "email": "ada@example.com", "date": "2026-01-01T00:00:00Z"},
    },
    "get_commit": lambda f: {"sha": _main(f)["sha"]},
    "get_ref": lambda f: {"ref": "heads/main"},
    "create_ref": lambda f: {"ref": f"refs/heads/{_unique(f, 'new')}", "sha": _main(f)["sha"]},
    "update_ref": lambda f: {"ref": "heads/main", "sha": _main(f)["sha"]},
    "delete_ref": lambda f: {"ref": f"heads/{_branch(f, _unique(f, 'doomed'))}"},
    "create_tag": lambda f: {"tag": "v1", "message": "One", "object": _main(f)["sha"]},
    "get_tag": lambda f: {"sha": _tag(f)},
    "create_pull_request": lambda f: {
        "title": "Feature",
        "head": _branch(f, _unique(f, "topic")),
        "base": "main",
    },
    "merge_pull_request": lambda f: {"pull_number": _pull(f)},
    "create_release": lambda f: {"tag_name": _unique(f, "v1"), "name": "One", "body": "Notes"},
}


class TestGitHubConformance(IntegrationConformance):
    integration_class = GitHub
    fake_server_class = FakeGitHub
    write = "create_issue"
    readme = ROOT / "packages" / "github" / "README.md"

    def make_server(self, secret: str) -> FakeGitHub:
        # The suite's TestClock starts at 1_800_000_000; GitHub and the worker share one time in
        # production, so the fake's clock starts there too (creates are looked up "since the
        # task began", by GitHub's timestamps).
        began = time.monotonic()
        server = FakeGitHub(
            token=secret, clock=lambda: 1_800_000_000.0 + (time.monotonic() - began)
        )
        server.start()  # seeded objects carry the fake's URL
        server.add_repo(REPO)
        server.add_org("octo")
        return server

    webhook_tolerance = None  # GitHub signs the body only, no time

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        with FakeGitHub(repos=[REPO]) as fake:
            payload = fake.event_payload(
                REPO, action="opened", issue={"number": 1, "title": "Delivered"}
            )
            return fake.webhook_request("issues", payload, secret=signing_secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> GitHub:
        return GitHub(token=secret, base_url=server.url)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"GITHUB_TOKEN": secret, "GITHUB_API_BASE": server.url}

    def example(self, wrapper: str, server: FakeVendorServer) -> dict[str, Any]:
        assert isinstance(server, FakeGitHub)
        params = EXAMPLES[wrapper](server)
        return params if "org" in params else {"repo": REPO, **params}
