"""Writes whose answer was lost after GitHub applied them take effect once: creates find their
marked object (listing by the token's user since the attempt began, never through the search
API), natural-key writes find their key, idempotent writes simply run again."""

from __future__ import annotations

from typing import Any

import pytest
from github_helpers import REPO, World


def attempts_of(run: Any, key: str) -> list[str]:
    return [a.status for a in run.task(key).attempts]


def first_error(run: Any, key: str) -> dict[str, Any]:
    error = run.task(key).attempts[0].error
    assert error is not None
    return error  # type: ignore[no-any-return]


def test_one_issue_after_a_create_whose_answer_was_lost(world: World) -> None:
    world.fake.drop_after_write(path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Once", body="Only once")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "issue") == ["ERRORED", "COMPLETED"]
    assert first_error(run, "issue").get("outcome_unknown") is True
    (issue,) = world.repo.issues.values()  # exactly one
    assert run.output["number"] == issue["number"] and run.output["id"] == issue["id"]

    posts = [r for r in world.fake.requests if r.method == "POST"]
    assert len(posts) == 1, "the second attempt created again"
    lookups = [r for r in world.fake.requests if r.method == "GET" and r.path.endswith("/issues")]
    (lookup,) = lookups
    assert lookup.query["creator"] == [world.fake.login]
    assert lookup.query["state"] == ["all"]
    assert lookup.query["since"][0] <= world.fake.timestamp(world.clock.now())
    assert not any(r.path.startswith("/search") for r in world.fake.requests)


def test_a_lost_create_that_did_not_happen_is_made_by_the_retry(world: World) -> None:
    world.fake.fail_next(502, path=rf"/repos/{REPO}/issues", method="POST")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Once")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "issue") == ["ERRORED", "COMPLETED"]
    assert len(world.repo.issues) == 1


def test_an_unrelated_marked_issue_is_not_taken_for_this_one(world: World) -> None:
    async def other(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Another run's issue")

    assert world.run(other).status == "COMPLETED"
    world.fake.drop_after_write(path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Mine")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert sorted(i["title"] for i in world.repo.issues.values()) == [
        "Another run's issue",
        "Mine",
    ]
    assert run.output["title"] == "Mine"


@pytest.mark.parametrize(
    ("wrapper", "path", "params", "count"),
    [
        (
            "create_issue_comment",
            r"/repos/octo/hello/issues/1/comments",
            {"issue_number": 1, "body": "Hi"},
            lambda w: len(w.repo.comments),
        ),
        (
            "create_pull_request",
            r"/repos/octo/hello/pulls",
            {"title": "Feature", "head": "feature", "base": "main", "body": "Adds it"},
            lambda w: len(w.repo.pulls),
        ),
        (
            "create_release",
            r"/repos/octo/hello/releases",
            {"tag_name": "v1", "name": "One", "body": "Notes"},
            lambda w: len(w.repo.releases),
        ),
        (
            "create_repo_webhook",
            r"/repos/octo/hello/hooks",
            {"url": "https://example.com/hook", "events": ["push"]},
            lambda w: len(w.repo.hooks),
        ),
        (
            "create_ref",
            r"/repos/octo/hello/git/refs",
            {"ref": "refs/heads/copy", "sha": None},
            lambda w: sum(1 for r in w.repo.refs if r == "refs/heads/copy"),
        ),
    ],
)
def test_every_create_takes_effect_once_after_a_lost_answer(
    world: World, wrapper: str, path: str, params: dict[str, Any], count: Any
) -> None:
    world.fake.branch(REPO, "feature")
    world.fake.commit_on(REPO, "feature", "Work")
    if "sha" in params:
        params = {**params, "sha": world.repo.refs["refs/heads/main"]}

    async def setup(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Host")

    assert world.run(setup).status == "COMPLETED"
    world.fake.drop_after_write(path=path)

    async def body(gh: Any) -> Any:
        return await getattr(gh, wrapper)("write", repo=REPO, **params)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "write") == ["ERRORED", "COMPLETED"]
    assert first_error(run, "write").get("outcome_unknown") is True
    assert count(world) == 1, f"{wrapper} took effect twice"
    writes = [r for r in world.fake.requests if r.method == "POST" and r.path == path]
    assert len(writes) == 1


def test_org_webhook_once_after_a_lost_answer(world: World) -> None:
    world.fake.drop_after_write(path=r"/orgs/octo/hooks")

    async def body(gh: Any) -> Any:
        return await gh.create_org_webhook("hook", org="octo", url="https://example.com/o")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(world.fake.org_hooks["octo"]) == 1
    assert run.output["config"]["url"] == "https://example.com/o"


def test_merge_and_delete_ref_count_as_done_after_a_lost_answer(world: World) -> None:
    world.fake.branch(REPO, "feature")
    world.fake.commit_on(REPO, "feature", "Work")
    world.fake.branch(REPO, "old")
    world.fake.drop_after_write(method="PUT")
    world.fake.drop_after_write(method="DELETE")

    async def body(gh: Any) -> Any:
        pull = await gh.create_pull_request(
            "pull", repo=REPO, title="Feature", head="feature", base="main"
        )
        merged = await gh.merge_pull_request("merge", repo=REPO, pull_number=pull["number"])
        deleted = await gh.delete_ref("delete", repo=REPO, ref="heads/old")
        return {"merged": merged, "deleted": deleted}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "merge") == ["ERRORED", "COMPLETED"]
    assert attempts_of(run, "delete") == ["ERRORED", "COMPLETED"]
    assert run.output["merged"]["merged"] is True
    assert run.output["merged"]["sha"] == world.repo.refs["refs/heads/main"]
    assert run.output["deleted"] == {"ref": "refs/heads/old", "deleted": True}
    assert len([r for r in world.fake.requests if r.method == "PUT"]) == 1
    assert len([r for r in world.fake.requests if r.method == "DELETE"]) == 1


def test_idempotent_writes_simply_run_again(world: World) -> None:
    world.fake.drop_after_write(path=r"/repos/octo/hello/issues/1/labels")

    async def body(gh: Any) -> Any:
        await gh.create_issue("issue", repo=REPO, title="Host")
        return await gh.add_issue_labels("labels", repo=REPO, issue_number=1, labels=["bug"])

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "labels") == ["ERRORED", "COMPLETED"]
    assert [label["name"] for label in run.output] == ["bug"]
    label_posts = [r for r in world.fake.requests if r.path.endswith("/labels")]
    assert len(label_posts) == 2  # sent again: labels are a set
    assert [label["name"] for label in world.repo.issues[1]["labels"]] == ["bug"]


def test_a_rate_limited_lookup_retries_durably_and_never_reposts(world: World) -> None:
    world.fake.drop_after_write(path=rf"/repos/{REPO}/issues")
    world.fake.primary_rate_limit(reset_in=300, method="GET", path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Once")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert attempts_of(run, "issue") == ["ERRORED", "ERRORED", "COMPLETED"]
    assert len(world.repo.issues) == 1
    assert len([r for r in world.fake.requests if r.method == "POST"]) == 1


def test_the_lookup_follows_githubs_pages(world: World) -> None:
    """More than a page of the user's recent issues: the marked one is on the second page."""
    world.fake.drop_after_write(path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo=REPO, title="Mine")

    run_id = world.start(body)
    world.work()  # the create is applied, its answer lost; the run waits to retry
    assert world.client.get_run(run_id).status == "WAITING"
    for n in range(150):  # newer issues by the same user, listed before it
        world.fake.seed("POST", f"/repos/{REPO}/issues", {"title": f"Later {n}"})
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert run.output["title"] == "Mine" and run.output["number"] == 1
    assert len(world.repo.issues) == 151
    pages = [r for r in world.fake.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert len(pages) == 2  # the second page came from the Link header
    since = world.fake.timestamp(run.task("issue").attempts[0].started_at - 300)
    assert pages[0].query["since"] == [since]  # the first attempt's start, less five minutes
