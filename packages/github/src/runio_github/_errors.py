"""GitHub's error rules: what a failed call means, and the error a task records for it.

::

    GitHubAPIError      GitHub answered with an error status: the task that called, the status,
                        GitHub's message, its validation errors, documentation URL and request id

``classify_github_error`` is the retry policy, GitHub's documented rules as a plain function:

- a primary rate limit (403 or 429 with ``x-ratelimit-remaining: 0``) waits until
  ``x-ratelimit-reset``;
- a secondary rate limit (429, or 403 saying so) waits ``retry-after`` seconds when GitHub sends
  it, otherwise at least a minute, doubling with each attempt (GitHub asks for "an exponentially
  increasing amount of time between retries");
- 5xx answers and connection errors are transient (retried with the backoff);
- 401, 404, 410, 422 and every other 4xx are permanent: retrying cannot help.

Connection errors stay the HTTP library's own (``requests.ConnectionError``): their message
already says what happened. This module knows nothing about how runio schedules retries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from github import GithubException

import runio

SECONDARY_MIN_WAIT = 60.0
"""Seconds to wait after a secondary rate limit that gave no ``retry-after``."""
SECONDARY_MAX_WAIT = 15 * 60.0
"""The longest of those waits, however many attempts were limited."""

_SECONDARY_MESSAGES = (
    "secondary rate limit",
    "abuse detection",
    "please retry your request again later",
    "please wait a few minutes before you try again",
)


def _headers(error: GithubException) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (error.headers or {}).items()}


def _body(error: GithubException) -> dict[str, Any]:
    return error.data if isinstance(error.data, dict) else {}


class GitHubAPIError(Exception):
    """GitHub answered a call with an error status.

    The message names the call (the task), the status, GitHub's own message with its
    validation errors, the documentation URL GitHub points to, and the request id (quote it to
    GitHub support). ``github_error`` is PyGithub's exception.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        github_message: str | None,
        errors: list[Any],
        documentation_url: str | None,
        request_id: str | None,
        headers: Mapping[str, str],
        github_error: GithubException,
    ) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status GitHub answered with (404, 422...)."""
        self.github_message = github_message
        """GitHub's ``message``, unchanged (``Not Found``, ``Validation Failed``...)."""
        self.errors = errors
        """GitHub's ``errors`` (on 422: which field of which resource was refused, and why)."""
        self.documentation_url = documentation_url
        """The page of GitHub's documentation the answer points to."""
        self.request_id = request_id
        """GitHub's ``x-github-request-id`` of the failed request."""
        self.headers = dict(headers)
        self.github_error = github_error

    @classmethod
    def from_github(cls, error: GithubException, *, call: str | None = None) -> GitHubAPIError:
        """The error for PyGithub's ``error``; ``call`` names what was being done."""
        body = _body(error)
        headers = _headers(error)
        errors = body.get("errors")
        fields: dict[str, Any] = {
            "status": error.status,
            "github_message": body.get("message") or error.message,
            "errors": errors if isinstance(errors, list) else [],
            "documentation_url": body.get("documentation_url"),
            "request_id": headers.get("x-github-request-id"),
        }
        return cls(cls.describe(call=call, **fields), headers=headers, github_error=error, **fields)

    @staticmethod
    def describe(
        *,
        call: str | None,
        status: int,
        github_message: str | None,
        errors: list[Any],
        documentation_url: str | None,
        request_id: str | None,
    ) -> str:
        """One line: ``GitHub 422 on Create Issue: Validation Failed (Issue.title:
        missing_field). See https://docs.github.com/... [request 04C0:1A2B]``."""
        text = f"GitHub {status}"
        if call:
            text += f" on {call}"
        text += f": {github_message or 'no message'}"
        details = [_describe_detail(e) for e in errors]
        if details:
            text += f" ({'; '.join(d for d in details if d)})"
        if status == 401:
            text += ". Check the token (GITHUB_TOKEN or GitHub(token=...)): it is wrong or revoked"
        elif status == 404:
            text += (
                ". The repository or object does not exist, or the token cannot see it "
                "(private repositories answer 404 to tokens without access)"
            )
        if documentation_url:
            text += f". See {documentation_url}"
        if request_id:
            text += f" [request {request_id}]"
        return text


def _describe_detail(error: Any) -> str:
    if isinstance(error, str):
        return error
    if not isinstance(error, Mapping):
        return str(error)
    where = ".".join(str(error[k]) for k in ("resource", "field") if error.get(k))
    what = error.get("message") or error.get("code") or ""
    return f"{where}: {what}" if where and what else str(where or what)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def github_error_of(error: BaseException) -> GithubException | None:
    """PyGithub's answer error in ``error`` (or behind a ``GitHubAPIError``), if any."""
    for current in _chain(error):
        if isinstance(current, GitHubAPIError):
            return current.github_error
        if isinstance(current, GithubException):
            return current
    return None


def is_secondary_rate_limit(error: GithubException) -> bool:
    """A secondary rate limit: 429 without an exhausted primary limit, or a 403 whose message
    says so (or that carries ``retry-after``)."""
    headers = _headers(error)
    if error.status not in (403, 429) or headers.get("x-ratelimit-remaining") == "0":
        return False
    if error.status == 429 or "retry-after" in headers:
        return True
    message = str(_body(error).get("message") or error.message or "").lower()
    return any(part in message for part in _SECONDARY_MESSAGES)


def classify_github_error(error: Exception, *, attempt: int = 1) -> runio.ErrorDecision | None:
    """GitHub's retry rules (see the module doc); ``attempt`` is the 1-based attempt that
    failed, for the secondary limit's doubling wait. None: not an error GitHub answered nor a
    connection error (runio's defaults apply)."""
    answered = github_error_of(error)
    if answered is not None:
        status = answered.status
        headers = _headers(answered)
        if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
            reset = _number(headers.get("x-ratelimit-reset"))
            if reset is not None:
                return runio.ErrorDecision.retry_at(datetime.fromtimestamp(reset, tz=UTC))
            return runio.ErrorDecision.retry_at(_secondary_wait(attempt))
        if is_secondary_rate_limit(answered):
            wait = runio.integrations.retry_after_seconds(headers.get("retry-after"))
            if wait is not None:
                return runio.ErrorDecision.retry_at(max(wait, 1.0))
            return runio.ErrorDecision.retry_at(_secondary_wait(attempt))
        if status >= 500:
            return runio.ErrorDecision.retry()
        if 400 <= status < 500:
            return runio.ErrorDecision.fail()
        return None
    # requests' errors (connection refused or dropped, timeouts) are OSErrors too.
    if any(isinstance(current, OSError) for current in _chain(error)):
        return runio.ErrorDecision.retry()
    return None


def _secondary_wait(attempt: int) -> float:
    return float(min(SECONDARY_MAX_WAIT, SECONDARY_MIN_WAIT * 2 ** max(0, attempt - 1)))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
