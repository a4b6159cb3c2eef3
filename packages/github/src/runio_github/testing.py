"""``FakeGitHub``: the GitHub REST API as a local HTTP server, for this package's tests and for
the tests of apps that use it.

A real HTTP server on 127.0.0.1 (runio's ``FakeVendorServer``), so PyGithub talks to it
unchanged: ``github.Github(auth=Auth.Token(token), base_url=server.url)``, or
``GitHub(token=token, base_url=server.url)``. It implements the endpoints behind runio-github's
wrappers, with GitHub's shapes and conventions:

- repositories (``add_repo("octo/hello")`` seeds one, with a ``main`` branch holding one
  commit), organisations (``add_org("octo")``) and the authenticated user (``GET /user``);
- issues (create, get, update, list with ``state``/``creator``/``since``/``labels``/
  ``assignee``/``sort``/``direction``; pull requests are issues too, as on GitHub), labels,
  assignees, comments (list with ``since``), comment reactions (200 for one that exists,
  201 for a new one);
- repository and organisation webhooks (create, get, update, list; a second hook with the same
  URL is refused with 422, as GitHub does; secrets are answered as ``********``);
- git data: blobs (real git SHA-1 of the content), trees, commits, tags and refs (create,
  fast-forward or forced update, delete); pull requests (create, get, list, merge) and releases;
- every object carries its own ``url`` on this server (PyGithub follows them and asserts they
  are on its base host); lists page by ``per_page``/``page`` with a ``Link`` header;
- every answer has ``x-ratelimit-limit``/``-remaining``/``-reset``/``-used``/``-resource`` and
  an ``x-github-request-id``; once ``rate_limit`` requests are used in a window the answer is
  GitHub's primary rate limit (403, remaining 0) until the reset time;
- tokens: ``Authorization: token ...`` or ``Bearer ...``; with ``token=`` only that one is
  accepted; otherwise any. A refused token gets 401 ``Bad credentials``;
- errors are GitHub's: ``{"message", "documentation_url"}`` (and ``errors`` for 422).

Fault injection: the base's ``fail_next`` (here with GitHub's error body), ``drop_after_write``
(apply, then drop the connection) and ``hold_after_write`` (apply the next write and keep its
answer until released: a client killed mid-request; other calls are answered meanwhile), plus
``primary_rate_limit`` and ``secondary_rate_limit``. Errors raised in handlers
(``runio.testing.FakeError``) are answered in GitHub's shape by ``render_error``. Time comes
from ``clock`` (a callable returning epoch seconds), so a test clock drives timestamps and
rate-limit resets. It is a fake: no git
repository exists behind it (trees and commits are content-addressed JSON, not git objects),
and merges do not combine trees. This module does not touch runio-github's integration.

Webhooks, as GitHub sends them: ``send_event(url, event, payload, secret=...)`` delivers one
now (signed ``X-Hub-Signature-256`` and SHA-1 ``X-Hub-Signature``, ``X-GitHub-Event``, a GUID
in ``X-GitHub-Delivery``, ``User-Agent: GitHub-Hookshot/...``; ``signature=`` forges one) and
``redeliver`` sends one again with the same GUID. The fake's own hooks are notified too, in the
background and in order: a new hook (of a repository or an organisation) gets a ``ping``;
issues opened, closed and reopened (``issues``), comments (``issue_comment``), pull requests
opened and merged (``pull_request``), releases created and published (``release``) and branch
or tag moves, ``commit_on`` included (``push``), each through the API, reach the hooks that
subscribe to the event (``"*"``: all), signed with the hook's secret, as JSON or as a form
(``content_type``, ``form`` by default as on GitHub). ``wait_for_webhooks()`` blocks until
they are sent; ``hook_deliveries`` (and ``GET .../hooks/{id}/deliveries``) records each, and
``POST .../deliveries/{id}/attempts`` redelivers one. Only hooks on 127.0.0.1 or localhost
are sent to: the fake never reaches beyond this machine.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import hmac
import ipaddress
import json as jsonlib
import logging
import queue
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any, TypeVar

import httpx

from runio.testing import (
    FakeError,
    FakeRequest,
    FakeResponse,
    FakeVendorServer,
    Hold,
    WebhookSent,
    route,
)

__all__ = ["FakeGitHub", "FakeRepo", "Hold"]

DOCS = "https://docs.github.com/rest"
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
_DEFAULT_MESSAGES = {
    400: "Problems parsing JSON",
    401: "Bad credentials",
    403: "Resource not accessible by integration",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
}


class _Problem(FakeError):
    """Raised by a handler to answer with a GitHub error (``render_error`` shapes it)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(status, message, errors=errors, documentation_url=documentation_url)


def _not_found() -> _Problem:
    return _Problem(404, "Not Found")


def _invalid(resource: str, field_name: str, code: str = "invalid", message: str = "") -> _Problem:
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return _Problem(422, "Validation Failed", errors=[error])


log = logging.getLogger("runio_github.testing")


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _git_sha(kind: str, content: bytes) -> str:
    """The SHA-1 git gives an object of ``kind`` with ``content``."""
    return hashlib.sha1(f"{kind} {len(content)}\0".encode() + content).hexdigest()


@dataclass
class FakeRepo:
    """One repository's state in a ``FakeGitHub`` (all by number, id or sha)."""

    data: dict[str, Any]
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Issues and pull requests' issue records, by number."""
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Issue comments by id (their ``issue_url`` says which issue)."""
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Reactions by comment id."""
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    hook_secrets: dict[int, str] = field(default_factory=dict)
    blobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    trees: dict[str, dict[str, Any]] = field(default_factory=dict)
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    """``refs/heads/main`` -> commit sha."""
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return str(self.data["full_name"])

    def issue_comments(self, number: int) -> list[dict[str, Any]]:
        suffix = f"/issues/{number}"
        return [c for c in self.comments.values() if c["issue_url"].endswith(suffix)]


H = TypeVar("H", bound=Callable[..., Any])


def _endpoint(method: str, path: str) -> Callable[[H], H]:
    """A route whose handler may raise ``_Problem`` to answer with a GitHub error."""

    def mark(fn: H) -> H:
        @functools.wraps(fn)
        def handler(self: FakeGitHub, request: FakeRequest) -> FakeResponse:
            try:
                return fn(self, request)  # type: ignore[no-any-return]
            except FakeError as problem:
                return self.render_error(problem)

        return route(method, path)(handler)  # type: ignore[return-value]

    return mark


_REF_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/refs?/(?P<ref>.+)$")


class FakeGitHub(FakeVendorServer):
    """The GitHub REST API (the parts runio-github wraps) as a local server; see the module doc.

    ``FakeGitHub(token=...)`` accepts only that token (any other gets 401 ``Bad
    credentials``); ``login`` is the authenticated user every token belongs to. ``repos``
    and ``orgs`` hold the state (``repos["octo/hello"].issues``...); ``add_repo``/``add_org``
    seed them, or ``FakeGitHub(repos=["octo/hello"], orgs=["octo"])`` once started;
    ``rate_limit`` is the number of requests a window of ``rate_limit_window`` seconds allows.

    On its own: ``python -m runio_github.testing --port 12113`` serves one with ``octo/hello``
    and ``octo``, accepting any token.
    """

    idempotency_header = None  # GitHub deduplicates nothing

    def __init__(
        self,
        token: str | None = None,
        *,
        login: str = "runio-bot",
        clock: Callable[[], float] = time.time,
        rate_limit: int = 5000,
        rate_limit_window: float = 3600.0,
        repos: Iterable[str] = (),
        orgs: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self._initial_repos = list(repos)
        self._initial_orgs = list(orgs)
        self.token = token
        self.login = login
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_limit_window = rate_limit_window
        self.repos: dict[str, FakeRepo] = {}
        self.orgs: dict[str, dict[str, Any]] = {}
        self.org_hooks: dict[str, dict[int, dict[str, Any]]] = {}
        self.org_hook_secrets: dict[int, str] = {}
        self._sequence = 0
        self._used = 0
        self._window_reset: float | None = None
        self.request_ids: list[str] = []
        self.apps: dict[str, dict[str, Any]] = {}
        """GitHub Apps by app id (``add_app``)."""
        self.installation_tokens: dict[str, str] = {}
        """Installation tokens handed out, and the app id each belongs to."""
        self._actor: str | None = None  # who makes the current request (handlers run one at a time)
        self._app: str | None = None  # the app whose JWT authenticates the current request
        self.hook_deliveries: list[dict[str, Any]] = []
        """What the fake's hooks were sent (GitHub's delivery records, plus ``hook_id``,
        ``url`` and ``request``), in order; ``webhook_deliveries`` has the HTTP side."""
        self._webhook_queue: queue.Queue[Any] = queue.Queue()
        self._webhook_thread: threading.Thread | None = None
        self._webhooks_done = threading.Condition()
        self._webhooks_pending = 0

    def start(self, *, port: int = 0) -> FakeGitHub:
        """Listen (see ``FakeVendorServer.start``), then seed the ``repos`` and ``orgs`` given
        to the constructor: their objects carry the server's URL."""
        super().start(port=port)
        with self.lock:
            for org in self._initial_orgs:
                if org not in self.orgs:
                    self.add_org(org)
            for name in self._initial_repos:
                if name not in self.repos:
                    self.add_repo(name)
        return self

    def stop(self) -> None:
        """Stop serving, and the background deliveries to hooks (those queued go first)."""
        thread, self._webhook_thread = self._webhook_thread, None
        if thread is not None:
            self._webhook_queue.put(None)
            thread.join(timeout=30)
        super().stop()

    # -- ids, time, answers --------------------------------------------------------------------
    def next_id(self) -> int:
        """A fresh numeric id (GitHub's ids are integers)."""
        self._sequence += 1
        return self._sequence

    def now(self) -> float:
        return float(self.clock())

    def timestamp(self, when: float | None = None) -> str:
        """ISO 8601 in UTC, as GitHub writes times: ``2026-12-01T14:55:00Z``."""
        moment = datetime.fromtimestamp(self.now() if when is None else when, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def api(self, path: str) -> str:
        """An absolute URL of this server (what ``url`` fields hold)."""
        return self.url + path

    def web(self, path: str) -> str:
        """A web page URL (``html_url``), on this server too."""
        return self.url + "/_web" + path

    def user(self, login: str | None = None) -> dict[str, Any]:
        """A user object: ``login``'s, by default the one making the current request."""
        login = login or self._actor or self.login
        number = int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)
        return {
            "login": login,
            "id": number,
            "node_id": f"U_{number}",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
            "url": self.api(f"/users/{login}"),
            "html_url": self.web(f"/{login}"),
        }

    def _rate_headers(self) -> dict[str, str]:
        now = self.now()
        if self._window_reset is None or now >= self._window_reset:
            self._window_reset = now + self.rate_limit_window
            self._used = 0
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - self._used)),
            "x-ratelimit-reset": str(int(self._window_reset)),
            "x-ratelimit-used": str(self._used),
            "x-ratelimit-resource": "core",
        }

    def _headers(self) -> dict[str, str]:
        request_id = f"{self.next_id():04X}:{self._sequence * 7919 % 65536:04X}"
        self.request_ids.append(request_id)
        return {
            **self._rate_headers(),
            "x-github-request-id": request_id,
            "x-github-api-version-selected": "2022-11-28",
        }

    def reply(
        self, obj: Any, status: int = 200, request: FakeRequest | None = None
    ) -> FakeResponse:
        """A JSON answer with GitHub's headers."""
        return FakeResponse(status, json=copy.deepcopy(obj), headers=self._headers())

    def render_error(self, error: FakeError) -> FakeResponse:
        """GitHub's error body, ``{"message", "errors"?, "documentation_url", "status"}``, with
        the rate-limit headers of every answer (and the error's own)."""
        body: dict[str, Any] = {"message": error.message or _DEFAULT_MESSAGES.get(error.status)}
        if error.fields.get("errors"):
            body["errors"] = error.fields["errors"]
        body["documentation_url"] = error.fields.get("documentation_url") or DOCS
        body["status"] = str(error.status)
        return FakeResponse(error.status, json=body, headers={**self._headers(), **error.headers})

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> FakeResponse:
        """A GitHub error answer (``{"message", "documentation_url"}``) for ``status``, for
        ``fail_next``: ``error_response(422, "Validation Failed", errors=[...])``; ``fields``
        are ``errors`` and ``documentation_url`` (default ``https://docs.github.com/rest``)."""
        errors = fields.pop("errors", None)
        documentation_url = str(fields.pop("documentation_url", DOCS))
        if fields:
            raise TypeError(f"GitHub's errors have no field(s) {', '.join(sorted(fields))}")
        default = _DEFAULT_MESSAGES.get(status, "Error")
        response = self.render_error(
            _Problem(status, message or default, errors=errors, documentation_url=documentation_url)
        )
        response.headers.update(headers or {})
        return response

    # -- fault injection -----------------------------------------------------------------------
    def fail_next(
        self,
        status: int | FakeResponse = 500,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with ``status`` (GitHub's error body for it
        unless ``json`` gives the body) and ``headers``, without applying them.
        ``method``/``path`` (a regular expression) pick the calls; by default every call."""
        if isinstance(status, int):
            response = self.error_response(status, headers=headers)
            if json is not None:
                response.json = json
            status = response
        super().fail_next(status, times=times, method=method, path=path)

    def primary_rate_limit(
        self,
        reset_in: float,
        *,
        status: int = 403,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> FakeResponse:
        """Answer the next ``times`` matching calls with GitHub's primary rate limit: 403
        ``API rate limit exceeded...``, ``x-ratelimit-remaining: 0`` and the reset ``reset_in``
        seconds from now (on ``clock``). Returns the answer."""
        response = self.primary_rate_limit_response(reset_in, status=status)
        super().fail_next(response, times=times, method=method, path=path)
        return response

    def primary_rate_limit_response(self, reset_in: float, *, status: int = 403) -> FakeResponse:
        reset = int(self.now() + reset_in)
        response = self.error_response(
            status,
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
            "please include the request ID.",
            documentation_url="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        )
        response.headers.update(
            {
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-used": str(self.rate_limit),
            }
        )
        return response

    def secondary_rate_limit(
        self,
        retry_after: float | None = None,
        *,
        status: int = 403,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> FakeResponse:
        """Answer the next ``times`` matching calls with a secondary rate limit (403 or 429
        ``You have exceeded a secondary rate limit...``), with ``retry-after`` when given
        (GitHub sometimes sends none). The primary limit is not exhausted. Returns the answer."""
        response = self.error_response(
            status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID.",
            documentation_url="https://docs.github.com/free-pro-team@latest/rest/overview/"
            "rate-limits-for-the-rest-api#about-secondary-rate-limits",
        )
        if retry_after is not None:
            response.headers["retry-after"] = str(int(retry_after))
        super().fail_next(response, times=times, method=method, path=path)
        return response

    # -- what the conformance suite asks of a fake -------------------------------------------
    def rate_limit_response(self, retry_after: float, *, now: float) -> FakeResponse:
        """GitHub's primary rate limit, resetting ``retry_after`` seconds after ``now``."""
        response = self.primary_rate_limit_response(0)
        response.headers["x-ratelimit-reset"] = str(int(now + retry_after))
        return response

    def transient_error_response(self) -> FakeResponse:
        return self.error_response(502, "Server Error")

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        return self.error_response(
            422,
            message,
            documentation_url="https://docs.github.com/rest/issues/issues#create-an-issue",
        )

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.render_error(
            _Problem(
                404,
                f"Not Found ({request.method} {request.path}: FakeGitHub implements only part "
                "of the GitHub API, see runio_github.testing)",
            )
        )

    # -- auth and the rate limit ---------------------------------------------------------------
    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        self._actor = self._app = None
        if not header:
            return self.render_error(_Problem(401, "Requires authentication"))
        if scheme.lower() not in ("token", "bearer") or not token:
            return self.render_error(_Problem(401, "Bad credentials"))
        if self.apps and token.count(".") == 2:  # a GitHub App's JWT: for /app endpoints only
            self._app = self._app_of_jwt(token)
            if self._app is None:
                return self.render_error(_Problem(401, "A JSON web token could not be decoded"))
            if not request.path.startswith("/app"):
                return self.render_error(
                    _Problem(403, "A JSON web token cannot be used for this request")
                )
            return None
        if token in self.installation_tokens:
            self._actor = f"{self.apps[self.installation_tokens[token]]['slug']}[bot]"
        elif self.token is None or token == self.token:
            self._actor = self.login
        else:
            return self.render_error(_Problem(401, "Bad credentials"))
        self._rate_headers()
        if self._used >= self.rate_limit:
            return self._exhausted()
        self._used += 1
        return None

    def _exhausted(self) -> FakeResponse:
        response = self.primary_rate_limit_response(0)
        assert self._window_reset is not None
        response.headers["x-ratelimit-reset"] = str(int(self._window_reset))
        return response

    def _handle(self, request: FakeRequest) -> FakeResponse:
        found = _REF_PATH.match(request.path)
        if found is not None and not request.path.endswith("/git/refs"):
            request.path_params = found.groupdict()
            handler = {
                "GET": self.get_ref,
                "PATCH": self.update_ref,
                "DELETE": self.delete_ref,
            }.get(request.method)
            if handler is not None:
                try:
                    return handler(request)
                except FakeError as problem:
                    return self.render_error(problem)
        return super()._handle(request)

    # -- state ---------------------------------------------------------------------------------
    def add_org(self, login: str) -> dict[str, Any]:
        """Seed an organisation (for its webhooks)."""
        with self.lock:
            org = {
                "login": login,
                "id": self.next_id(),
                "url": self.api(f"/orgs/{login}"),
                "hooks_url": self.api(f"/orgs/{login}/hooks"),
                "description": None,
            }
            self.orgs[login] = org
            self.org_hooks.setdefault(login, {})
            return org

    def add_repo(
        self, full_name: str, *, default_branch: str = "main", private: bool = False
    ) -> FakeRepo:
        """Seed repository ``owner/name`` with one commit (a README) on ``default_branch``."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repositories are named 'owner/name', not {full_name!r}")
        with self.lock:
            base = f"/repos/{full_name}"
            now = self.timestamp()
            data = {
                "id": self.next_id(),
                "node_id": f"R_{self._sequence}",
                "name": name,
                "full_name": full_name,
                "owner": self.user(owner),
                "private": private,
                "description": None,
                "fork": False,
                "url": self.api(base),
                "html_url": self.web(f"/{full_name}"),
                "hooks_url": self.api(f"{base}/hooks"),
                "issues_url": self.api(f"{base}/issues{{/number}}"),
                "pulls_url": self.api(f"{base}/pulls{{/number}}"),
                "git_refs_url": self.api(f"{base}/git/refs{{/sha}}"),
                "default_branch": default_branch,
                "created_at": now,
                "updated_at": now,
                "pushed_at": now,
                "visibility": "private" if private else "public",
                "has_issues": True,
                "open_issues_count": 0,
                "permissions": {"admin": True, "push": True, "pull": True},
            }
            repo = FakeRepo(data)
            self.repos[full_name] = repo
            blob = self._store_blob(repo, b"# " + name.encode() + b"\n")
            tree = self._store_tree(
                repo, [{"path": "README.md", "mode": "100644", "type": "blob", "sha": blob}]
            )
            commit = self._store_commit(repo, "Initial commit", tree, [], None, None)
            repo.refs[f"refs/heads/{default_branch}"] = commit
            return repo

    def seed(self, method: str, path: str, json: Any = None) -> Any:
        """Make a call directly, to set up a test: ``seed("POST", "/repos/octo/hello/issues",
        {"title": "Old"})``. It is not recorded in ``requests``, ignores injected faults, auth
        and the rate limit, and returns the JSON answer (ValueError on an error answer)."""
        body = jsonlib.dumps(json).encode() if json is not None else b""
        request = FakeRequest(method.upper(), path, {}, Message(), body)
        with self.lock:
            self._actor = self._app = None
            response = self._handle(request)
        if response.status >= 400:
            raise ValueError(f"{method} {path} answered {response.status}: {response.json}")
        return response.json

    def repo(self, full_name: str) -> FakeRepo:
        """The state of repository ``owner/name`` (KeyError when it was never added)."""
        return self.repos[full_name]

    def branch(self, full_name: str, name: str, *, sha: str | None = None) -> str:
        """Create branch ``name`` at ``sha`` (default: the default branch's head); its sha."""
        with self.lock:
            repo = self.repos[full_name]
            head = sha or repo.refs[f"refs/heads/{repo.data['default_branch']}"]
            repo.refs[f"refs/heads/{name}"] = head
            return head

    def commit_on(self, full_name: str, branch: str, message: str = "Change") -> str:
        """Add a commit on ``branch`` (a new file); its sha."""
        with self.lock:
            repo = self.repos[full_name]
            ref = f"refs/heads/{branch}"
            parent = repo.refs[ref]
            base = repo.commits[parent]["tree"]["sha"]
            blob = self._store_blob(repo, message.encode())
            entries = [
                {k: e[k] for k in ("path", "mode", "type", "sha")} for e in repo.trees[base]["tree"]
            ]
            entries.append(
                {"path": f"{self.next_id()}.txt", "mode": "100644", "type": "blob", "sha": blob}
            )
            commit = self._store_commit(
                repo, message, self._store_tree(repo, entries), [parent], None, None
            )
            repo.refs[ref] = commit
            self._push(repo, ref, parent, commit)
            return commit

    def _repo(self, request: FakeRequest) -> FakeRepo:
        params = request.path_params
        repo = self.repos.get(f"{params['owner']}/{params['repo']}")
        if repo is None:
            raise _not_found()
        return repo

    def _body(self, request: FakeRequest) -> Any:
        if not request.body:
            return {}
        try:
            return jsonlib.loads(request.body)
        except ValueError as exc:
            raise _Problem(400, "Problems parsing JSON") from exc

    def _object_body(self, request: FakeRequest) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise _Problem(400, "Problems parsing JSON")
        return body

    def _page(self, request: FakeRequest, items: list[Any]) -> FakeResponse:
        """One page of ``items`` (``per_page``, default 30, at most 100; ``page`` from 1) with
        GitHub's ``Link`` header (``next``, ``last``, ``first``, ``prev``)."""
        try:
            per_page = min(100, max(1, int(self._query(request, "per_page") or 30)))
            page = max(1, int(self._query(request, "page") or 1))
        except ValueError as exc:
            raise _Problem(400, "Invalid page or per_page") from exc
        last = max(1, -(-len(items) // per_page))
        response = self.reply(items[(page - 1) * per_page : page * per_page])
        links = []

        def link(number: int, rel: str) -> str:
            query = {k: v[-1] for k, v in request.query.items()}
            query.update(page=str(number), per_page=str(per_page))
            return f'<{self.api(request.path)}?{urllib.parse.urlencode(query)}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    @staticmethod
    def _query(request: FakeRequest, name: str) -> str | None:
        values = request.query.get(name)
        return values[-1] if values else None

    def _since(self, request: FakeRequest) -> float | None:
        value = self._query(request, "since")
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise _invalid("Issue", "since", message=f"invalid timestamp {value!r}") from exc

    @staticmethod
    def _epoch(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    def _sorted(self, request: FakeRequest, items: Iterable[dict[str, Any]]) -> list[Any]:
        sort = self._query(request, "sort") or "created"
        direction = self._query(request, "direction") or (
            "asc" if sort == "created" and "/comments" in request.path else "desc"
        )
        if sort not in ("created", "updated", "comments", "popularity", "long-running"):
            raise _invalid("Issue", "sort")
        if direction not in ("asc", "desc"):
            raise _invalid("Issue", "direction")
        key = {"updated": "updated_at", "comments": "comments"}.get(sort, "created_at")

        def order(item: dict[str, Any]) -> tuple[Any, int]:
            return (item.get(key) or "", int(item.get("id") or 0))

        return sorted(items, key=order, reverse=direction == "desc")

    # -- users and repos -----------------------------------------------------------------------
    @_endpoint("GET", "/user")
    def get_user(self, request: FakeRequest) -> FakeResponse:
        if self._actor is not None and self._actor.endswith("[bot]"):
            raise _Problem(403, "Resource not accessible by integration")
        return self.reply(self.user())

    # -- GitHub Apps ---------------------------------------------------------------------------
    def add_app(
        self,
        app_id: int | str,
        public_key: str | bytes,
        *,
        slug: str = "runio-app",
        installation_id: int = 1,
    ) -> None:
        """Accept GitHub App ``app_id``: a JWT signed (RS256) with the private key of
        ``public_key`` (PEM) gets installation tokens for ``installation_id``, and what those
        tokens create is made by ``{slug}[bot]``."""
        with self.lock:
            self.apps[str(app_id)] = {
                "public_key": public_key,
                "slug": slug,
                "installation_id": int(installation_id),
            }

    def _app_of_jwt(self, token: str) -> str | None:
        import jwt  # PyGithub's own dependency

        for app_id, app in self.apps.items():
            try:
                claims = jwt.decode(
                    token,
                    key=app["public_key"],
                    algorithms=["RS256"],
                    options={"verify_exp": False, "verify_iat": False},
                )
            except jwt.PyJWTError:
                continue
            if str(claims.get("iss")) == app_id:
                return app_id
        return None

    @_endpoint("GET", "/app")
    def get_app(self, request: FakeRequest) -> FakeResponse:
        if self._app is None:
            raise _Problem(401, "A JSON web token is required for this request")
        app = self.apps[self._app]
        return self.reply(
            {
                "id": int(self._app) if self._app.isdigit() else self._app,
                "slug": app["slug"],
                "name": app["slug"],
                "owner": self.user(),
                "url": self.api(f"/apps/{app['slug']}"),
                "html_url": self.web(f"/apps/{app['slug']}"),
            }
        )

    @_endpoint("POST", "/app/installations/{installation_id}/access_tokens")
    def create_installation_token(self, request: FakeRequest) -> FakeResponse:
        if self._app is None:
            raise _Problem(401, "A JSON web token is required for this request")
        if request.path_params["installation_id"] != str(self.apps[self._app]["installation_id"]):
            raise _not_found()
        token = f"ghs_{hashlib.sha256(f'{self._app}:{self.next_id()}'.encode()).hexdigest()[:36]}"
        self.installation_tokens[token] = self._app
        return self.reply(
            {
                "token": token,
                "expires_at": self.timestamp(self.now() + 3600),
                "permissions": {"issues": "write", "contents": "write"},
                "repository_selection": "all",
            },
            201,
        )

    @_endpoint("GET", "/repos/{owner}/{repo}")
    def get_repo(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        data = dict(repo.data)
        data["open_issues_count"] = sum(1 for i in repo.issues.values() if i["state"] == "open")
        return self.reply(data)

    # -- issues --------------------------------------------------------------------------------
    def _labels(self, repo: FakeRepo, names: Any) -> list[dict[str, Any]]:
        if not isinstance(names, list):
            raise _invalid("Label", "labels", message="labels must be an array")
        found = []
        for item in names:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name:
                raise _invalid("Label", "name", "missing_field")
            label = repo.labels.get(name.lower())
            if label is None:  # GitHub creates labels it does not know yet
                number = self.next_id()
                label = {
                    "id": number,
                    "node_id": f"LA_{number}",
                    "url": self.api(f"/repos/{repo.full_name}/labels/{urllib.parse.quote(name)}"),
                    "name": name,
                    "color": "ededed",
                    "default": False,
                    "description": None,
                }
                repo.labels[name.lower()] = label
            found.append(label)
        return found

    def _users(self, logins: Any, field_name: str) -> list[dict[str, Any]]:
        if not isinstance(logins, list) or not all(isinstance(x, str) for x in logins):
            raise _invalid("Issue", field_name, message=f"{field_name} must be logins")
        return [self.user(login) for login in logins]

    def _new_issue(self, repo: FakeRepo, body: dict[str, Any]) -> dict[str, Any]:
        title = body.get("title")
        if not isinstance(title, str | int) or title == "":
            raise _invalid("Issue", "title", "missing_field")
        number = max([0, *repo.issues]) + 1
        now = self.timestamp()
        base = f"/repos/{repo.full_name}/issues/{number}"
        assignees = self._users(
            body.get("assignees") or ([body["assignee"]] if body.get("assignee") else []),
            "assignees",
        )
        issue = {
            "id": self.next_id(),
            "node_id": f"I_{self._sequence}",
            "number": number,
            "url": self.api(base),
            "repository_url": repo.data["url"],
            "labels_url": self.api(f"{base}/labels{{/name}}"),
            "comments_url": self.api(f"{base}/comments"),
            "events_url": self.api(f"{base}/events"),
            "html_url": self.web(f"/{repo.full_name}/issues/{number}"),
            "title": str(title),
            "body": body.get("body"),
            "user": self.user(),
            "labels": self._labels(repo, body.get("labels") or []),
            "state": "open",
            "state_reason": None,
            "locked": False,
            "assignee": assignees[0] if assignees else None,
            "assignees": assignees,
            "milestone": body.get("milestone"),
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "closed_by": None,
            "author_association": "OWNER",
            "reactions": {"total_count": 0},
        }
        repo.issues[number] = issue
        return issue

    def _issue(self, repo: FakeRepo, request: FakeRequest) -> dict[str, Any]:
        try:
            number = int(request.path_params["number"])
        except ValueError as exc:
            raise _not_found() from exc
        issue = repo.issues.get(number)
        if issue is None:
            raise _not_found()
        return issue

    def _touch(self, *items: dict[str, Any]) -> None:
        now = self.timestamp()
        for item in items:
            item["updated_at"] = now

    @_endpoint("POST", "/repos/{owner}/{repo}/issues")
    def create_issue(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._new_issue(repo, self._object_body(request))
        self._notify(repo, "issues", action="opened", issue=issue)
        return self.reply(issue, 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/issues")
    def list_issues(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        state = self._query(request, "state") or "open"
        if state not in ("open", "closed", "all"):
            raise _invalid("Issue", "state")
        creator = self._query(request, "creator")
        assignee = self._query(request, "assignee")
        labels = [x for x in (self._query(request, "labels") or "").split(",") if x]
        since = self._since(request)
        found = []
        for issue in repo.issues.values():
            if state != "all" and issue["state"] != state:
                continue
            if creator is not None and issue["user"]["login"].lower() != creator.lower():
                continue
            if assignee is not None and not (
                (assignee == "none" and not issue["assignees"])
                or (assignee == "*" and issue["assignees"])
                or any(a["login"] == assignee for a in issue["assignees"])
            ):
                continue
            names = {label["name"].lower() for label in issue["labels"]}
            if any(name.lower() not in names for name in labels):
                continue
            if since is not None and self._epoch(issue["updated_at"]) < since:
                continue
            found.append(issue)
        return self._page(request, self._sorted(request, found))

    @_endpoint("GET", "/repos/{owner}/{repo}/issues/{number}")
    def get_issue(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._issue(self._repo(request), request))

    @_endpoint("PATCH", "/repos/{owner}/{repo}/issues/{number}")
    def update_issue(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._issue(repo, request)
        body = self._object_body(request)
        if "title" in body:
            if not body["title"]:
                raise _invalid("Issue", "title", "missing_field")
            issue["title"] = str(body["title"])
        if "body" in body:
            issue["body"] = body["body"]
        if "labels" in body:
            issue["labels"] = self._labels(repo, body["labels"] or [])
        if "assignees" in body:
            issue["assignees"] = self._users(body["assignees"] or [], "assignees")
            issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        if "state" in body:
            state = body["state"]
            if state not in ("open", "closed"):
                raise _invalid("Issue", "state")
            reason = body.get("state_reason")
            if state == "closed" and issue["state"] != "closed":
                issue["closed_at"] = self.timestamp()
                issue["closed_by"] = self.user()
            elif state == "open":
                issue["closed_at"], issue["closed_by"] = None, None
            if reason not in (None, "completed", "not_planned", "reopened"):
                raise _invalid("Issue", "state_reason")
            issue["state_reason"] = reason or ("completed" if state == "closed" else None)
            changed, issue["state"] = issue["state"] != state, state
            if changed:
                action = "closed" if state == "closed" else "reopened"
                self._notify(repo, "issues", action=action, issue=issue)
        self._touch(issue)
        return self.reply(issue, 200, request)

    @_endpoint("POST", "/repos/{owner}/{repo}/issues/{number}/labels")
    def add_labels(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._issue(repo, request)
        body = self._body(request)
        names = body.get("labels") if isinstance(body, dict) else body
        have = {label["name"].lower() for label in issue["labels"]}
        for label in self._labels(repo, names):
            if label["name"].lower() not in have:
                issue["labels"].append(label)
                have.add(label["name"].lower())
        self._touch(issue)
        return self.reply(issue["labels"], 200, request)

    @_endpoint("POST", "/repos/{owner}/{repo}/issues/{number}/assignees")
    def add_assignees(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._issue(repo, request)
        have = {a["login"] for a in issue["assignees"]}
        for user in self._users(self._object_body(request).get("assignees") or [], "assignees"):
            if user["login"] not in have:
                issue["assignees"].append(user)
                have.add(user["login"])
        issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        self._touch(issue)
        return self.reply(issue, 201, request)

    # -- comments and reactions ----------------------------------------------------------------
    @_endpoint("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
    def create_comment(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._issue(repo, request)
        text = self._object_body(request).get("body")
        if not isinstance(text, str) or not text:
            raise _invalid("IssueComment", "body", "missing_field")
        number = self.next_id()
        now = self.timestamp()
        comment = {
            "id": number,
            "node_id": f"IC_{number}",
            "url": self.api(f"/repos/{repo.full_name}/issues/comments/{number}"),
            "html_url": issue["html_url"] + f"#issuecomment-{number}",
            "issue_url": issue["url"],
            "body": text,
            "user": self.user(),
            "created_at": now,
            "updated_at": now,
            "author_association": "OWNER",
            "reactions": {"total_count": 0},
        }
        repo.comments[number] = comment
        issue["comments"] += 1
        self._touch(issue)
        self._notify(repo, "issue_comment", action="created", issue=issue, comment=comment)
        return self.reply(comment, 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
    def list_comments(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        issue = self._issue(repo, request)
        since = self._since(request)
        found = [
            c
            for c in repo.issue_comments(issue["number"])
            if since is None or self._epoch(c["updated_at"]) >= since
        ]
        found.sort(key=lambda c: (c["created_at"], c["id"]))
        return self._page(request, found)

    def _comment(self, repo: FakeRepo, request: FakeRequest) -> dict[str, Any]:
        try:
            comment = repo.comments.get(int(request.path_params["comment_id"]))
        except ValueError as exc:
            raise _not_found() from exc
        if comment is None:
            raise _not_found()
        return comment

    @_endpoint("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
    def get_comment(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._comment(self._repo(request), request))

    @_endpoint("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
    def create_comment_reaction(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        comment = self._comment(repo, request)
        content = self._object_body(request).get("content")
        if content not in REACTIONS:
            raise _invalid("Reaction", "content")
        reactions = repo.reactions.setdefault(comment["id"], [])
        for reaction in reactions:
            if reaction["content"] == content and reaction["user"]["login"] == self.login:
                return self.reply(reaction, 200, request)  # GitHub: the existing reaction
        number = self.next_id()
        reaction = {
            "id": number,
            "node_id": f"REA_{number}",
            "user": self.user(),
            "content": content,
            "created_at": self.timestamp(),
        }
        reactions.append(reaction)
        comment["reactions"] = {
            "url": comment["url"] + "/reactions",
            "total_count": len(reactions),
            **{c: sum(1 for r in reactions if r["content"] == c) for c in REACTIONS},
        }
        return self.reply(reaction, 201, request)

    # -- webhooks ------------------------------------------------------------------------------
    def _hook_config(self, config: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(config, dict):
            raise _invalid("Hook", "config", message="config must be an object")
        merged = {**(old or {}), **config}
        url = merged.get("url")
        if not isinstance(url, str) or not re.match(r"https?://", url):
            raise _invalid("Hook", "url", "custom", "url is not a valid URL")
        return merged

    def _shown_config(self, config: dict[str, Any]) -> dict[str, Any]:
        shown = {"content_type": "form", "insecure_ssl": "0", **config}
        if shown.get("secret"):
            shown["secret"] = "********"
        return shown

    def _save_hook(
        self,
        hooks: dict[int, dict[str, Any]],
        secrets: dict[int, str],
        body: dict[str, Any],
        base: str,
        kind: str,
        *,
        hook_id: int | None = None,
    ) -> tuple[dict[str, Any], int]:
        old = hooks.get(hook_id) if hook_id is not None else None
        raw = dict(old["config"]) if old else {}
        if old and hook_id in secrets:
            raw["secret"] = secrets[hook_id]
        config = self._hook_config(body.get("config", {} if old else None), raw)
        url = config["url"]
        if any(h["config"]["url"] == url for i, h in hooks.items() if i != hook_id):
            raise _invalid("Hook", "", "custom", f"Hook already exists on this {kind}")
        events = body.get("events", old["events"] if old else ["push"])
        events = [e for e in events if e not in (body.get("remove_events") or [])]
        events += [e for e in body.get("add_events") or [] if e not in events]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise _invalid("Hook", "events")
        now = self.timestamp()
        number = hook_id if hook_id is not None else self.next_id()
        if config.get("secret"):
            secrets[number] = str(config["secret"])
        else:
            secrets.pop(number, None)
        hook: dict[str, Any] = {
            "type": kind.capitalize(),
            "id": number,
            "name": "web",
            "active": bool(body.get("active", old["active"] if old else True)),
            "events": events,
            "config": self._shown_config({k: v for k, v in config.items() if k != "secret"})
            | ({"secret": "********"} if config.get("secret") else {}),
            "updated_at": now,
            "created_at": old["created_at"] if old else now,
            "url": self.api(f"{base}/hooks/{number}"),
            "ping_url": self.api(f"{base}/hooks/{number}/pings"),
            "deliveries_url": self.api(f"{base}/hooks/{number}/deliveries"),
        }
        if kind == "repository":
            hook["test_url"] = self.api(f"{base}/hooks/{number}/test")
            hook["last_response"] = {"code": None, "status": "unused", "message": None}
        hooks[number] = hook
        return hook, 200 if old else 201

    def _hook_id(self, request: FakeRequest, hooks: Mapping[int, Any]) -> int:
        try:
            number = int(request.path_params["hook_id"])
        except ValueError as exc:
            raise _not_found() from exc
        if number not in hooks:
            raise _not_found()
        return number

    @_endpoint("POST", "/repos/{owner}/{repo}/hooks")
    def create_repo_hook(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        hook, status = self._save_hook(
            repo.hooks,
            repo.hook_secrets,
            self._object_body(request),
            f"/repos/{repo.full_name}",
            "repository",
        )
        if status == 201:  # GitHub pings a new webhook
            self._ping(repo, hook)
        return self.reply(hook, status, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/hooks")
    def list_repo_hooks(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        return self._page(request, sorted(repo.hooks.values(), key=lambda h: h["id"]))

    @_endpoint("GET", "/repos/{owner}/{repo}/hooks/{hook_id}")
    def get_repo_hook(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        return self.reply(repo.hooks[self._hook_id(request, repo.hooks)])

    @_endpoint("PATCH", "/repos/{owner}/{repo}/hooks/{hook_id}")
    def update_repo_hook(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        hook, _ = self._save_hook(
            repo.hooks,
            repo.hook_secrets,
            self._object_body(request),
            f"/repos/{repo.full_name}",
            "repository",
            hook_id=self._hook_id(request, repo.hooks),
        )
        return self.reply(hook, 200, request)

    def _org_hooks(self, request: FakeRequest) -> tuple[str, dict[int, dict[str, Any]]]:
        org = request.path_params["org"]
        if org not in self.orgs:
            raise _not_found()
        return org, self.org_hooks[org]

    @_endpoint("POST", "/orgs/{org}/hooks")
    def create_org_hook(self, request: FakeRequest) -> FakeResponse:
        org, hooks = self._org_hooks(request)
        body = self._object_body(request)
        if body.get("name") != "web":
            raise _invalid("Hook", "name", "invalid", "name must be 'web'")
        hook, status = self._save_hook(
            hooks, self.org_hook_secrets, body, f"/orgs/{org}", "organization"
        )
        if status == 201:  # GitHub pings a new webhook
            self._ping(None, hook, org)
        return self.reply(hook, status, request)

    @_endpoint("GET", "/orgs/{org}/hooks")
    def list_org_hooks(self, request: FakeRequest) -> FakeResponse:
        _, hooks = self._org_hooks(request)
        return self._page(request, sorted(hooks.values(), key=lambda h: h["id"]))

    @_endpoint("GET", "/orgs/{org}/hooks/{hook_id}")
    def get_org_hook(self, request: FakeRequest) -> FakeResponse:
        _, hooks = self._org_hooks(request)
        return self.reply(hooks[self._hook_id(request, hooks)])

    @_endpoint("PATCH", "/orgs/{org}/hooks/{hook_id}")
    def update_org_hook(self, request: FakeRequest) -> FakeResponse:
        org, hooks = self._org_hooks(request)
        hook, _ = self._save_hook(
            hooks,
            self.org_hook_secrets,
            self._object_body(request),
            f"/orgs/{org}",
            "organization",
            hook_id=self._hook_id(request, hooks),
        )
        return self.reply(hook, 200, request)

    # -- webhook deliveries ------------------------------------------------------------------
    def webhook_request(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        secret: str | None,
        delivery: str | None = None,
        hook_id: int | None = None,
        content_type: str = "json",
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers GitHub sends for ``event`` with ``payload``: ``X-GitHub-Event``,
        ``X-GitHub-Delivery`` (``delivery``, a new GUID by default), ``X-GitHub-Hook-ID``,
        ``X-Hub-Signature-256`` and the legacy SHA-1 ``X-Hub-Signature`` when the hook has a
        ``secret`` (none without), ``User-Agent: GitHub-Hookshot/...``. ``content_type`` is the
        hook's: ``json``, or ``form`` (``payload=<JSON>``, form-encoded)."""
        if content_type not in ("json", "form"):
            raise ValueError(
                f"a GitHub hook's content type is 'json' or 'form', not {content_type!r}"
            )
        text = jsonlib.dumps(payload, separators=(",", ":"))
        if content_type == "form":
            body = urllib.parse.urlencode({"payload": text}).encode()
            media = "application/x-www-form-urlencoded"
        else:
            body, media = text.encode(), "application/json"
        headers = {
            "Content-Type": media,
            "User-Agent": "GitHub-Hookshot/7e5a1c2",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-GitHub-Hook-ID": str(hook_id if hook_id is not None else 0),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(
                (payload.get("repository") or {}).get("id", 0)
            ),
        }
        if secret:
            key = secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = (
                "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            )
        return body, headers

    def send_event(
        self,
        url: str,
        event: str,
        payload: Mapping[str, Any],
        *,
        secret: str | None,
        delivery: str | None = None,
        hook_id: int | None = None,
        content_type: str = "json",
        signature: str | None = None,
        timeout: float = 30.0,
    ) -> httpx.Response:
        """POST one delivery of ``event`` to ``url`` now, as a hook with ``secret`` would (see
        ``webhook_request``), and answer the endpoint's response; it is recorded in
        ``webhook_deliveries``. ``signature`` replaces the ``X-Hub-Signature-256`` value (for
        tests of forged deliveries); to redeliver, pass the first delivery's ``delivery`` id or
        use ``redeliver``. ``event_payload`` builds a payload with the repository and sender."""
        body, headers = self.webhook_request(
            event,
            payload,
            secret=secret,
            delivery=delivery,
            hook_id=hook_id,
            content_type=content_type,
        )
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.deliver_webhook(url, body, headers, timeout=timeout)

    def redeliver(self, sent: WebhookSent, *, timeout: float = 30.0) -> httpx.Response:
        """Send ``sent`` (one of ``webhook_deliveries``) again, as GitHub's "Redeliver" does:
        the same body and ``X-GitHub-Delivery``."""
        return self.deliver_webhook(sent.url, sent.body, sent.headers, timeout=timeout)

    def event_payload(self, full_name: str, **fields: Any) -> dict[str, Any]:
        """A webhook payload for repository ``full_name``: ``fields`` (``action``, ``issue``...)
        plus ``repository`` and ``sender`` (the fake's user), as GitHub adds them."""
        with self.lock:
            return {
                **copy.deepcopy(fields),
                "repository": copy.deepcopy(self.repos[full_name].data),
                "sender": self.user(self.login),
            }

    def wait_for_webhooks(self, timeout: float = 30.0) -> None:
        """Block until every delivery the fake's own changes queued for its hooks was sent
        (hooks are notified in the background, as GitHub does, in the order of the changes)."""
        with self._webhooks_done:
            if not self._webhooks_done.wait_for(lambda: self._webhooks_pending == 0, timeout):
                raise TimeoutError(
                    f"{self._webhooks_pending} webhook deliveries still unsent after {timeout} s"
                )

    def _hooks_for(self, repo: FakeRepo) -> list[tuple[dict[str, Any], str | None]]:
        """The repository's hooks and its organisation's, each with its secret."""
        owner = repo.full_name.split("/")[0]
        found = [(hook, repo.hook_secrets.get(number)) for number, hook in repo.hooks.items()]
        found += [
            (hook, self.org_hook_secrets.get(number))
            for number, hook in self.org_hooks.get(owner, {}).items()
        ]
        return found

    def _notify(self, repo: FakeRepo, event: str, **fields: Any) -> None:
        """Queue ``event`` for each active hook of ``repo`` that subscribes to it (the caller
        holds the lock)."""
        payload = {
            **copy.deepcopy(fields),
            "repository": copy.deepcopy(repo.data),
            "sender": self.user(),
        }
        for hook, _ in self._hooks_for(repo):
            if hook["active"] and (event in hook["events"] or "*" in hook["events"]):
                self._queue_delivery(repo, hook, event, payload, str(uuid.uuid4()), False)

    def _queue_delivery(
        self,
        repo: FakeRepo | None,
        hook: dict[str, Any],
        event: str,
        payload: dict[str, Any],
        guid: str,
        redelivery: bool,
    ) -> None:
        with self._webhooks_done:
            self._webhooks_pending += 1
        self._webhook_queue.put((repo, hook, event, payload, guid, redelivery))
        if self._webhook_thread is None or not self._webhook_thread.is_alive():
            self._webhook_thread = threading.Thread(
                target=self._deliver_queued, name="FakeGitHub-hookshot", daemon=True
            )
            self._webhook_thread.start()

    def _deliver_queued(self) -> None:
        while True:
            item = self._webhook_queue.get()
            if item is None:
                return
            try:
                self._deliver_one(*item)
            except Exception:  # a fake's background delivery must not take the test down
                log.exception("FakeGitHub could not deliver a webhook")
            finally:
                with self._webhooks_done:
                    self._webhooks_pending -= 1
                    self._webhooks_done.notify_all()

    def _deliver_one(
        self,
        repo: FakeRepo | None,
        hook: dict[str, Any],
        event: str,
        payload: dict[str, Any],
        guid: str,
        redelivery: bool,
    ) -> None:
        with self.lock:
            repository = hook["type"] == "Repository" and repo is not None
            secrets = repo.hook_secrets if repo and repository else self.org_hook_secrets
            secret = secrets.get(hook["id"])
            url = str(hook["config"]["url"])
            content_type = str(hook["config"].get("content_type", "form"))
        code, status = 0, "failed to connect to host"
        if not _is_loopback(url):
            status = "not delivered: FakeGitHub delivers to 127.0.0.1 and localhost only"
        else:
            body, headers = self.webhook_request(
                event,
                payload,
                secret=secret,
                delivery=guid,
                hook_id=hook["id"],
                content_type="form" if content_type == "form" else "json",
            )
            try:
                response = self.deliver_webhook(url, body, headers, timeout=10.0)
            except httpx.HTTPError as exc:
                status = f"failed to connect to host ({type(exc).__name__})"
            else:
                code = response.status_code
                status = "OK" if code < 300 else f"Invalid HTTP Response: {code}"
        with self.lock:
            self.hook_deliveries.append(
                {
                    "id": self.next_id(),
                    "guid": guid,
                    "delivered_at": self.timestamp(),
                    "redelivery": redelivery,
                    "duration": 0.01,
                    "status": status,
                    "status_code": code,
                    "event": event,
                    "action": payload.get("action"),
                    "installation_id": None,
                    "repository_id": repo.data["id"] if repo else None,
                    "hook_id": hook["id"],
                    "url": url,
                    "request": {"event": event, "payload": payload},
                }
            )
            if "last_response" in hook:
                hook["last_response"] = {
                    "code": code or None,
                    "status": "active" if 200 <= code < 300 else "failed",
                    "message": status,
                }

    def _push(self, repo: FakeRepo, ref: str, before: str | None, after: str | None) -> None:
        """Notify ``repo``'s hooks of a push moving ``ref`` from ``before`` to ``after`` (None:
        created or deleted); its commits are those ``after`` has and ``before`` had not."""
        zero = "0" * 40
        had = self._ancestors(repo, before) if before else set()
        new = self._ancestors(repo, after) - had if after else set()
        commits = [
            self._push_commit(repo, sha)
            for sha in sorted(new, key=lambda c: repo.commits[c]["committer"]["date"])
        ][-20:]
        pusher = {"name": self._actor or self.login, "email": None}
        self._notify(
            repo,
            "push",
            ref=ref,
            before=before or zero,
            after=after or zero,
            created=before is None,
            deleted=after is None,
            forced=bool(before and after and before not in self._ancestors(repo, after)),
            base_ref=None,
            compare=self.web(
                f"/{repo.full_name}/compare/{(before or zero)[:12]}...{(after or zero)[:12]}"
            ),
            commits=commits,
            head_commit=self._push_commit(repo, after) if after in repo.commits else None,
            pusher=pusher,
        )

    def _push_commit(self, repo: FakeRepo, sha: str | None) -> dict[str, Any]:
        commit = repo.commits[sha or ""]
        return {
            "id": commit["sha"],
            "tree_id": commit["tree"]["sha"],
            "distinct": True,
            "message": commit["message"],
            "timestamp": commit["committer"]["date"],
            "url": commit["html_url"],
            "author": {**commit["author"], "username": commit["author"]["name"]},
            "committer": {**commit["committer"], "username": commit["committer"]["name"]},
            "added": [],
            "removed": [],
            "modified": [],
        }

    def _delivery_summary(self, delivery: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in delivery.items() if k not in ("request", "hook_id", "url")}

    @_endpoint("GET", "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries")
    def list_hook_deliveries(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        number = self._hook_id(request, repo.hooks)
        found = [d for d in self.hook_deliveries if d["hook_id"] == number]
        return self.reply([self._delivery_summary(d) for d in reversed(found)])

    @_endpoint("POST", "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts")
    def redeliver_hook_delivery(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        number = self._hook_id(request, repo.hooks)
        wanted = request.path_params["delivery_id"]
        for delivery in self.hook_deliveries:
            if delivery["hook_id"] == number and str(delivery["id"]) == wanted:
                self._queue_delivery(
                    repo,
                    repo.hooks[number],
                    delivery["request"]["event"],
                    delivery["request"]["payload"],
                    delivery["guid"],
                    True,
                )
                return self.reply({}, 202, request)
        raise _not_found()

    @_endpoint("POST", "/repos/{owner}/{repo}/hooks/{hook_id}/pings")
    def ping_hook(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        self._ping(repo, repo.hooks[self._hook_id(request, repo.hooks)])
        return FakeResponse(204, headers=self._headers())

    def _ping(self, repo: FakeRepo | None, hook: dict[str, Any], org: str | None = None) -> None:
        """Ping a new hook (of ``repo``, or of organisation ``org``)."""
        payload: dict[str, Any] = {
            "zen": "Keep it logically awesome.",
            "hook_id": hook["id"],
            "hook": copy.deepcopy(hook),
            "sender": self.user(),
        }
        if repo is not None:
            payload["repository"] = copy.deepcopy(repo.data)
        if org is not None:
            payload["organization"] = copy.deepcopy(self.orgs[org])
        self._queue_delivery(repo, hook, "ping", payload, str(uuid.uuid4()), False)

    # -- git data ------------------------------------------------------------------------------
    def _store_blob(self, repo: FakeRepo, content: bytes) -> str:
        sha = _git_sha("blob", content)
        repo.blobs[sha] = {
            "sha": sha,
            "node_id": f"B_{sha[:10]}",
            "size": len(content),
            "url": self.api(f"/repos/{repo.full_name}/git/blobs/{sha}"),
            "content": base64.b64encode(content).decode() + "\n",
            "encoding": "base64",
        }
        return sha

    def _store_tree(self, repo: FakeRepo, entries: list[dict[str, Any]]) -> str:
        entries = sorted(entries, key=lambda e: e["path"])
        content = jsonlib.dumps(entries, sort_keys=True).encode()
        sha = _git_sha("tree", content)
        shown = []
        for entry in entries:
            item = dict(entry)
            kind = {"blob": "blobs", "tree": "trees", "commit": "commits"}[entry["type"]]
            item["url"] = self.api(f"/repos/{repo.full_name}/git/{kind}/{entry['sha']}")
            if entry["type"] == "blob" and entry["sha"] in repo.blobs:
                item["size"] = repo.blobs[entry["sha"]]["size"]
            shown.append(item)
        repo.trees[sha] = {
            "sha": sha,
            "url": self.api(f"/repos/{repo.full_name}/git/trees/{sha}"),
            "tree": shown,
            "truncated": False,
        }
        return sha

    def _person(self, given: Any, field_name: str) -> dict[str, Any]:
        if given is None:
            return {"name": self.login, "email": f"{self.login}@example.com", "date": ""}
        if not isinstance(given, dict) or not given.get("name") or not given.get("email"):
            raise _invalid("Commit", field_name, message=f"{field_name} needs name and email")
        return {"name": given["name"], "email": given["email"], "date": given.get("date", "")}

    def _store_commit(
        self,
        repo: FakeRepo,
        message: str,
        tree: str,
        parents: list[str],
        author: Any,
        committer: Any,
    ) -> str:
        who = self._person(author, "author")
        who["date"] = who["date"] or self.timestamp()
        by = self._person(committer, "committer") if committer is not None else dict(who)
        by["date"] = by["date"] or who["date"]
        identity = {
            "message": message,
            "tree": tree,
            "parents": parents,
            "author": who,
            "committer": by,
        }
        sha = _git_sha("commit", jsonlib.dumps(identity, sort_keys=True).encode())
        base = f"/repos/{repo.full_name}/git/commits"
        repo.commits[sha] = {
            "sha": sha,
            "node_id": f"C_{sha[:10]}",
            "url": self.api(f"{base}/{sha}"),
            "html_url": self.web(f"/{repo.full_name}/commit/{sha}"),
            "author": who,
            "committer": by,
            "message": message,
            "tree": {"sha": tree, "url": self.api(f"/repos/{repo.full_name}/git/trees/{tree}")},
            "parents": [
                {
                    "sha": p,
                    "url": self.api(f"{base}/{p}"),
                    "html_url": self.web(f"/{repo.full_name}/commit/{p}"),
                }
                for p in parents
            ],
            "verification": {"verified": False, "reason": "unsigned"},
        }
        return sha

    def _found(self, table: Mapping[str, Any], request: FakeRequest) -> Any:
        item = table.get(request.path_params["sha"])
        if item is None:
            raise _not_found()
        return item

    @_endpoint("POST", "/repos/{owner}/{repo}/git/blobs")
    def create_blob(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        content = body.get("content")
        encoding = body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise _invalid("Blob", "content", "missing_field")
        if encoding == "base64":
            try:
                raw = base64.b64decode(content, validate=False)
            except binascii.Error as exc:
                raise _invalid("Blob", "content", message="invalid base64") from exc
        elif encoding in ("utf-8", "utf8"):
            raw = content.encode()
        else:
            raise _invalid("Blob", "encoding", message="encoding must be utf-8 or base64")
        sha = self._store_blob(repo, raw)
        return self.reply({"sha": sha, "url": repo.blobs[sha]["url"]}, 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
    def get_blob(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._found(self._repo(request).blobs, request))

    @_endpoint("POST", "/repos/{owner}/{repo}/git/trees")
    def create_tree(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        entries: dict[str, dict[str, Any]] = {}
        base = body.get("base_tree")
        if base is not None:
            if base not in repo.trees:
                raise _invalid("Tree", "base_tree", message=f"base_tree {base} not found")
            for entry in repo.trees[base]["tree"]:
                entries[entry["path"]] = {k: entry[k] for k in ("path", "mode", "type", "sha")}
        tree = body.get("tree")
        if not isinstance(tree, list):
            raise _invalid("Tree", "tree", "missing_field")
        for item in tree:
            if not isinstance(item, dict) or not item.get("path"):
                raise _invalid("Tree", "tree.path", "missing_field")
            kind = item.get("type", "blob")
            mode = item.get("mode", "100644")
            if kind not in ("blob", "tree", "commit") or not re.fullmatch(r"\d{6}", mode):
                raise _invalid("Tree", "tree.type")
            if "content" in item:
                sha = self._store_blob(repo, str(item["content"]).encode())
            elif item.get("sha") is None and "sha" in item:
                entries.pop(item["path"], None)  # a null sha deletes the path
                continue
            else:
                sha = str(item.get("sha"))
                known = {"blob": repo.blobs, "tree": repo.trees, "commit": repo.commits}[kind]
                if sha not in known:
                    raise _invalid("Tree", "tree.sha", message=f"tree.sha {sha} is not a {kind}")
            entries[item["path"]] = {"path": item["path"], "mode": mode, "type": kind, "sha": sha}
        sha = self._store_tree(repo, list(entries.values()))
        return self.reply(repo.trees[sha], 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/git/trees/{sha}")
    def get_tree(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        tree = self._found(repo.trees, request)
        if self._query(request, "recursive") not in (None, "", "0", "false"):
            flat: list[dict[str, Any]] = []

            def walk(node: dict[str, Any], prefix: str) -> None:
                for entry in node["tree"]:
                    item = dict(entry, path=prefix + entry["path"])
                    flat.append(item)
                    if entry["type"] == "tree" and entry["sha"] in repo.trees:
                        walk(repo.trees[entry["sha"]], item["path"] + "/")

            walk(tree, "")
            tree = dict(tree, tree=flat)
        return self.reply(tree)

    @_endpoint("POST", "/repos/{owner}/{repo}/git/commits")
    def create_commit(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        message, tree = body.get("message"), body.get("tree")
        if not isinstance(message, str):
            raise _invalid("Commit", "message", "missing_field")
        if tree not in repo.trees:
            raise _invalid("Commit", "tree", message=f"Tree SHA does not exist: {tree}")
        parents = body.get("parents") or []
        for parent in parents:
            if parent not in repo.commits:
                raise _invalid("Commit", "parents", message=f"Parent SHA does not exist: {parent}")
        sha = self._store_commit(
            repo, message, tree, list(parents), body.get("author"), body.get("committer")
        )
        return self.reply(repo.commits[sha], 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
    def get_commit(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._found(self._repo(request).commits, request))

    def _ref_json(self, repo: FakeRepo, ref: str) -> dict[str, Any]:
        sha = repo.refs[ref]
        kind = "tag" if sha in repo.tags else "commit"
        table = "tags" if kind == "tag" else "commits"
        return {
            "ref": ref,
            "node_id": f"REF_{hashlib.sha1(ref.encode()).hexdigest()[:10]}",
            "url": self.api(f"/repos/{repo.full_name}/git/{ref}"),
            "object": {
                "sha": sha,
                "type": kind,
                "url": self.api(f"/repos/{repo.full_name}/git/{table}/{sha}"),
            },
        }

    @_endpoint("POST", "/repos/{owner}/{repo}/git/refs")
    def create_ref(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise _Problem(422, "Reference name must start with 'refs/' and have two slashes")
        if sha not in repo.commits and sha not in repo.tags:
            raise _Problem(422, "Object does not exist")
        if ref in repo.refs:
            raise _Problem(422, "Reference already exists")
        repo.refs[ref] = sha
        if sha in repo.commits:
            self._push(repo, ref, None, sha)
        return self.reply(self._ref_json(repo, ref), 201, request)

    def _ref_name(self, request: FakeRequest) -> str:
        name = urllib.parse.unquote(request.path_params["ref"])
        return name if name.startswith("refs/") else f"refs/{name}"

    def get_ref(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        ref = self._ref_name(request)
        if ref not in repo.refs:
            raise _not_found()
        return self.reply(self._ref_json(repo, ref))

    def _ancestors(self, repo: FakeRepo, sha: str) -> set[str]:
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen or current not in repo.commits:
                continue
            seen.add(current)
            stack.extend(p["sha"] for p in repo.commits[current]["parents"])
        return seen

    def update_ref(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        ref = self._ref_name(request)
        if ref not in repo.refs:
            raise _Problem(422, "Reference does not exist")
        body = self._object_body(request)
        sha = body.get("sha")
        if sha not in repo.commits and sha not in repo.tags:
            raise _Problem(422, "Object does not exist")
        if not body.get("force") and repo.refs[ref] not in self._ancestors(repo, sha):
            raise _Problem(422, "Update is not a fast forward")
        before, repo.refs[ref] = repo.refs[ref], sha
        if sha in repo.commits and before != sha:
            self._push(repo, ref, before, sha)
        return self.reply(self._ref_json(repo, ref), 200, request)

    def delete_ref(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        ref = self._ref_name(request)
        if ref not in repo.refs:
            raise _Problem(422, "Reference does not exist")
        before = repo.refs.pop(ref)
        if before in repo.commits:
            self._push(repo, ref, before, None)
        return FakeResponse(204, headers=self._headers())

    @_endpoint("POST", "/repos/{owner}/{repo}/git/tags")
    def create_tag(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        tag, message, target = body.get("tag"), body.get("message"), body.get("object")
        kind = body.get("type", "commit")
        if not isinstance(tag, str) or not tag:
            raise _invalid("Tag", "tag", "missing_field")
        if not isinstance(message, str):
            raise _invalid("Tag", "message", "missing_field")
        tables = {"commit": repo.commits, "tree": repo.trees, "blob": repo.blobs}
        if kind not in tables or target not in tables[kind]:
            raise _invalid("Tag", "object", message=f"Object does not exist: {target}")
        tagger = self._person(body.get("tagger"), "tagger")
        tagger["date"] = tagger["date"] or self.timestamp()
        identity = {"tag": tag, "message": message, "object": target, "type": kind}
        sha = _git_sha("tag", jsonlib.dumps({**identity, "tagger": tagger}).encode())
        repo.tags[sha] = {
            "node_id": f"TAG_{sha[:10]}",
            "sha": sha,
            "url": self.api(f"/repos/{repo.full_name}/git/tags/{sha}"),
            "tag": tag,
            "message": message,
            "tagger": tagger,
            "object": {
                "sha": target,
                "type": kind,
                "url": self.api(f"/repos/{repo.full_name}/git/{kind}s/{target}"),
            },
            "verification": {"verified": False, "reason": "unsigned"},
        }
        return self.reply(repo.tags[sha], 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/git/tags/{sha}")
    def get_tag(self, request: FakeRequest) -> FakeResponse:
        return self.reply(self._found(self._repo(request).tags, request))

    # -- pull requests -------------------------------------------------------------------------
    def _pull(self, repo: FakeRepo, request: FakeRequest) -> dict[str, Any]:
        try:
            pull = repo.pulls.get(int(request.path_params["number"]))
        except ValueError as exc:
            raise _not_found() from exc
        if pull is None:
            raise _not_found()
        return pull

    def _pull_json(self, repo: FakeRepo, pull: dict[str, Any]) -> dict[str, Any]:
        issue = repo.issues[pull["number"]]
        shown = dict(pull)
        for key in ("title", "body", "state", "user", "labels", "assignees", "assignee"):
            shown[key] = issue[key]
        for key in ("created_at", "updated_at", "closed_at"):
            shown[key] = issue[key]
        for side in ("head", "base"):
            ref = f"refs/heads/{pull[side]['ref']}"
            if side == "head" and ref in repo.refs and not pull["merged"]:
                shown[side] = dict(pull[side], sha=repo.refs[ref])
        return shown

    @_endpoint("POST", "/repos/{owner}/{repo}/pulls")
    def create_pull(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        head, base = body.get("head"), body.get("base")
        if not isinstance(head, str) or not isinstance(base, str):
            raise _invalid("PullRequest", "head" if not isinstance(head, str) else "base")
        owner = repo.full_name.split("/")[0]
        branch = head.split(":", 1)[1] if ":" in head else head
        if f"refs/heads/{base}" not in repo.refs:
            raise _invalid("PullRequest", "base", message=f"base {base} does not exist")
        if f"refs/heads/{branch}" not in repo.refs:
            raise _invalid("PullRequest", "head", message=f"head {head} does not exist")
        if branch == base:
            raise _invalid("PullRequest", "base", message="head and base are the same branch")
        for other in repo.pulls.values():
            if (
                other["head"]["ref"] == branch
                and other["base"]["ref"] == base
                and repo.issues[other["number"]]["state"] == "open"
            ):
                raise _Problem(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {owner}:{branch}.",
                        }
                    ],
                )
        issue = self._new_issue(
            repo, {"title": body.get("title") or branch, "body": body.get("body")}
        )
        number = issue["number"]
        issue["pull_request"] = {
            "url": self.api(f"/repos/{repo.full_name}/pulls/{number}"),
            "html_url": self.web(f"/{repo.full_name}/pull/{number}"),
            "merged_at": None,
        }
        issue["html_url"] = self.web(f"/{repo.full_name}/pull/{number}")
        side = {"repo": repo.data, "user": repo.data["owner"]}
        pull = {
            "id": self.next_id(),
            "node_id": f"PR_{self._sequence}",
            "number": number,
            "url": self.api(f"/repos/{repo.full_name}/pulls/{number}"),
            "html_url": issue["html_url"],
            "issue_url": issue["url"],
            "draft": bool(body.get("draft", False)),
            "maintainer_can_modify": bool(body.get("maintainer_can_modify", False)),
            "head": {
                "label": f"{owner}:{branch}",
                "ref": branch,
                "sha": repo.refs[f"refs/heads/{branch}"],
                **side,
            },
            "base": {
                "label": f"{owner}:{base}",
                "ref": base,
                "sha": repo.refs[f"refs/heads/{base}"],
                **side,
            },
            "merged": False,
            "merged_at": None,
            "merged_by": None,
            "merge_commit_sha": None,
            "mergeable": True,
            "comments": 0,
            "commits": 1,
        }
        repo.pulls[number] = pull
        shown = self._pull_json(repo, pull)
        self._notify(repo, "pull_request", action="opened", number=number, pull_request=shown)
        return self.reply(shown, 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/pulls")
    def list_pulls(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        state = self._query(request, "state") or "open"
        head = self._query(request, "head")
        base = self._query(request, "base")
        found = []
        for pull in repo.pulls.values():
            shown = self._pull_json(repo, pull)
            if state != "all" and shown["state"] != state:
                continue
            if head is not None and shown["head"]["label"] != head:
                continue
            if base is not None and shown["base"]["ref"] != base:
                continue
            found.append(shown)
        return self._page(request, self._sorted(request, found))

    @_endpoint("GET", "/repos/{owner}/{repo}/pulls/{number}")
    def get_pull(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        return self.reply(self._pull_json(repo, self._pull(repo, request)))

    @_endpoint("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge")
    def merge_pull(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        pull = self._pull(repo, request)
        issue = repo.issues[pull["number"]]
        body = self._object_body(request)
        if pull["merged"] or issue["state"] != "open":
            raise _Problem(405, "Pull Request is not mergeable")
        head = repo.refs.get(f"refs/heads/{pull['head']['ref']}")
        if head is None:
            raise _Problem(405, "Pull Request is not mergeable")
        if body.get("sha") not in (None, head):
            raise _Problem(409, "Head branch was modified. Review and try the merge again.")
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise _invalid("PullRequest", "merge_method")
        base_ref = f"refs/heads/{pull['base']['ref']}"
        title = body.get("commit_title") or (
            f"Merge pull request #{pull['number']} from {pull['head']['label']}"
        )
        message = title + ("\n\n" + body["commit_message"] if body.get("commit_message") else "")
        tree = repo.commits[head]["tree"]["sha"]
        parents = [repo.refs[base_ref], head] if method == "merge" else [repo.refs[base_ref]]
        sha = self._store_commit(repo, message, tree, parents, None, None)
        before, repo.refs[base_ref] = repo.refs[base_ref], sha
        now = self.timestamp()
        pull.update(merged=True, merged_at=now, merged_by=self.user(), merge_commit_sha=sha)
        pull["head"] = dict(pull["head"], sha=head)
        issue.update(state="closed", closed_at=now, closed_by=self.user())
        issue["pull_request"]["merged_at"] = now
        self._touch(issue)
        self._push(repo, base_ref, before, sha)
        shown = self._pull_json(repo, pull)
        self._notify(
            repo, "pull_request", action="closed", number=pull["number"], pull_request=shown
        )
        return self.reply(
            {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
            200,
            request,
        )

    # -- releases ------------------------------------------------------------------------------
    @_endpoint("POST", "/repos/{owner}/{repo}/releases")
    def create_release(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        body = self._object_body(request)
        tag = body.get("tag_name")
        if not isinstance(tag, str) or not tag:
            raise _invalid("Release", "tag_name", "missing_field")
        if any(r["tag_name"] == tag for r in repo.releases.values()):
            raise _invalid("Release", "tag_name", "already_exists")
        target = body.get("target_commitish") or repo.data["default_branch"]
        if f"refs/tags/{tag}" not in repo.refs and not body.get("draft"):
            sha = repo.refs.get(f"refs/heads/{target}", target)
            if sha not in repo.commits:
                raise _invalid("Release", "target_commitish")
            repo.refs[f"refs/tags/{tag}"] = sha
        number = self.next_id()
        now = self.timestamp()
        text = body.get("body")
        if body.get("generate_release_notes"):
            text = (text + "\n\n" if text else "") + f"**Full Changelog**: {tag}"
        release = {
            "id": number,
            "node_id": f"RE_{number}",
            "url": self.api(f"/repos/{repo.full_name}/releases/{number}"),
            "assets_url": self.api(f"/repos/{repo.full_name}/releases/{number}/assets"),
            "upload_url": self.api(
                f"/repos/{repo.full_name}/releases/{number}/assets{{?name,label}}"
            ),
            "html_url": self.web(f"/{repo.full_name}/releases/tag/{tag}"),
            "tag_name": tag,
            "target_commitish": target,
            "name": body.get("name") or tag,
            "body": text,
            "draft": bool(body.get("draft", False)),
            "prerelease": bool(body.get("prerelease", False)),
            "author": self.user(),
            "created_at": now,
            "published_at": None if body.get("draft") else now,
            "assets": [],
            "tarball_url": self.api(f"/repos/{repo.full_name}/tarball/{tag}"),
            "zipball_url": self.api(f"/repos/{repo.full_name}/zipball/{tag}"),
        }
        repo.releases[number] = release
        self._notify(repo, "release", action="created", release=release)
        if not release["draft"]:
            self._notify(repo, "release", action="published", release=release)
        return self.reply(release, 201, request)

    @_endpoint("GET", "/repos/{owner}/{repo}/releases")
    def list_releases(self, request: FakeRequest) -> FakeResponse:
        repo = self._repo(request)
        found = sorted(repo.releases.values(), key=lambda r: (r["created_at"], r["id"]))
        return self._page(request, found[::-1])


if __name__ == "__main__":  # python -m runio_github.testing --port 12113
    from runio.testing import serve_fake

    serve_fake(
        lambda: FakeGitHub(repos=["octo/hello"], orgs=["octo"]),
        prog="python -m runio_github.testing",
        environment={"GITHUB_API_BASE": "{url}", "GITHUB_TOKEN": "ghp_fake"},
    )
