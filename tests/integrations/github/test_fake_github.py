"""FakeGitHub driven through PyGithub: every endpoint the wrappers use answers as GitHub does
(shapes, its own URLs, Link pagination, rate-limit headers, errors), and its faults look like
GitHub's to the SDK."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import github
import pytest
import requests
from github import Auth, InputGitAuthor
from github_helpers import REPO, TOKEN, rsa_key_pair, sdk_client
from runio_github import as_json
from runio_github._sdk import ThreadSafeGithub, app_bot_login, installation_auth, new_client
from runio_github.testing import FakeGitHub


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_issues_are_created_read_closed_and_listed(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = gh.get_repo(REPO)
    issue = repo.create_issue(title="Broken", body="Steps", labels=["bug"], assignees=["ada"])
    assert issue.number == 1
    data = issue.raw_data
    assert data["url"] == f"{fake.url}/repos/{REPO}/issues/1"
    assert data["user"]["login"] == fake.login
    assert [label["name"] for label in data["labels"]] == ["bug"]
    assert [a["login"] for a in data["assignees"]] == ["ada"]

    fetched = repo.get_issue(1)  # lazy: fetched from its own URL on first read
    assert fetched.title == "Broken" and fetched.state == "open"
    fetched.edit(state="closed", state_reason="not_planned")
    assert fake.repo(REPO).issues[1]["state"] == "closed"
    assert fake.repo(REPO).issues[1]["state_reason"] == "not_planned"
    assert [i.number for i in repo.get_issues()] == []  # open only, by default
    assert [i.number for i in repo.get_issues(state="closed")] == [1]


def test_issue_listing_filters_like_github(gh: ThreadSafeGithub) -> None:
    clock = Clock(1_800_000_000.0)
    with FakeGitHub(token=TOKEN, clock=clock, login="bot") as fake:
        fake.add_repo(REPO)
        client = sdk_client(fake)
        repo = client.get_repo(REPO)
        first = repo.create_issue(title="old")
        clock.now += 600
        second = repo.create_issue(title="new", labels=["bug"])
        fake.login = "someone-else"
        other = repo.create_issue(title="by another user")
        fake.login = "bot"

        since = datetime.fromtimestamp(clock.now - 60, tz=UTC)
        mine = repo.get_issues(state="all", creator="bot", since=since)
        assert [i.number for i in mine] == [second.number]
        ascending = repo.get_issues(state="all", sort="created", direction="asc")
        assert [i.number for i in ascending] == [first.number, second.number, other.number]
        assert [i.number for i in repo.get_issues(labels=["bug"])] == [second.number]
        # Updating an old issue makes it show up in a `since` listing (since is by update time).
        clock.now += 60
        first.edit(body="touched")
        recent = repo.get_issues(state="all", since=datetime.fromtimestamp(clock.now, tz=UTC))
        assert [i.number for i in recent] == [first.number]
        client.close()


def test_lists_page_by_link_header(fake: FakeGitHub) -> None:
    client = sdk_client(fake, per_page=2)
    repo = client.get_repo(REPO)
    for n in range(5):
        repo.create_issue(title=f"issue {n}")
    numbers = [i.number for i in repo.get_issues(state="all")]
    assert numbers == [5, 4, 3, 2, 1]
    pages = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert [r.query.get("page") for r in pages] == [None, ["2"], ["3"]]  # then the Link URLs

    answer = requests.get(
        f"{fake.url}/repos/{REPO}/issues",
        params={"per_page": 2, "page": 2, "state": "all"},
        headers={"Authorization": f"token {TOKEN}"},
        timeout=10,
    )
    links = answer.links
    assert links["next"]["url"].startswith(fake.url)
    assert "page=3" in links["next"]["url"] and "state=all" in links["next"]["url"]
    assert "page=1" in links["prev"]["url"] and "page=3" in links["last"]["url"]
    client.close()


def test_labels_assignees_comments_and_reactions(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = gh.get_repo(REPO)
    issue = repo.create_issue(title="Hello")
    issue.add_to_labels("bug", "help wanted")
    issue.add_to_labels("bug")  # labels are a set
    assert [label["name"] for label in fake.repo(REPO).issues[1]["labels"]] == [
        "bug",
        "help wanted",
    ]
    issue.add_to_assignees("ada", "grace")
    issue.add_to_assignees("ada")
    assert [a["login"] for a in fake.repo(REPO).issues[1]["assignees"]] == ["ada", "grace"]

    comment = issue.create_comment("First!")
    assert comment.raw_data["issue_url"] == issue.raw_data["url"]
    assert [c.body for c in issue.get_comments()] == ["First!"]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert list(issue.get_comments(since=later)) == []

    reaction = comment.create_reaction("rocket")
    again = comment.create_reaction("rocket")
    assert again.id == reaction.id  # GitHub answers the existing reaction
    statuses = [r.status for r in fake.requests if r.path.endswith("/reactions")]
    assert statuses == [201, 200]
    with pytest.raises(github.GithubException) as raised:
        comment.create_reaction("thumbsup")
    assert raised.value.status == 422


def test_repository_and_missing_objects(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = as_json(gh.get_repo(REPO))
    assert repo["full_name"] == REPO and repo["default_branch"] == "main"
    assert repo["url"] == f"{fake.url}/repos/{REPO}"
    with pytest.raises(github.UnknownObjectException) as raised:
        as_json(gh.get_repo("octo/missing"))
    assert raised.value.status == 404
    assert raised.value.data["message"] == "Not Found"
    assert raised.value.data["documentation_url"].startswith("https://docs.github.com/")


def test_repository_and_organisation_webhooks(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = gh.get_repo(REPO)
    config = {"url": "https://example.com/hook", "content_type": "json", "secret": "s3cret"}
    hook = repo.create_hook("web", config, events=["issues"], active=True)
    assert hook.config["secret"] == "********"
    assert hook.raw_data["url"] == f"{fake.url}/repos/{REPO}/hooks/{hook.id}"
    assert fake.repo(REPO).hook_secrets[hook.id] == "s3cret"
    with pytest.raises(github.GithubException) as raised:
        repo.create_hook("web", {"url": "https://example.com/hook"})
    assert raised.value.status == 422
    assert "Hook already exists" in str(raised.value.data["errors"])
    hook.edit("web", {"url": "https://example.com/other"}, events=["push", "issues"])
    assert [h.config["url"] for h in repo.get_hooks()] == ["https://example.com/other"]
    assert fake.repo(REPO).hook_secrets[hook.id] == "s3cret"  # kept when not given

    org = gh.get_organization("octo")
    org_hook = org.create_hook("web", {"url": "https://example.com/org"}, events=["repository"])
    edited = org.get_hook(org_hook.id)
    edited.edit("web", {"url": "https://example.com/org2"}, active=False)
    assert edited.active is False
    assert [h.config["url"] for h in org.get_hooks()] == ["https://example.com/org2"]
    with pytest.raises(github.UnknownObjectException):
        list(gh.get_organization("nobody").get_hooks())


def test_git_data(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = gh.get_repo(REPO)
    blob = repo.create_git_blob("hello\n", "utf-8")
    assert blob.sha == hashlib.sha1(b"blob 6\0hello\n").hexdigest()  # what git computes
    assert repo.get_git_blob(blob.sha).content == "aGVsbG8K\n"
    again = repo.create_git_blob("aGVsbG8K", "base64")
    assert again.sha == blob.sha  # content-addressed: the same blob

    main = repo.get_git_ref("heads/main")
    head = repo.get_git_commit(main.object.sha)
    base_tree = repo.get_git_tree(head.tree.sha)
    element = github.InputGitTreeElement("hello.txt", "100644", "blob", sha=blob.sha)
    tree = repo.create_git_tree([element], base_tree)
    assert sorted(e.path for e in repo.get_git_tree(tree.sha).tree) == ["README.md", "hello.txt"]
    author = InputGitAuthor("Ada", "ada@example.com", "2026-01-01T00:00:00Z")
    commit = repo.create_git_commit("Add hello", tree, [head], author=author)
    assert [p.sha for p in commit.parents] == [head.sha]
    assert repo.create_git_commit("Add hello", tree, [head], author=author).sha == commit.sha

    ref = repo.create_git_ref("refs/heads/feature", commit.sha)
    assert ref.raw_data["url"] == f"{fake.url}/repos/{REPO}/git/refs/heads/feature"
    with pytest.raises(github.GithubException) as raised:
        repo.create_git_ref("refs/heads/feature", commit.sha)
    assert raised.value.status == 422 and raised.value.data["message"] == "Reference already exists"
    main.edit(commit.sha)  # a fast-forward
    with pytest.raises(github.GithubException) as raised:
        main.edit(head.sha)
    assert raised.value.data["message"] == "Update is not a fast forward"
    main.edit(head.sha, force=True)
    assert fake.repo(REPO).refs["refs/heads/main"] == head.sha

    tag = repo.create_git_tag("v1", "First", commit.sha, "commit", tagger=author)
    assert repo.get_git_tag(tag.sha).tag == "v1"
    ref.delete()
    assert "refs/heads/feature" not in fake.repo(REPO).refs
    with pytest.raises(github.GithubException) as raised:
        ref.delete()
    assert raised.value.data["message"] == "Reference does not exist"


def test_pull_requests_and_releases(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    fake.branch(REPO, "feature")
    fake.commit_on(REPO, "feature", "Work")
    repo = gh.get_repo(REPO)
    pull = repo.create_pull(base="main", head="feature", title="Feature", body="Adds it")
    assert pull.number == 1 and pull.raw_data["head"]["label"] == "octo:feature"
    with pytest.raises(github.GithubException) as raised:
        repo.create_pull(base="main", head="feature", title="Again")
    assert "A pull request already exists" in str(raised.value.data)
    assert [p.number for p in repo.get_pulls(state="all", head="octo:feature")] == [1]
    assert repo.get_issue(1).raw_data["pull_request"]["url"].endswith("/pulls/1")

    merged = pull.merge(commit_message="Thanks", merge_method="merge")
    assert merged.merged and fake.repo(REPO).refs["refs/heads/main"] == merged.sha
    assert repo.get_pull(1).merged
    with pytest.raises(github.GithubException) as raised:
        pull.merge()
    assert raised.value.status == 405

    release = repo.create_git_release("v1.0", name="One", message="Notes", draft=False)
    assert release.raw_data["tag_name"] == "v1.0" and "refs/tags/v1.0" in fake.repo(REPO).refs
    with pytest.raises(github.GithubException) as raised:
        repo.create_git_release("v1.0", name="Again", message="")
    assert raised.value.status == 422 and "already_exists" in str(raised.value.data)
    assert [r.tag_name for r in repo.get_releases()] == ["v1.0"]


def test_rate_limit_headers_and_the_primary_limit(gh: ThreadSafeGithub) -> None:
    clock = Clock(1_800_000_000.0)
    with FakeGitHub(token=TOKEN, clock=clock, rate_limit=3) as fake:
        fake.add_repo(REPO)
        client = sdk_client(fake)
        for _ in range(3):
            client.get_repo(REPO).raw_data  # noqa: B018 - fetch it
        assert client.rate_limiting == (0, 3)
        assert client.rate_limiting_resettime == 1_800_003_600
        with pytest.raises(github.RateLimitExceededException) as raised:
            client.get_repo(REPO).raw_data  # noqa: B018
        assert raised.value.status == 403
        assert raised.value.headers["x-ratelimit-remaining"] == "0"
        assert raised.value.headers["x-ratelimit-reset"] == "1800003600"
        clock.now += 3600  # the window resets
        assert client.get_repo(REPO).raw_data["full_name"] == REPO
        client.close()


def test_injected_rate_limits(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    fake.primary_rate_limit(reset_in=120)
    with pytest.raises(github.RateLimitExceededException) as primary:
        gh.get_user().login  # noqa: B018
    reset = int(primary.value.headers["x-ratelimit-reset"])
    assert abs(reset - (datetime.now(UTC).timestamp() + 120)) < 5
    fake.secondary_rate_limit(retry_after=30)
    with pytest.raises(github.RateLimitExceededException) as secondary:
        gh.get_user().login  # noqa: B018
    assert secondary.value.headers["retry-after"] == "30"
    assert secondary.value.headers["x-ratelimit-remaining"] != "0"
    fake.secondary_rate_limit(status=429)
    with pytest.raises(github.GithubException) as limited:
        gh.get_user().login  # noqa: B018
    assert limited.value.status == 429 and "retry-after" not in limited.value.headers
    assert gh.get_user().login == fake.login


def test_tokens_are_checked(fake: FakeGitHub) -> None:
    wrong = sdk_client(fake, token="ghp_wrong")
    with pytest.raises(github.BadCredentialsException) as raised:
        wrong.get_user().login  # noqa: B018
    assert raised.value.data["message"] == "Bad credentials"
    anonymous = github.Github(base_url=fake.url, retry=None)
    with pytest.raises(github.GithubException) as missing:
        anonymous.get_user("ada").login  # noqa: B018
    assert missing.value.status == 401
    assert all(
        r.header("Authorization") in (None, "token ghp_wrong")
        for r in fake.requests
        if r.status == 401
    )


def test_faults_look_like_github_to_the_sdk(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    fake.fail_next(502, path=r"/repos/octo/hello/issues")
    with pytest.raises(github.GithubException) as raised:
        gh.get_repo(REPO).create_issue(title="x")
    assert raised.value.status == 502 and raised.value.data["message"] == "Server Error"
    assert fake.repo(REPO).issues == {}

    fake.drop_after_write(path=r"/repos/octo/hello/issues")
    with pytest.raises(requests.ConnectionError):
        gh.get_repo(REPO).create_issue(title="applied, answer lost")
    assert [i["title"] for i in fake.repo(REPO).issues.values()] == ["applied, answer lost"]
    assert gh.get_repo(REPO).create_issue(title="next").number == 2  # the client recovers


def test_held_write_is_applied_before_its_answer(fake: FakeGitHub) -> None:
    hold = fake.hold_after_write(method="POST", path=r"/repos/octo/hello/issues")
    client = sdk_client(fake)
    done = threading.Event()

    def create() -> None:
        client.get_repo(REPO).create_issue(title="held")
        done.set()

    thread = threading.Thread(target=create)
    thread.start()
    held = hold.wait_applied(timeout=30)
    assert held.path == f"/repos/{REPO}/issues"
    assert [i["title"] for i in fake.repo(REPO).issues.values()] == ["held"]
    assert not done.is_set()
    hold.release()
    thread.join(30)
    assert done.is_set()
    client.close()


def test_one_client_is_safe_to_share_between_threads(fake: FakeGitHub) -> None:
    """PyGithub's connection object holds the request in flight between sending it and reading
    the answer, so threads sharing one must not share that object: each thread gets its own
    requester (and connection), and objects keep the requester of the thread that made them.
    The race itself is a few bytecodes wide, so the structure is checked as well as the
    answers."""
    repo = sdk_client(fake).get_repo(REPO)
    for n in range(6):
        repo.create_issue(title=f"issue {n + 1}")
    client = new_client(Auth.Token(TOKEN), base_url=fake.url)
    answers: dict[int, list[str]] = {}
    requesters: dict[int, object] = {}
    start = threading.Barrier(6)

    def read(offset: int) -> None:
        start.wait()
        mine = client.get_repo(REPO)
        requesters[offset] = client.requester
        assert mine.requester is client.requester
        answers[offset] = [mine.get_issue((offset + k) % 6 + 1).title for k in range(15)]

    threads = [threading.Thread(target=read, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 6
    for offset, titles in answers.items():
        assert titles == [f"issue {(offset + k) % 6 + 1}" for k in range(15)]
    assert len({id(r) for r in requesters.values()}) == 6
    assert client.requester not in requesters.values()
    client.close()
    assert client.get_user().login == fake.login  # usable again after close


def test_as_json_converts_pygithub_answers(fake: FakeGitHub, gh: ThreadSafeGithub) -> None:
    repo = gh.get_repo(REPO)
    repo.create_issue(title="one")
    repo.create_issue(title="two")
    converted = as_json(
        {"issues": repo.get_issues(), "when": datetime(2026, 1, 1, tzinfo=UTC), "n": (1, 2)}
    )
    assert [i["title"] for i in converted["issues"]] == ["two", "one"]
    assert converted["when"] == "2026-01-01T00:00:00+00:00" and converted["n"] == [1, 2]
    assert as_json(repo.get_issues(), max_items=1)[0]["title"] == "two"


def test_seeding_sets_state_up_without_being_recorded(fake: FakeGitHub) -> None:
    issue = fake.seed("POST", f"/repos/{REPO}/issues", {"title": "Old"})
    comment = fake.seed("POST", f"/repos/{REPO}/issues/{issue['number']}/comments", {"body": "x"})
    assert fake.repo(REPO).comments[comment["id"]]["body"] == "x"
    assert fake.requests == [] and fake.writes == []
    with pytest.raises(ValueError, match="422"):
        fake.seed("POST", f"/repos/{REPO}/issues", {"title": ""})


def test_github_app_installations(fake: FakeGitHub) -> None:
    private, public = rsa_key_pair()
    fake.add_app(42, public, slug="triager", installation_id=7)
    client = new_client(installation_auth(42, private, 7), base_url=fake.url)
    issue = client.get_repo(REPO).create_issue(title="by the app")
    assert issue.raw_data["user"]["login"] == "triager[bot]"
    assert app_bot_login(42, private, base_url=fake.url) == "triager[bot]"
    exchanged = [r for r in fake.requests if r.path == "/app/installations/7/access_tokens"]
    assert [r.status for r in exchanged] == [201]
    token = next(iter(fake.installation_tokens))
    assert issue.raw_data["user"]["login"] == "triager[bot]" and token.startswith("ghs_")
    mine = client.get_repo(REPO).get_issues(state="all", creator="triager[bot]")
    assert [i.title for i in mine] == ["by the app"]
    with pytest.raises(github.GithubException) as forbidden:
        client.get_user().login  # noqa: B018 - an installation has no user
    assert forbidden.value.status == 403
    other_private, _ = rsa_key_pair()
    with pytest.raises(github.GithubException) as refused:
        new_client(installation_auth(42, other_private, 7), base_url=fake.url).get_user().login  # noqa: B018
    assert refused.value.status == 401
    client.close()
