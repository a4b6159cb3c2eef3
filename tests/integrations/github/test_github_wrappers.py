"""Every wrapper in a real run, through PyGithub against FakeGitHub: what it sends, what it
returns (GitHub's JSON), how it is recorded (name, properties, params), and bad input."""

from __future__ import annotations

import base64
from typing import Any

from github_helpers import REPO, World

import runio


def test_issue_wrappers(world: World) -> None:
    async def body(gh: Any) -> Any:
        issue = await gh.create_issue(
            "issue", repo=REPO, title="Broken", body="Steps", labels=["bug"], assignees=["ada"]
        )
        number = issue["number"]
        labels = await gh.add_issue_labels(
            "labels", repo=REPO, issue_number=number, labels=["bug", "p1"]
        )
        assigned = await gh.add_issue_assignees(
            "assignees", repo=REPO, issue_number=number, assignees=["grace"]
        )
        got = await gh.get_issue("get", repo=REPO, issue_number=number)
        closed = await gh.close_issue(
            "close", repo=REPO, issue_number=number, state_reason="not_planned"
        )
        return {
            "issue": issue,
            "labels": labels,
            "assigned": assigned,
            "got": got,
            "closed": closed,
        }

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    issue = world.repo.issues[1]
    assert out["issue"]["number"] == 1 and out["issue"]["title"] == "Broken"
    assert out["issue"]["body"].startswith("Steps\n\n<!-- runio-")
    assert [label["name"] for label in out["labels"]] == ["bug", "p1"]
    assert [a["login"] for a in out["assigned"]["assignees"]] == ["ada", "grace"]
    assert out["got"]["title"] == "Broken"
    assert out["closed"]["state"] == "closed" and issue["state_reason"] == "not_planned"

    task = run.task("issue")
    assert task.name == "Create Issue"
    assert task.icon == "github"
    assert {"label": "Repository", "text": REPO} in task.properties
    assert {"label": "Title", "text": "Broken"} in task.properties
    assert task.params["repo"] == REPO and task.params["labels"] == ["bug"]
    marker = f"<!-- runio-{task.idempotency_key} -->"
    assert issue["body"] == f"Steps\n\n{marker}"
    assert run.task("labels").name == "Add Issue Labels"
    assert {"label": "Issue", "text": "#1"} in run.task("close").properties


def test_comment_wrappers_and_the_composite(world: World) -> None:
    world.fake.add_repo("octo/other")

    async def body(gh: Any) -> Any:
        issue = await gh.create_issue("issue", repo=REPO, title="Hello")
        comment = await gh.create_issue_comment(
            "comment", repo=REPO, issue_number=issue["number"], body="First!"
        )
        reaction = await gh.add_issue_comment_reaction(
            "react", repo=REPO, comment_id=comment["id"], content="heart"
        )
        both = await gh.create_issue_comment_with_reaction(
            "both", repo=REPO, issue_number=issue["number"], body="Done", reaction="rocket"
        )
        return {"comment": comment, "reaction": reaction, "both": both}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    comments = world.repo.issue_comments(1)
    assert [c["body"].split("\n")[0] for c in comments] == ["First!", "Done"]
    assert out["reaction"]["content"] == "heart"
    assert out["both"]["id"] == comments[1]["id"]
    assert out["both"]["reaction"]["content"] == "rocket"
    assert [r["content"] for r in world.repo.reactions[comments[1]["id"]]] == ["rocket"]

    both = run.task("both")
    assert both.name == "Comment With Reaction"
    assert [child.cache_key for child in both.children] == ["comment", "reaction"]
    assert [child.name for child in both.children] == [
        "Create Issue Comment",
        "Add Issue Comment Reaction",
    ]
    marker = f"<!-- runio-{both.children[0].idempotency_key} -->"
    assert comments[1]["body"] == f"Done\n\n{marker}"


def test_repository_and_webhook_wrappers(world: World) -> None:
    async def body(gh: Any) -> Any:
        repo = await gh.get_repo("repo", repo=REPO)
        hook = await gh.create_repo_webhook(
            "hook", repo=REPO, url="https://example.com/hook", events=["issues"], secret="s3"
        )
        updated = await gh.update_repo_webhook(
            "update-hook", repo=REPO, hook_id=hook["id"], add_events=["push"], active=False
        )
        hooks = await gh.list_repo_webhooks("hooks", repo=REPO)
        org_hook = await gh.create_org_webhook(
            "org-hook", org="octo", url="https://example.com/org", events=["repository"]
        )
        org_updated = await gh.update_org_webhook(
            "update-org-hook", org="octo", hook_id=org_hook["id"], url="https://example.com/o2"
        )
        org_hooks = await gh.list_org_webhooks("org-hooks", org="octo")
        return {
            "repo": repo,
            "hook": hook,
            "updated": updated,
            "hooks": hooks,
            "org_hook": org_hook,
            "org_updated": org_updated,
            "org_hooks": org_hooks,
        }

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    assert out["repo"]["full_name"] == REPO and out["repo"]["url"].startswith(world.fake.url)
    assert out["hook"]["config"] == {
        "url": "https://example.com/hook",
        "content_type": "json",
        "insecure_ssl": "0",
        "secret": "********",
    }
    assert out["updated"]["events"] == ["issues", "push"] and out["updated"]["active"] is False
    assert [h["id"] for h in out["hooks"]] == [out["hook"]["id"]]
    assert world.repo.hook_secrets[out["hook"]["id"]] == "s3"
    assert out["org_updated"]["config"]["url"] == "https://example.com/o2"
    assert [h["id"] for h in out["org_hooks"]] == [out["org_hook"]["id"]]
    assert run.task("hook").params["secret"] == "[redacted]"  # a webhook secret is not recorded


def test_git_data_wrappers(world: World) -> None:
    author = {"name": "Ada", "email": "ada@example.com", "date": "2026-01-01T00:00:00Z"}

    async def body(gh: Any) -> Any:
        main = await gh.get_ref("main", repo=REPO, ref="heads/main")
        head = await gh.get_commit("head", repo=REPO, sha=main["object"]["sha"])
        blob = await gh.create_blob("blob", repo=REPO, content="hello\n")
        got_blob = await gh.get_blob("get-blob", repo=REPO, sha=blob["sha"])
        tree = await gh.create_tree(
            "tree",
            repo=REPO,
            base_tree=head["tree"]["sha"],
            tree=[{"path": "hello.txt", "mode": "100644", "type": "blob", "sha": blob["sha"]}],
        )
        got_tree = await gh.get_tree("get-tree", repo=REPO, sha=tree["sha"], recursive=True)
        commit = await gh.create_commit(
            "commit",
            repo=REPO,
            message="Add hello",
            tree=tree["sha"],
            parents=[head["sha"]],
            author=author,
        )
        branch = await gh.create_ref(
            "branch", repo=REPO, ref="refs/heads/feature", sha=commit["sha"]
        )
        moved = await gh.update_ref("move-main", repo=REPO, ref="heads/main", sha=commit["sha"])
        tag = await gh.create_tag(
            "tag", repo=REPO, tag="v1", message="One", object=commit["sha"], tagger=author
        )
        got_tag = await gh.get_tag("get-tag", repo=REPO, sha=tag["sha"])
        deleted = await gh.delete_ref("delete", repo=REPO, ref="heads/feature")
        return {
            "head": head,
            "got_blob": got_blob,
            "got_tree": got_tree,
            "commit": commit,
            "branch": branch,
            "moved": moved,
            "got_tag": got_tag,
            "deleted": deleted,
        }

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    repo = world.repo
    assert base64.b64decode(out["got_blob"]["content"]) == b"hello\n"
    assert sorted(e["path"] for e in out["got_tree"]["tree"]) == ["README.md", "hello.txt"]
    assert out["commit"]["parents"][0]["sha"] == out["head"]["sha"]
    assert out["branch"]["ref"] == "refs/heads/feature"
    assert out["moved"]["object"]["sha"] == out["commit"]["sha"] == repo.refs["refs/heads/main"]
    assert out["got_tag"]["tag"] == "v1" and out["got_tag"]["object"]["sha"] == out["commit"]["sha"]
    assert out["deleted"] == {"ref": "refs/heads/feature", "deleted": True}
    assert "refs/heads/feature" not in repo.refs


def test_pull_request_and_release_wrappers(world: World) -> None:
    world.fake.branch(REPO, "feature")
    world.fake.commit_on(REPO, "feature", "Work")

    async def body(gh: Any) -> Any:
        pull = await gh.create_pull_request(
            "pull", repo=REPO, title="Feature", head="feature", base="main", body="Adds it"
        )
        merged = await gh.merge_pull_request(
            "merge", repo=REPO, pull_number=pull["number"], merge_method="squash"
        )
        release = await gh.create_release(
            "release", repo=REPO, tag_name="v1.0", name="One", body="Notes"
        )
        return {"pull": pull, "merged": merged, "release": release}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    assert out["pull"]["head"]["ref"] == "feature" and out["pull"]["number"] == 1
    assert out["merged"]["merged"] is True
    assert world.repo.refs["refs/heads/main"] == out["merged"]["sha"]
    assert out["release"]["tag_name"] == "v1.0"
    pull_marker = f"<!-- runio-{run.task('pull').idempotency_key} -->"
    assert world.repo.issues[1]["body"] == f"Adds it\n\n{pull_marker}"
    assert world.repo.releases[out["release"]["id"]]["body"].endswith(
        f"<!-- runio-{run.task('release').idempotency_key} -->"
    )
    assert {"label": "Pull request", "text": "#1", "url": out["pull"]["html_url"]} in (
        run.task("pull").output_properties
    )


def test_run_task_gets_an_authenticated_pygithub_client(world: World) -> None:
    from runio_github import as_json

    def titles(client: Any, task: runio.Task) -> Any:
        repo = client.get_repo(REPO)
        repo.create_issue(title="from run_task")
        return as_json(repo.get_issues(state="all"))

    async def body(gh: Any) -> Any:
        return await gh.run_task("raw", titles, name="Raw PyGithub")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert [i["title"] for i in run.output] == ["from run_task"]
    assert run.task("raw").name == "Raw PyGithub"


def test_bad_input_fails_at_once_saying_what_to_do(world: World) -> None:
    async def body(gh: Any) -> Any:
        return await gh.create_issue("issue", repo="hello", title="x")

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("issue")
    assert [a.status for a in task.attempts] == ["ERRORED"]
    assert "'owner/name'" in str(task.error) and "'hello'" in str(task.error)
    assert world.fake.requests == []


def test_github_errors_fail_with_githubs_message(world: World) -> None:
    async def body(gh: Any) -> Any:
        return await gh.get_issue("missing", repo=REPO, issue_number=99)

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("missing")
    assert [a.status for a in task.attempts] == ["ERRORED"]
    message = str(task.error)
    assert "GitHub 404 on Get Issue: Not Found" in message
    assert "https://docs.github.com/rest" in message
