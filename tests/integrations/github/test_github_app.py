"""A GitHub App installation instead of a token: PyGithub exchanges the app's JWT for
installation tokens, what the app creates is authored by its bot user, and the exactly-once
lookups list by that bot user. The private key is a secret like the token."""

from __future__ import annotations

from typing import Any

import pytest
from github_helpers import REPO, World, rsa_key_pair
from runio_github import GitHub

APP_ENV = ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID")


def test_a_token_or_an_app_is_required(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", *APP_ENV):
        monkeypatch.delenv(name, raising=False)
    assert not GitHub.is_configured()
    assert GitHub.missing_from_environment() == ["GITHUB_TOKEN"]
    monkeypatch.setenv("GITHUB_APP_ID", "42")  # an app needs all three
    assert not GitHub.is_configured()
    for name, value in zip(APP_ENV, ("42", "-----BEGIN PRIVATE KEY-----", "7"), strict=True):
        monkeypatch.setenv(name, value)
    assert GitHub.is_configured()
    for name in APP_ENV:
        monkeypatch.delenv(name)

    async def body(gh: Any) -> Any:
        return await gh.get_repo("repo", repo=REPO)

    run = world.run(body, integration=GitHub(base_url=world.fake.url, app_id="42"))
    assert run.status == "FAILED"
    task = run.task("repo")
    assert [a.status for a in task.attempts] == ["ERRORED"], "a missing credential was retried"
    message = str(task.error)
    assert "GITHUB_TOKEN" in message and "GITHUB_APP_PRIVATE_KEY" in message
    assert world.fake.requests == []

    broken = GitHub(
        base_url=world.fake.url, app_id="42", app_private_key="not a key", app_installation_id=7
    )
    run = world.run(body, integration=broken)
    assert run.status == "FAILED"
    assert [a.status for a in run.task("repo").attempts] == ["ERRORED"]
    assert "app_private_key (GITHUB_APP_PRIVATE_KEY) is not a usable private key" in str(
        run.task("repo").error
    )
    assert "not a key" not in str(run.task("repo").error)


def test_an_app_installation_creates_once_as_its_bot(world: World) -> None:
    private, public = rsa_key_pair()
    world.fake.add_app(42, public, slug="triager", installation_id=7)
    app = GitHub(
        app_id="42", app_private_key=private, app_installation_id=7, base_url=world.fake.url
    )
    assert private not in repr(app)
    world.fake.drop_after_write(path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="From the app")

    run = world.run(body, integration=app)
    assert run.status == "COMPLETED", run.error
    (issue,) = world.repo.issues.values()
    assert issue["user"]["login"] == "triager[bot]"
    assert run.output["id"] == issue["id"]
    assert [a.status for a in run.task("issue").attempts] == ["ERRORED", "COMPLETED"]
    lookups = [r for r in world.fake.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert [r.query["creator"] for r in lookups] == [["triager[bot]"]]
    assert any(r.path == "/app/installations/7/access_tokens" for r in world.fake.requests)
    marker = private.splitlines()[1]  # a line of the key: it is found nowhere it must not be
    for path in world.database.parent.glob(world.database.name + "*"):
        assert marker.encode() not in path.read_bytes(), f"the private key is in {path.name}"
