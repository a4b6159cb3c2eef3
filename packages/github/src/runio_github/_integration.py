"""The GitHub integration: settings, the PyGithub client, GitHub's error rules, the wrappers.

Each wrapper is one task of the run (``io.github.create_issue("open-issue", repo="octo/hello",
title=...)``) and returns GitHub's JSON. GitHub has no idempotency keys, so a write whose
outcome is unknown is kept from happening twice in one of three ways:

- creates that leave a new object behind (issues, comments, pull requests, releases) carry a
  hidden marker in their body, ``<!-- runio-<task's idempotency key> -->``; after an attempt
  whose outcome is unknown (the connection dropped after the request went out, the worker was
  killed mid-call), the task first lists what the token's user (a GitHub App's bot user)
  created since the task's first attempt began and returns the marked object if GitHub did
  apply the write. Never the search API: it lags behind writes by up to a minute;
- creates with a natural key (webhooks by URL, refs by name, merges by pull request, deleted
  refs) look that key up instead;
- writes that are idempotent by nature (labels, assignees, closing an issue, ref updates,
  reactions, content-addressed git objects) simply run again.

PyGithub is synchronous: the wrappers are plain functions the worker runs in its thread pool.
This module imports PyGithub; runio's core never does.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import github
from github import Auth
from github.GithubException import UnknownObjectException
from github.Repository import Repository
from pydantic import BaseModel

import runio
from runio.errors import (
    ConfigurationError,
    IntegrationSettingError,
    JobDefinitionError,
    NonRetryableError,
)
from runio.integrations import (
    WebhookDelivery,
    WebhookRegistration,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
)

from . import _webhooks
from ._errors import GitHubAPIError, classify_github_error
from ._events import (
    IssueCommentEvent,
    IssuesEvent,
    PullRequestEvent,
    PushEvent,
    ReleaseEvent,
)
from ._sdk import (
    DEFAULT_API_BASE,
    DEFAULT_TIMEOUT,
    app_bot_login,
    as_json,
    installation_auth,
    new_client,
)

DEFAULT_LIST_MAX_ITEMS = 100
_APP_ENV = ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID")
_BOT_LOGINS: dict[tuple[str, str], str] = {}  # (app id, base URL) -> the app's bot login

_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_MARKER_COMMENT = "<!-- {marker} -->"


# -- helpers -------------------------------------------------------------------------------------


def _repo_name(repo: Any) -> str:
    if not isinstance(repo, str) or not _REPO_NAME.fullmatch(repo):
        raise NonRetryableError(
            f"repo must name a repository as 'owner/name' (for example 'octo/hello'), not {repo!r}."
        )
    return repo


def _repository(client: github.Github, repo: str) -> Repository:
    """A lazy ``Repository``: no request until something is read from it."""
    return client.get_repo(_repo_name(repo))


def _ref_name(ref: str) -> str:
    """``heads/main`` or ``refs/heads/main`` -> ``heads/main`` (the API's path form)."""
    if not isinstance(ref, str) or not ref.strip("/"):
        raise NonRetryableError(f"ref must name a git reference such as 'heads/main', not {ref!r}.")
    return ref.removeprefix("refs/").strip("/")


def _request(
    client: github.Github,
    verb: str,
    url: str,
    *,
    input: Any = None,
    parameters: dict[str, Any] | None = None,
) -> Any:
    """One call through PyGithub's requester, for the answers its objects drop (``edit``
    methods return nothing): GitHub's JSON."""
    _, data = client.requester.requestJsonAndCheck(verb, url, parameters=parameters, input=input)
    return data


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def with_marker(body: str | None, marker: str) -> str:
    """``body`` with ``marker`` appended as an HTML comment (hidden when GitHub renders it)."""
    comment = _MARKER_COMMENT.format(marker=marker)
    return f"{body}\n\n{comment}" if body else comment


def has_marker(body: Any, marker: str) -> bool:
    return isinstance(body, str) and _MARKER_COMMENT.format(marker=marker) in body


def _props(*pairs: tuple[str, Any]) -> list[runio.Property]:
    """Properties from (label, value) pairs; a pair whose value is None (a parameter the call
    did not give) is left out."""
    return [runio.Property(label, str(value)) for label, value in pairs if value is not None]


def _issue_props(p: dict[str, Any], *pairs: tuple[str, Any]) -> list[runio.Property]:
    issue = p.get("issue_number")
    return _props(
        ("Repository", p.get("repo")),
        ("Issue", f"#{issue}" if issue is not None else None),
        *pairs,
    )


def _repo_props(p: dict[str, Any], *pairs: tuple[str, Any]) -> list[runio.Property]:
    return _props(("Repository", p.get("repo")), *pairs)


def _joined(values: Any) -> str | None:
    if isinstance(values, str):
        return values
    if isinstance(values, Iterable):
        return ", ".join(str(v) for v in values) or None
    return None


def _hook_config(
    url: str | None,
    secret: str | None,
    content_type: str | None,
    insecure_ssl: bool | None,
) -> dict[str, Any]:
    config = _given(url=url, secret=secret, content_type=content_type)
    if insecure_ssl is not None:
        config["insecure_ssl"] = "1" if insecure_ssl else "0"
    return config


def _link(task: runio.Task, label: str, data: Any, text: str | None = None) -> None:
    """Show the created object beside the task's output (``Issue #12`` linking to it)."""
    if isinstance(data, dict):
        shown = text or str(data.get("number") or data.get("id") or data.get("sha") or "")
        if shown:
            task.output_properties.append(
                runio.Property(label, shown, url=data.get("html_url") or None)
            )


def _register_hook(
    client: github.Github, repo: str, url: str, events: list[str], secret: str
) -> int:
    """Make (or bring up to date) ``repo``'s webhook for ``url``; its id."""
    config = {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}
    repository = _repository(client, repo)
    try:
        return int(repository.create_hook("web", config, events=events, active=True).id)
    except github.GithubException as exc:
        if exc.status != 422:  # 422: GitHub keeps one webhook per URL
            raise
        for hook in repository.get_hooks():
            if hook.config.get("url") == url:
                merged = list(dict.fromkeys([*hook.events, *events]))
                hook.edit("web", config, events=merged, active=True)
                return int(hook.id)
        raise


# -- the integration -------------------------------------------------------------------------------


class GitHub(runio.Integration[github.Github]):
    """GitHub: ``await io.github.create_issue("bug", repo="octo/hello", title="Broken")``.

    Settings (each an argument, else its environment variable): ``token``
    (``GITHUB_TOKEN``, secret: a personal access token or an installation token), or a GitHub
    App installation instead: ``app_id`` (``GITHUB_APP_ID``), ``app_private_key``
    (``GITHUB_APP_PRIVATE_KEY``, secret, PEM) and ``app_installation_id``
    (``GITHUB_APP_INSTALLATION_ID``); ``base_url`` (``GITHUB_API_BASE``, default
    ``https://api.github.com``; GitHub Enterprise Server's ``https://HOST/api/v3``, or a
    ``runio_github.testing.FakeGitHub``'s url) and ``timeout`` (seconds per request, default
    30).

    Repositories are named ``"owner/name"``. Every wrapper returns GitHub's JSON. GitHub has no
    idempotency keys: issues, comments, pull requests and releases carry a hidden marker and
    are looked up before being created again after an attempt of unknown outcome; see the
    module doc for the other writes. Errors follow GitHub's rules (rate limits wait for the
    reset or ``retry-after``; 5xx retried; 401/404/410/422 fail at once).
    """

    namespace = "github"
    name = "GitHub"
    icon = "github"
    package = "runio-github"
    idempotency = "marker"
    sdk_loggers = ("github",)

    token: str | None = runio.setting(
        env="GITHUB_TOKEN",
        required=False,  # unless a GitHub App is configured instead: see missing_settings
        help="Personal access or installation token (ghp_..., ghs_...)",
    )
    base_url: str = runio.setting(
        env="GITHUB_API_BASE",
        default=DEFAULT_API_BASE,
        secret=False,
        help="API base URL (GitHub Enterprise: https://HOST/api/v3; a FakeGitHub's url in tests)",
    )
    timeout: int = runio.setting(default=DEFAULT_TIMEOUT, secret=False, help="seconds per request")
    app_id: str | None = runio.setting(
        env="GITHUB_APP_ID",
        secret=False,
        required=False,
        help="GitHub App id, to act as an installation of the app instead of with a token",
    )
    app_private_key: str | None = runio.setting(
        env="GITHUB_APP_PRIVATE_KEY", required=False, help="the GitHub App's private key (PEM)"
    )
    app_installation_id: int | None = runio.setting(
        env="GITHUB_APP_INSTALLATION_ID",
        secret=False,
        required=False,
        help="the installation of the GitHub App to act as",
    )

    webhook_secret: str | None = runio.setting(
        env="GITHUB_WEBHOOK_SECRET",
        required=False,
        help="the secret of the GitHub webhook (repository Settings, Webhooks) that starts jobs",
    )

    webhook_help: ClassVar[str | None] = (
        "In the repository on GitHub: Settings, Webhooks, Add webhook. Payload URL: the endpoint "
        "URL above; Content type: application/json; Secret: the value of GITHUB_WEBHOOK_SECRET; "
        "then choose 'Let me select individual events' and tick the events listed above. "
        "GitHub sends a ping at once: it should get a green tick. (runio webhooks APP "
        "--register BASE_URL makes the webhook through the API, on the repositories the "
        "triggers name.)"
    )

    lookback: ClassVar[float] = 300.0
    """Seconds before a task's first attempt from which an earlier write is looked for: GitHub
    stamps objects with its own clock, which may differ from this machine's."""

    # -- credentials ---------------------------------------------------------------------------
    def _app(self) -> tuple[str, str, int] | None:
        """The GitHub App settings, when all three are given."""
        if self.app_id is None or self.app_private_key is None or self.app_installation_id is None:
            return None
        return self.app_id, self.app_private_key, self.app_installation_id

    @classmethod
    def missing_from_environment(cls, environ: dict[str, str] | None = None) -> list[str]:
        """What a default instance lacks: ``GITHUB_TOKEN``, unless the environment configures a
        GitHub App instead."""
        env = os.environ if environ is None else environ
        missing = super().missing_from_environment(environ)

        def given(name: str) -> bool:
            return bool((env.get(name) or "").strip())

        if given("GITHUB_TOKEN") or all(given(name) for name in _APP_ENV):
            return missing
        return [*missing, "GITHUB_TOKEN"]

    # -- the SDK client ------------------------------------------------------------------------
    def create_client(self) -> github.Github:
        """PyGithub on ``base_url`` with the token (or the GitHub App installation's tokens,
        which PyGithub renews): its retries and sleeps off, lazy objects, one connection per
        thread (see ``runio_github.new_client``)."""
        app = self._app()
        if self.token is not None:
            auth: Auth.Auth = Auth.Token(self.token)
        elif app is not None:
            try:
                Auth.AppAuth(app[0], app[1]).create_jwt()
            except Exception as exc:
                raise IntegrationSettingError(
                    f"GitHub integration {self.id!r}: app_private_key (GITHUB_APP_PRIVATE_KEY) "
                    f"is not a usable private key ({type(exc).__name__}); give the PEM file's "
                    "whole text, from -----BEGIN to the END line.",
                    integration=self.id,
                    setting="app_private_key",
                    env="GITHUB_APP_PRIVATE_KEY",
                ) from None
            auth = installation_auth(*app)
        else:
            raise IntegrationSettingError(
                f"GitHub integration {self.id!r} has no credentials: pass GitHub(token=...) or "
                "set GITHUB_TOKEN (a personal access or installation token), or configure a "
                "GitHub App with app_id, app_private_key and app_installation_id "
                "(GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID).",
                integration=self.id,
                setting="token",
                env="GITHUB_TOKEN",
            )
        return new_client(auth, base_url=self.base_url, timeout=int(self.timeout))

    async def close_client(self, client: github.Github) -> None:
        client.close()

    # -- errors --------------------------------------------------------------------------------
    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        """GitHub's rules (``runio_github.classify_github_error``): primary rate limit -> at
        ``x-ratelimit-reset``; secondary -> ``retry-after``, else at least 60 s, doubling;
        5xx and connection errors -> retry; other 4xx -> fail."""
        if isinstance(error, IntegrationSettingError):  # no credentials: retrying cannot help
            return runio.ErrorDecision.fail()
        return classify_github_error(error, attempt=task.attempt)

    def translate_error(self, error: Exception, task: runio.Task) -> Exception:
        """An error GitHub answered becomes a ``GitHubAPIError`` naming the task, with
        GitHub's message, validation errors, documentation URL and request id; connection
        errors stay the HTTP library's."""
        if isinstance(error, github.GithubException) and not isinstance(error, GitHubAPIError):
            return GitHubAPIError.from_github(error, call=task.name)
        return error

    # -- webhooks: triggers ----------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        """Check ``X-Hub-Signature-256`` (HMAC-SHA256 of the body with ``webhook_secret``,
        compared in constant time) and read the delivery: its ``X-GitHub-Event`` is the type,
        its ``X-GitHub-Delivery`` GUID the id (the same on a redelivery, so nothing runs
        twice), its JSON (or a ``form`` hook's ``payload`` field) the payload. A ``ping`` is
        answered and not stored. GitHub signs no timestamp: there is no staleness to check."""
        _webhooks.check_signature(request, self.require_setting("webhook_secret"))
        return _webhooks.read_delivery(request)

    def _trigger_repos(self) -> set[str]:
        """The repositories this instance's triggers name (``register_webhook``'s default)."""
        repos: set[str] = vars(self).setdefault("_runio_trigger_repos", set())
        return repos

    def on_event(
        self,
        event_type: str,
        *,
        action: str | Sequence[str] | None = None,
        repo: str | Sequence[str] | None = None,
        schema: type[BaseModel] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """A trigger for GitHub's ``event_type`` webhook events (the name GitHub sends in
        ``X-GitHub-Event``: ``issues``, ``push``, ``pull_request``, ``issue_comment``,
        ``release``, ``workflow_run``...), only with ``action`` (one or a list: ``opened``,
        ``closed``...) and only from ``repo`` (``owner/name``, or a list) when given, and
        matching ``filter`` (runio's event filter over GitHub's JSON). ``schema`` parses the
        payload the job receives (``runio_github.GitHubEvent`` fits any event); the raw event
        is ``ctx.event.payload``."""
        where = f"GitHub.on_event({event_type!r})"
        spec: dict[str, Any] = dict(filter or {})
        if action is not None:
            if "action" in spec:
                raise JobDefinitionError(
                    f"{where}: give the action as action=... or in filter=..., not both."
                )
            actions = [action] if isinstance(action, str) else list(action)
            if not actions or not all(isinstance(a, str) and a for a in actions):
                raise JobDefinitionError(
                    f"{where}: action must name GitHub's action (e.g. 'opened') or list them, "
                    f"not {action!r}."
                )
            spec["action"] = actions
        if repo is not None:
            repos = [repo] if isinstance(repo, str) else list(repo)
            bad = [r for r in repos if not isinstance(r, str) or not _REPO_NAME.fullmatch(r)]
            if not repos or bad:
                raise JobDefinitionError(
                    f"{where}: repo must name repositories as 'owner/name' (e.g. "
                    f"'octo/hello'), not {repo!r}."
                )
            repository = spec.get("repository", {})
            if not isinstance(repository, Mapping) or "full_name" in repository:
                raise JobDefinitionError(
                    f"{where}: give the repository as repo=... or in filter=..., not both."
                )
            spec["repository"] = {**repository, "full_name": repos}
        trigger = self.webhook_trigger(
            _webhooks.check_event_type(event_type, where), schema=schema, filter=spec or None
        )
        if repo is not None:
            self._trigger_repos().update(spec["repository"]["full_name"])
        return trigger

    def on_issue_opened(self, repo: str | Sequence[str] | None = None) -> WebhookTrigger:
        """A trigger for issues opened (in ``repo``, when given); the job receives an
        ``IssuesEvent`` (``payload.issue.number``, ``.title``, ``.body``, ``.user.login``)."""
        return self.on_event("issues", action="opened", repo=repo, schema=IssuesEvent)

    def on_issue_comment(
        self,
        repo: str | Sequence[str] | None = None,
        *,
        action: str | Sequence[str] | None = "created",
    ) -> WebhookTrigger:
        """A trigger for comments on issues and pull requests (``created`` ones by default;
        ``action=None`` for edits and deletions too); the job receives an ``IssueCommentEvent``
        (``payload.comment.body``, ``payload.issue.number``)."""
        return self.on_event("issue_comment", action=action, repo=repo, schema=IssueCommentEvent)

    def on_push(
        self, repo: str | Sequence[str] | None = None, *, branch: str | None = None
    ) -> WebhookTrigger:
        """A trigger for pushes (to ``branch`` only, when given: its ref is
        ``refs/heads/<branch>``); the job receives a ``PushEvent`` (``payload.ref``,
        ``.branch``, ``.commits``, ``.head_commit``)."""
        spec = None
        if branch is not None:
            if not isinstance(branch, str) or not branch.strip("/") or branch.startswith("refs/"):
                raise JobDefinitionError(
                    f"GitHub.on_push(branch=...) names a branch such as 'main', not {branch!r}."
                )
            spec = {"ref": [f"refs/heads/{branch}"]}
        return self.on_event("push", repo=repo, schema=PushEvent, filter=spec)

    def on_pull_request(
        self,
        repo: str | Sequence[str] | None = None,
        *,
        action: str | Sequence[str] | None = "opened",
    ) -> WebhookTrigger:
        """A trigger for pull requests ``action`` (``opened`` by default; ``closed`` with
        ``payload.pull_request.merged`` for merges; ``None`` for every action); the job
        receives a ``PullRequestEvent``."""
        return self.on_event("pull_request", action=action, repo=repo, schema=PullRequestEvent)

    def on_release_published(self, repo: str | Sequence[str] | None = None) -> WebhookTrigger:
        """A trigger for releases published; the job receives a ``ReleaseEvent``
        (``payload.release.tag_name``)."""
        return self.on_event("release", action="published", repo=repo, schema=ReleaseEvent)

    def register_webhook(
        self, url: str, events: Sequence[str], *, repos: Sequence[str] | None = None
    ) -> WebhookRegistration:
        """Make a webhook delivering ``events`` to ``url`` on each of ``repos`` (by default the
        repositories this instance's triggers name) through GitHub's API (``POST /repos/{owner}
        /{repo}/hooks``, content type JSON, signed with ``webhook_secret``). A repository that
        already has a webhook for ``url`` gets its events added and its secret set instead, so
        running it again is safe (after a failure on one repository, say). The registration's
        id lists ``owner/name#<hook id>`` for each repository."""
        secret: str = self.require_setting("webhook_secret")
        names = sorted(self._trigger_repos()) if repos is None else list(repos)
        if not names:
            raise ConfigurationError(
                f"GitHub integration {self.id!r}: no repository to make the webhook on; name one "
                "in the triggers (github.on_issue_opened(repo='owner/name')) or pass repos=[...] "
                "(an organisation's webhook is made by hand: " + str(self.webhook_help) + ")"
            )
        bad = [r for r in names if not isinstance(r, str) or not _REPO_NAME.fullmatch(r)]
        if bad:
            raise ConfigurationError(
                f"GitHub.register_webhook: repositories are named 'owner/name', not {bad[0]!r}."
            )
        wanted = list(dict.fromkeys(events))
        try:
            for event in wanted:
                _webhooks.check_event_type(event, "GitHub.register_webhook")
        except JobDefinitionError as exc:
            raise ConfigurationError(str(exc)) from None
        if not wanted:
            raise ConfigurationError(
                "GitHub.register_webhook needs the events to deliver (e.g. ['issues', 'push'])."
            )
        if not isinstance(url, str) or not re.match(r"https?://", url):
            raise ConfigurationError(
                f"GitHub.register_webhook needs the endpoint's http(s) URL, not {url!r}."
            )
        client = self.create_client()
        made: list[str] = []
        try:
            for name in names:
                try:
                    made.append(f"{name}#{_register_hook(client, name, url, wanted, secret)}")
                except github.GithubException as exc:
                    raise GitHubAPIError.from_github(
                        exc, call=f"register_webhook on {name}"
                    ) from None
        finally:
            client.close()
        return WebhookRegistration(id=", ".join(made), url=url, events=tuple(wanted))

    # -- helpers for wrappers ------------------------------------------------------------------
    def _since(self, task: runio.Task) -> datetime:
        """Since when to look for this task's earlier write: its first attempt's start, less
        ``lookback`` for the difference between clocks."""
        started = task.started_at if task.started_at is not None else time.time()
        return datetime.fromtimestamp(started - self.lookback, tz=UTC)

    def _login(self, client: github.Github) -> str:
        """Who creates what this instance creates: the token's user (``GET /user``), or the
        GitHub App's bot user (``<slug>[bot]``, from ``GET /app``; installations have no
        user)."""
        app = self._app()
        if self.token is not None or app is None:
            return str(_request(client, "GET", "/user")["login"])
        key = (app[0], self.base_url)
        if key not in _BOT_LOGINS:
            _BOT_LOGINS[key] = app_bot_login(app[0], app[1], base_url=self.base_url)
        return _BOT_LOGINS[key]

    # -- repositories --------------------------------------------------------------------------
    @runio.integration_task(name="Get Repository", effect="read", properties=_repo_props)
    def get_repo(self, client: github.Github, task: runio.Task, /, *, repo: str) -> dict[str, Any]:
        """Get repository ``repo`` (``GET /repos/{owner}/{repo}``)."""
        data: dict[str, Any] = _repository(client, repo).raw_data
        _link(task, "Repository", data, data.get("full_name"))
        return data

    # -- issues --------------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Issue",
        effect="write",
        properties=lambda p: _repo_props(p, ("Title", p.get("title"))),
    )
    def create_issue(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        title: str,
        body: str | None = None,
        assignees: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        milestone: int | None = None,
    ) -> dict[str, Any]:
        """Create an issue (``POST /repos/{owner}/{repo}/issues``): ``title``, ``body``
        (Markdown), ``assignees``, ``labels`` (created when the repository lacks them),
        ``milestone`` (its number). Returns the issue. Exactly once: the body carries the
        task's hidden marker."""
        data = _request(
            client,
            "POST",
            f"{_repository(client, repo).url}/issues",
            input=_given(
                title=title,
                body=with_marker(body, self.marker(task)),
                assignees=list(assignees) if assignees is not None else None,
                labels=list(labels) if labels is not None else None,
                milestone=milestone,
            ),
        )
        _link(task, "Issue", data, f"#{data.get('number')}")
        return data  # type: ignore[no-any-return]

    @create_issue.find_previous
    def _find_issue(
        self, client: github.Github, task: runio.Task, /, *, repo: str, **params: Any
    ) -> dict[str, Any] | None:
        marker = self.marker(task)
        issues = _repository(client, repo).get_issues(
            state="all",
            # PyGithub's annotation asks for a NamedUser, but it takes a login (asserted so), and
            # a NamedUser would cost a request to fetch.
            creator=self._login(client),  # type: ignore[arg-type]
            since=self._since(task),
            sort="created",
            direction="desc",
        )
        for issue in issues:
            if has_marker(issue.body, marker):
                data: dict[str, Any] = as_json(issue)
                _link(task, "Issue", data, f"#{data.get('number')}")
                return data
        return None

    @runio.integration_task(name="Get Issue", effect="read", properties=_issue_props)
    def get_issue(
        self, client: github.Github, task: runio.Task, /, *, repo: str, issue_number: int
    ) -> dict[str, Any]:
        """Get issue (or pull request) ``issue_number`` of ``repo``
        (``GET /repos/{owner}/{repo}/issues/{issue_number}``)."""
        data: dict[str, Any] = _repository(client, repo).get_issue(issue_number).raw_data
        return data

    @runio.integration_task(
        name="Close Issue",
        effect="idempotent",
        properties=lambda p: _issue_props(p, ("Reason", p.get("state_reason"))),
    )
    def close_issue(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        state_reason: str = "completed",
    ) -> dict[str, Any]:
        """Close issue ``issue_number`` (``PATCH .../issues/{issue_number}``, ``state``
        ``closed``), ``state_reason`` ``completed`` or ``not_planned``. Returns the issue.
        Idempotent: closing a closed issue changes nothing."""
        url = f"{_repository(client, repo).url}/issues/{int(issue_number)}"
        return _request(  # type: ignore[no-any-return]
            client, "PATCH", url, input={"state": "closed", "state_reason": state_reason}
        )

    @runio.integration_task(
        name="Add Issue Assignees",
        effect="idempotent",
        properties=lambda p: _issue_props(p, ("Assignees", _joined(p.get("assignees")))),
    )
    def add_issue_assignees(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        assignees: Sequence[str],
    ) -> dict[str, Any]:
        """Add ``assignees`` (logins) to issue ``issue_number``
        (``POST .../issues/{issue_number}/assignees``). Returns the issue. Idempotent."""
        url = f"{_repository(client, repo).url}/issues/{int(issue_number)}/assignees"
        return _request(  # type: ignore[no-any-return]
            client, "POST", url, input={"assignees": list(assignees)}
        )

    @runio.integration_task(
        name="Add Issue Labels",
        effect="idempotent",
        properties=lambda p: _issue_props(p, ("Labels", _joined(p.get("labels")))),
    )
    def add_issue_labels(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        labels: Sequence[str],
    ) -> list[dict[str, Any]]:
        """Add ``labels`` (names; GitHub creates missing ones) to issue ``issue_number``
        (``POST .../issues/{issue_number}/labels``). Returns all the issue's labels.
        Idempotent."""
        url = f"{_repository(client, repo).url}/issues/{int(issue_number)}/labels"
        return _request(  # type: ignore[no-any-return]
            client, "POST", url, input={"labels": list(labels)}
        )

    # -- comments and reactions ----------------------------------------------------------------
    @runio.integration_task(name="Create Issue Comment", effect="write", properties=_issue_props)
    def create_issue_comment(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        body: str,
    ) -> dict[str, Any]:
        """Comment ``body`` (Markdown) on issue or pull request ``issue_number``
        (``POST .../issues/{issue_number}/comments``). Returns the comment. Exactly once: the
        body carries the task's hidden marker."""
        issue = _repository(client, repo).get_issue(int(issue_number))
        data: dict[str, Any] = issue.create_comment(with_marker(body, self.marker(task))).raw_data
        _link(task, "Comment", data)
        return data

    @create_issue_comment.find_previous
    def _find_issue_comment(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        **params: Any,
    ) -> dict[str, Any] | None:
        marker = self.marker(task)
        login = self._login(client)
        issue = _repository(client, repo).get_issue(int(issue_number))
        for comment in issue.get_comments(since=self._since(task)):
            if as_json(comment).get("user", {}).get("login") == login and has_marker(
                comment.body, marker
            ):
                data: dict[str, Any] = as_json(comment)
                _link(task, "Comment", data)
                return data
        return None

    @runio.integration_task(
        name="Add Issue Comment Reaction",
        effect="idempotent",
        properties=lambda p: _repo_props(
            p, ("Comment", p.get("comment_id")), ("Reaction", p.get("content"))
        ),
    )
    def add_issue_comment_reaction(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        comment_id: int,
        content: str,
    ) -> dict[str, Any]:
        """React to issue comment ``comment_id`` with ``content`` (``+1``, ``-1``, ``laugh``,
        ``confused``, ``heart``, ``hooray``, ``rocket``, ``eyes``)
        (``POST .../issues/comments/{comment_id}/reactions``). Returns the reaction.
        Idempotent: GitHub answers an existing reaction of the same user with itself."""
        url = f"{_repository(client, repo).url}/issues/comments/{int(comment_id)}/reactions"
        return _request(client, "POST", url, input={"content": content})  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Comment With Reaction",
        effect="idempotent",
        properties=lambda p: _issue_props(p, ("Reaction", p.get("reaction"))),
    )
    async def create_issue_comment_with_reaction(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        issue_number: int,
        body: str,
        reaction: str,
    ) -> dict[str, Any]:
        """Comment on issue ``issue_number`` and react to the comment: two subtasks,
        ``create_issue_comment`` (exactly once, by marker) then
        ``add_issue_comment_reaction``. Returns the comment with the reaction under
        ``"reaction"``. Running it again is safe: each subtask's result is stored. (It makes no
        call itself, so it runs on the event loop; its subtasks run in the thread pool.)"""
        me = runio.integrations.use(self)
        comment = await me.create_issue_comment(
            "comment", repo=repo, issue_number=issue_number, body=body
        )
        added = await me.add_issue_comment_reaction(
            "reaction", repo=repo, comment_id=comment["id"], content=reaction
        )
        return {**comment, "reaction": added}

    # -- webhooks ------------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Repository Webhook",
        effect="write",
        properties=lambda p: _repo_props(
            p, ("URL", p.get("url")), ("Events", _joined(p.get("events")))
        ),
        secret_params=("secret",),
    )
    def create_repo_webhook(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        url: str,
        events: Sequence[str] = ("push",),
        secret: str | None = None,
        content_type: str = "json",
        insecure_ssl: bool = False,
        active: bool = True,
    ) -> dict[str, Any]:
        """Create a webhook on ``repo`` delivering ``events`` to ``url``
        (``POST /repos/{owner}/{repo}/hooks``), signed with ``secret`` (never recorded with
        the task). Returns the hook. Exactly once: GitHub allows one hook per URL, and after an
        attempt of unknown outcome the hook with this URL is looked up first."""
        data: dict[str, Any] = (
            _repository(client, repo)
            .create_hook(
                "web",
                _hook_config(url, secret, content_type, insecure_ssl),
                events=list(events),
                active=active,
            )
            .raw_data
        )
        _link(task, "Webhook", data)
        return data

    @create_repo_webhook.find_previous
    def _find_repo_webhook(
        self, client: github.Github, task: runio.Task, /, *, repo: str, url: str, **params: Any
    ) -> dict[str, Any] | None:
        for hook in _repository(client, repo).get_hooks():
            if as_json(hook).get("config", {}).get("url") == url:
                data: dict[str, Any] = as_json(hook)
                _link(task, "Webhook", data)
                return data
        return None

    @runio.integration_task(
        name="Update Repository Webhook",
        effect="idempotent",
        properties=lambda p: _repo_props(p, ("Webhook", p.get("hook_id")), ("URL", p.get("url"))),
        secret_params=("secret",),
    )
    def update_repo_webhook(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        hook_id: int,
        url: str | None = None,
        events: Sequence[str] | None = None,
        add_events: Sequence[str] | None = None,
        remove_events: Sequence[str] | None = None,
        secret: str | None = None,
        content_type: str | None = None,
        insecure_ssl: bool | None = None,
        active: bool | None = None,
    ) -> dict[str, Any]:
        """Update webhook ``hook_id`` of ``repo`` (``PATCH /repos/{owner}/{repo}/hooks/
        {hook_id}``): only what is given changes (``events`` replaces the list,
        ``add_events``/``remove_events`` edit it). Returns the hook. Idempotent."""
        config = _hook_config(url, secret, content_type, insecure_ssl)
        payload = _given(
            config=config or None,
            events=list(events) if events is not None else None,
            add_events=list(add_events) if add_events is not None else None,
            remove_events=list(remove_events) if remove_events is not None else None,
            active=active,
        )
        hook_url = f"{_repository(client, repo).url}/hooks/{int(hook_id)}"
        return _request(client, "PATCH", hook_url, input=payload)  # type: ignore[no-any-return]

    @runio.integration_task(
        name="List Repository Webhooks",
        effect="read",
        properties=lambda p: _repo_props(p, ("Max items", p.get("max_items"))),
    )
    def list_repo_webhooks(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        max_items: int = DEFAULT_LIST_MAX_ITEMS,
    ) -> list[dict[str, Any]]:
        """The webhooks of ``repo`` (``GET /repos/{owner}/{repo}/hooks``), following GitHub's
        pages up to ``max_items`` (default 100)."""
        return as_json(  # type: ignore[no-any-return]
            _repository(client, repo).get_hooks(), max_items=max_items
        )

    @runio.integration_task(
        name="Create Organization Webhook",
        effect="write",
        properties=lambda p: _props(
            ("Organization", p.get("org")),
            ("URL", p.get("url")),
            ("Events", _joined(p.get("events"))),
        ),
        secret_params=("secret",),
    )
    def create_org_webhook(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        org: str,
        url: str,
        events: Sequence[str] = ("push",),
        secret: str | None = None,
        content_type: str = "json",
        insecure_ssl: bool = False,
        active: bool = True,
    ) -> dict[str, Any]:
        """Create a webhook on organisation ``org`` delivering ``events`` to ``url``
        (``POST /orgs/{org}/hooks``), signed with ``secret`` (never recorded). Returns the
        hook. Exactly once, like ``create_repo_webhook``: looked up by URL after an unknown
        outcome."""
        data: dict[str, Any] = (
            client.get_organization(org)
            .create_hook(
                "web",
                _hook_config(url, secret, content_type, insecure_ssl),
                events=list(events),
                active=active,
            )
            .raw_data
        )
        _link(task, "Webhook", data)
        return data

    @create_org_webhook.find_previous
    def _find_org_webhook(
        self, client: github.Github, task: runio.Task, /, *, org: str, url: str, **params: Any
    ) -> dict[str, Any] | None:
        for hook in client.get_organization(org).get_hooks():
            if as_json(hook).get("config", {}).get("url") == url:
                data: dict[str, Any] = as_json(hook)
                _link(task, "Webhook", data)
                return data
        return None

    @runio.integration_task(
        name="Update Organization Webhook",
        effect="idempotent",
        properties=lambda p: _props(("Organization", p.get("org")), ("Webhook", p.get("hook_id"))),
        secret_params=("secret",),
    )
    def update_org_webhook(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        org: str,
        hook_id: int,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        content_type: str | None = None,
        insecure_ssl: bool | None = None,
        active: bool | None = None,
    ) -> dict[str, Any]:
        """Update webhook ``hook_id`` of organisation ``org`` (``PATCH /orgs/{org}/hooks/
        {hook_id}``): only what is given changes. Returns the hook. Idempotent."""
        config = _hook_config(url, secret, content_type, insecure_ssl)
        payload = _given(
            config=config or None,
            events=list(events) if events is not None else None,
            active=active,
        )
        hook_url = f"{client.get_organization(org).url}/hooks/{int(hook_id)}"
        return _request(client, "PATCH", hook_url, input=payload)  # type: ignore[no-any-return]

    @runio.integration_task(
        name="List Organization Webhooks",
        effect="read",
        properties=lambda p: _props(("Organization", p.get("org"))),
    )
    def list_org_webhooks(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        org: str,
        max_items: int = DEFAULT_LIST_MAX_ITEMS,
    ) -> list[dict[str, Any]]:
        """The webhooks of organisation ``org`` (``GET /orgs/{org}/hooks``), up to
        ``max_items`` (default 100)."""
        return as_json(  # type: ignore[no-any-return]
            client.get_organization(org).get_hooks(), max_items=max_items
        )

    # -- git data ------------------------------------------------------------------------------
    @runio.integration_task(name="Create Blob", effect="idempotent", properties=_repo_props)
    def create_blob(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        content: str,
        encoding: str = "utf-8",
    ) -> dict[str, Any]:
        """Store ``content`` as a blob (``POST .../git/blobs``), ``encoding`` ``utf-8`` or
        ``base64``. Returns ``{"sha", "url"}``. Idempotent: git objects are addressed by their
        content, so the same content is the same blob."""
        blob = _repository(client, repo).create_git_blob(content, encoding)
        return blob.raw_data

    @runio.integration_task(
        name="Get Blob", effect="read", properties=lambda p: _repo_props(p, ("SHA", p.get("sha")))
    )
    def get_blob(
        self, client: github.Github, task: runio.Task, /, *, repo: str, sha: str
    ) -> dict[str, Any]:
        """Get blob ``sha`` (``GET .../git/blobs/{sha}``): its ``content`` in base64."""
        return _repository(client, repo).get_git_blob(sha).raw_data

    @runio.integration_task(
        name="Create Tree",
        effect="idempotent",
        properties=lambda p: _repo_props(p, ("Base tree", p.get("base_tree"))),
    )
    def create_tree(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        tree: Sequence[dict[str, Any]],
        base_tree: str | None = None,
    ) -> dict[str, Any]:
        """Create a tree (``POST .../git/trees``) from ``tree`` entries (``path``, ``mode``,
        ``type``, and ``sha`` or ``content``) on top of ``base_tree`` (a tree sha). Returns the
        tree. Idempotent: the same entries are the same tree."""
        url = f"{_repository(client, repo).url}/git/trees"
        payload = _given(tree=[dict(entry) for entry in tree], base_tree=base_tree)
        return _request(client, "POST", url, input=payload)  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Get Tree", effect="read", properties=lambda p: _repo_props(p, ("SHA", p.get("sha")))
    )
    def get_tree(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        sha: str,
        recursive: bool = False,
    ) -> dict[str, Any]:
        """Get tree ``sha`` (``GET .../git/trees/{sha}``), every level when ``recursive``."""
        found = _repository(client, repo).get_git_tree(sha, recursive=recursive)
        return found.raw_data

    @runio.integration_task(
        name="Create Commit",
        effect="idempotent",
        properties=lambda p: _repo_props(p, ("Message", p.get("message"))),
    )
    def create_commit(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        message: str,
        tree: str,
        parents: Sequence[str],
        author: dict[str, str] | None = None,
        committer: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a commit (``POST .../git/commits``) of ``tree`` with ``parents`` (shas);
        ``author``/``committer`` as ``{"name", "email", "date"}``. Returns the commit.
        Idempotent: a commit object changes nothing until a ref points at it (give ``date``s
        to get the very same sha on a retry)."""
        url = f"{_repository(client, repo).url}/git/commits"
        payload = _given(
            message=message,
            tree=tree,
            parents=list(parents),
            author=dict(author) if author else None,
            committer=dict(committer) if committer else None,
        )
        data = _request(client, "POST", url, input=payload)
        _link(task, "Commit", data, str(data.get("sha", ""))[:7])
        return data  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Get Commit",
        effect="read",
        properties=lambda p: _repo_props(p, ("SHA", p.get("sha"))),
    )
    def get_commit(
        self, client: github.Github, task: runio.Task, /, *, repo: str, sha: str
    ) -> dict[str, Any]:
        """Get git commit ``sha`` (``GET .../git/commits/{sha}``)."""
        return _repository(client, repo).get_git_commit(sha).raw_data

    @runio.integration_task(
        name="Get Reference",
        effect="read",
        properties=lambda p: _repo_props(p, ("Ref", p.get("ref"))),
    )
    def get_ref(
        self, client: github.Github, task: runio.Task, /, *, repo: str, ref: str
    ) -> dict[str, Any]:
        """Get reference ``ref`` (``heads/main``, ``tags/v1``; ``GET .../git/ref/{ref}``)."""
        url = f"{_repository(client, repo).url}/git/ref/{urllib.parse.quote(_ref_name(ref))}"
        return _request(client, "GET", url)  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Create Reference",
        effect="write",
        properties=lambda p: _repo_props(p, ("Ref", p.get("ref")), ("SHA", p.get("sha"))),
    )
    def create_ref(
        self, client: github.Github, task: runio.Task, /, *, repo: str, ref: str, sha: str
    ) -> dict[str, Any]:
        """Create reference ``ref`` (``refs/heads/feature``) at ``sha``
        (``POST .../git/refs``). Returns the reference. Exactly once: a reference name exists
        once, and after an attempt of unknown outcome one already pointing at ``sha`` is
        returned."""
        full = "refs/" + _ref_name(ref)
        return _request(  # type: ignore[no-any-return]
            client,
            "POST",
            f"{_repository(client, repo).url}/git/refs",
            input={"ref": full, "sha": sha},
        )

    @create_ref.find_previous
    def _find_ref(
        self, client: github.Github, task: runio.Task, /, *, repo: str, ref: str, sha: str
    ) -> dict[str, Any] | None:
        url = f"{_repository(client, repo).url}/git/ref/{urllib.parse.quote(_ref_name(ref))}"
        try:
            found = _request(client, "GET", url)
        except UnknownObjectException:
            return None
        return found if found.get("object", {}).get("sha") == sha else None

    @runio.integration_task(
        name="Update Reference",
        effect="idempotent",
        properties=lambda p: _repo_props(p, ("Ref", p.get("ref")), ("SHA", p.get("sha"))),
    )
    def update_ref(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        ref: str,
        sha: str,
        force: bool = False,
    ) -> dict[str, Any]:
        """Point reference ``ref`` at ``sha`` (``PATCH .../git/refs/{ref}``); GitHub refuses a
        move that is not a fast-forward unless ``force``. Returns the reference. Idempotent:
        moving a ref to where it already is changes nothing."""
        url = f"{_repository(client, repo).url}/git/refs/{urllib.parse.quote(_ref_name(ref))}"
        return _request(  # type: ignore[no-any-return]
            client, "PATCH", url, input={"sha": sha, "force": bool(force)}
        )

    @runio.integration_task(
        name="Delete Reference",
        effect="write",
        properties=lambda p: _repo_props(p, ("Ref", p.get("ref"))),
    )
    def delete_ref(
        self, client: github.Github, task: runio.Task, /, *, repo: str, ref: str
    ) -> dict[str, Any]:
        """Delete reference ``ref`` (``DELETE .../git/refs/{ref}``). Returns ``{"ref",
        "deleted": true}``. After an attempt of unknown outcome a reference already gone counts
        as deleted (GitHub would refuse the second delete)."""
        name = _ref_name(ref)
        url = f"{_repository(client, repo).url}/git/refs/{urllib.parse.quote(name)}"
        _request(client, "DELETE", url)
        return {"ref": f"refs/{name}", "deleted": True}

    @delete_ref.find_previous
    def _find_deleted_ref(
        self, client: github.Github, task: runio.Task, /, *, repo: str, ref: str
    ) -> dict[str, Any] | None:
        name = _ref_name(ref)
        url = f"{_repository(client, repo).url}/git/ref/{urllib.parse.quote(name)}"
        try:
            _request(client, "GET", url)
        except UnknownObjectException:
            return {"ref": f"refs/{name}", "deleted": True}
        return None

    @runio.integration_task(
        name="Create Tag",
        effect="idempotent",
        properties=lambda p: _repo_props(p, ("Tag", p.get("tag")), ("Object", p.get("object"))),
    )
    def create_tag(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        tag: str,
        message: str,
        object: str,
        type: str = "commit",
        tagger: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create an annotated tag object (``POST .../git/tags``) named ``tag`` for
        ``object`` (a sha of ``type`` commit, tree or blob); ``tagger`` as ``{"name",
        "email", "date"}``. Returns the tag; create ``refs/tags/<tag>`` with ``create_ref`` to
        publish it. Idempotent: a tag object changes nothing until a ref points at it."""
        url = f"{_repository(client, repo).url}/git/tags"
        payload = _given(
            tag=tag, message=message, object=object, type=type, tagger=dict(tagger or {}) or None
        )
        return _request(client, "POST", url, input=payload)  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Get Tag", effect="read", properties=lambda p: _repo_props(p, ("SHA", p.get("sha")))
    )
    def get_tag(
        self, client: github.Github, task: runio.Task, /, *, repo: str, sha: str
    ) -> dict[str, Any]:
        """Get annotated tag object ``sha`` (``GET .../git/tags/{sha}``)."""
        return _repository(client, repo).get_git_tag(sha).raw_data

    # -- pull requests -------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Pull Request",
        effect="write",
        properties=lambda p: _repo_props(
            p, ("Title", p.get("title")), ("Head", p.get("head")), ("Base", p.get("base"))
        ),
    )
    def create_pull_request(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        title: str,
        head: str,
        base: str,
        body: str | None = None,
        draft: bool = False,
        maintainer_can_modify: bool | None = None,
    ) -> dict[str, Any]:
        """Open a pull request of ``head`` (a branch, or ``owner:branch``) into ``base``
        (``POST /repos/{owner}/{repo}/pulls``). Returns the pull request. Exactly once: the
        body carries the task's hidden marker."""
        kwargs: dict[str, Any] = _given(maintainer_can_modify=maintainer_can_modify)
        pull = _repository(client, repo).create_pull(
            base=base,
            head=head,
            title=title,
            body=with_marker(body, self.marker(task)),
            draft=draft,
            **kwargs,
        )
        data: dict[str, Any] = as_json(pull)
        _link(task, "Pull request", data, f"#{data.get('number')}")
        return data

    @create_pull_request.find_previous
    def _find_pull_request(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        head: str,
        base: str,
        **params: Any,
    ) -> dict[str, Any] | None:
        marker = self.marker(task)
        owner = _repo_name(repo).split("/")[0]
        label = head if ":" in head else f"{owner}:{head}"
        since = self._since(task)
        pulls = _repository(client, repo).get_pulls(
            state="all", head=label, base=base, sort="created", direction="desc"
        )
        for pull in pulls:
            if pull.created_at < since:
                break
            if has_marker(pull.body, marker):
                data: dict[str, Any] = as_json(pull)
                _link(task, "Pull request", data, f"#{data.get('number')}")
                return data
        return None

    @runio.integration_task(
        name="Merge Pull Request",
        effect="write",
        properties=lambda p: _repo_props(
            p, ("Pull request", f"#{p.get('pull_number')}"), ("Method", p.get("merge_method"))
        ),
    )
    def merge_pull_request(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        pull_number: int,
        commit_title: str | None = None,
        commit_message: str | None = None,
        merge_method: str | None = None,
        sha: str | None = None,
    ) -> dict[str, Any]:
        """Merge pull request ``pull_number`` (``PUT .../pulls/{pull_number}/merge``),
        ``merge_method`` ``merge``, ``squash`` or ``rebase``; with ``sha``, only if the head
        is still that commit. Returns ``{"sha", "merged", "message"}``. Exactly once: after an
        attempt of unknown outcome a pull request already merged is reported as merged."""
        url = f"{_repository(client, repo).url}/pulls/{int(pull_number)}/merge"
        payload = _given(
            commit_title=commit_title,
            commit_message=commit_message,
            merge_method=merge_method,
            sha=sha,
        )
        return _request(client, "PUT", url, input=payload)  # type: ignore[no-any-return]

    @merge_pull_request.find_previous
    def _find_merge(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        pull_number: int,
        **params: Any,
    ) -> dict[str, Any] | None:
        pull = _repository(client, repo).get_pull(int(pull_number)).raw_data
        if not pull.get("merged"):
            return None
        return {
            "sha": pull.get("merge_commit_sha"),
            "merged": True,
            "message": "Pull Request successfully merged",
        }

    # -- releases ------------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Release",
        effect="write",
        properties=lambda p: _repo_props(p, ("Tag", p.get("tag_name")), ("Name", p.get("name"))),
    )
    def create_release(
        self,
        client: github.Github,
        task: runio.Task,
        /,
        *,
        repo: str,
        tag_name: str,
        name: str | None = None,
        body: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        target_commitish: str | None = None,
        generate_release_notes: bool = False,
        make_latest: str | None = None,
    ) -> dict[str, Any]:
        """Create a release of tag ``tag_name`` (``POST /repos/{owner}/{repo}/releases``;
        GitHub creates the tag at ``target_commitish`` when it does not exist). Returns the
        release. Exactly once: the body carries the task's hidden marker."""
        payload = _given(
            tag_name=tag_name,
            name=name,
            body=with_marker(body, self.marker(task)),
            draft=draft,
            prerelease=prerelease,
            target_commitish=target_commitish,
            generate_release_notes=generate_release_notes,
            make_latest=make_latest,
        )
        data = _request(client, "POST", f"{_repository(client, repo).url}/releases", input=payload)
        _link(task, "Release", data, data.get("tag_name"))
        return data  # type: ignore[no-any-return]

    @create_release.find_previous
    def _find_release(
        self, client: github.Github, task: runio.Task, /, *, repo: str, **params: Any
    ) -> dict[str, Any] | None:
        marker = self.marker(task)
        since = self._since(task)
        for release in _repository(client, repo).get_releases():
            if release.created_at < since:
                break
            if has_marker(release.body, marker):
                data: dict[str, Any] = as_json(release)
                _link(task, "Release", data, data.get("tag_name"))
                return data
        return None
