"""The error a Slack task fails with when Slack answers with an error, and Slack's error rules.

::

    SlackAPIError   Slack answered ``ok: false`` or an error status: the Web API method,
                    Slack's error code, the HTTP status, the scopes it wanted

``SlackAPIError.from_sdk`` turns the SDK's ``slack_sdk.errors.SlackApiError`` into one whose
message says which method failed, with which code, and what to do about the common codes.
Errors that carry no answer from Slack (a dropped connection, a timeout: the standard library's
own errors, as the SDK runs on ``urllib``) stay as they are. ``classify`` and
``is_outcome_unknown`` hold Slack's rules (what is retried, when, and which failures may have
taken effect); ``_integration.py`` hands them to runio. Nothing here knows about tasks.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackRequestError

import runio
from runio.integrations import retry_after_seconds

TRANSIENT_CODES = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
"""``ok: false`` codes that Slack documents as temporary (every other code is permanent)."""

APPLIED_MAYBE_CODES = frozenset({"internal_error", "fatal_error"})
"""Codes after which Slack says "it's possible some aspect of the operation succeeded"."""

_ADVICE = {
    "not_in_channel": "the bot is not a member of this channel: invite it (/invite @your-app), "
    "or call post_message with join_if_needed=True for a public channel",
    "channel_not_found": "no channel with this id is visible to the bot: check the id (a "
    "channel id such as C0123ABCD, not its name, for this method), and invite the bot to a "
    "private channel",
    "is_archived": "the channel is archived: unarchive it or post elsewhere",
    "invalid_auth": "Slack does not accept this token: check SLACK_BOT_TOKEN (or the token= "
    "argument) and that the app is still installed in the workspace",
    "not_authed": "no token was sent: set SLACK_BOT_TOKEN or pass token= to Slack()",
    "token_revoked": "the token was revoked: reinstall the app and use its new bot token",
    "account_inactive": "the token's user or bot is deactivated: reinstall the app",
    "missing_scope": "the token lacks a scope this method needs: add it to the app's bot "
    "token scopes and reinstall the app",
    "users_not_found": "no user in the workspace has this email address (or the app lacks "
    "the users:read.email scope)",
    "message_not_found": "no message with this ts in this channel",
    "thread_not_found": "no message with this thread_ts in this channel",
    "user_not_in_channel": "the user is not a member of this channel",
    "time_in_past": "post_at must be in the future",
    "time_too_far": "post_at may be at most 120 days ahead",
    "no_text": "give text, blocks or attachments",
    "msg_too_long": "the text is longer than Slack accepts (40,000 characters)",
    "invalid_metadata_format": "metadata must be {'event_type': str, 'event_payload': dict}",
}


def method_of(error: SlackApiError) -> str:
    """The Web API method a failed call named, from its URL (``chat.postMessage``)."""
    url = str(getattr(error.response, "api_url", "") or "")
    path = url.split("?", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1] or "unknown method"


def _body(error: SlackApiError) -> dict[str, Any]:
    data = getattr(error.response, "data", None)
    return data if isinstance(data, dict) else {}


def _headers(error: SlackApiError) -> dict[str, str]:
    headers = getattr(error.response, "headers", None) or {}
    return {str(k).lower(): str(v) for k, v in dict(headers).items()}


class SlackAPIError(Exception):
    """Slack answered a Web API call with an error.

    The message carries the method, Slack's error code (``channel_not_found``,
    ``invalid_auth``...), the HTTP status when it was not 200, the scopes Slack wanted and the
    details it gave, and what to do for the common codes. ``slack_error`` is the SDK's
    ``SlackApiError`` (its ``response`` holds the whole answer).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        error: str | None,
        status: int | None,
        headers: Mapping[str, str],
        needed: str | None = None,
        details: tuple[str, ...] = (),
        slack_error: SlackApiError | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        """The Web API method: ``chat.postMessage``."""
        self.error = error
        """Slack's error code: ``channel_not_found``, ``ratelimited``..."""
        self.status = status
        """The HTTP status (200 for an ``ok: false`` answer, 429, 5xx...)."""
        self.headers = dict(headers)
        self.needed = needed
        """For ``missing_scope``: the scope Slack asked for."""
        self.details = details
        """Slack's ``response_metadata.messages`` (details of ``invalid_arguments``...)."""
        self.slack_error = slack_error

    @classmethod
    def from_sdk(cls, error: SlackApiError) -> SlackAPIError:
        body = _body(error)
        code = body.get("error")
        status = getattr(error.response, "status_code", None)
        metadata = body.get("response_metadata")
        messages = metadata.get("messages") if isinstance(metadata, dict) else None
        details = tuple(str(m) for m in messages) if isinstance(messages, list) else ()
        needed = body.get("needed")
        fields: dict[str, Any] = {
            "method": method_of(error),
            "error": str(code) if code else None,
            "status": status if isinstance(status, int) else None,
            "needed": str(needed) if needed else None,
            "details": details,
        }
        return cls(cls.describe(**fields), headers=_headers(error), slack_error=error, **fields)

    @staticmethod
    def describe(
        *,
        method: str,
        error: str | None,
        status: int | None,
        needed: str | None = None,
        details: tuple[str, ...] = (),
    ) -> str:
        """``Slack chat.postMessage failed: not_in_channel (the bot is not a member...)``."""
        text = f"Slack {method} failed: {error or 'no error code'}"
        if status is not None and status != 200:
            text += f" (HTTP {status})"
        advice = _ADVICE.get(error or "")
        if error == "missing_scope" and needed:
            advice = f"the token lacks the {needed} scope: add it to the app's bot token scopes"
        if advice:
            text += f": {advice}"
        if details:
            text += " [" + "; ".join(details) + "]"
        return text


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sdk_error(error: BaseException) -> SlackApiError | None:
    if isinstance(error, SlackAPIError):
        return error.slack_error
    return error if isinstance(error, SlackApiError) else None


_UPLOAD_STATUS = re.compile(r"Failed to upload a file \(status: (\d{3})")


def upload_status(error: BaseException) -> int | None:
    """The HTTP status of an upload to a ``files.getUploadURLExternal`` URL answered with
    another success than 200: the SDK raises a plain ``SlackRequestError`` for it, with the
    status in its message only (an error status raises ``urllib``'s ``HTTPError``)."""
    if isinstance(error, SlackRequestError):
        found = _UPLOAD_STATUS.match(str(error))
        if found:
            return int(found.group(1))
    return None


def classify(error: BaseException) -> runio.ErrorDecision | None:
    """Slack's rules: a 429 (``ratelimited``) is retried at its ``Retry-After``; 5xx answers and
    the ``ok: false`` codes Slack documents as temporary (``internal_error``, ``fatal_error``,
    ``service_unavailable``, ``request_timeout``) are transient; every other ``ok: false`` code
    is permanent (``channel_not_found``, ``not_in_channel``, ``invalid_auth``...). A dropped or
    timed-out connection is transient. The SDK's own refusals of bad arguments are
    permanent. None leaves anything else to runio's defaults."""
    sdk = _sdk_error(error)
    if sdk is not None:
        body = _body(sdk)
        status = getattr(sdk.response, "status_code", None)
        code = body.get("error")
        if status == 429 or code == "ratelimited":
            wait = retry_after_seconds(_headers(sdk).get("retry-after"))
            return runio.ErrorDecision.retry_at(wait) if wait else runio.ErrorDecision.retry()
        if (isinstance(status, int) and status >= 500) or code in TRANSIENT_CODES:
            wait = retry_after_seconds(_headers(sdk).get("retry-after"))
            return runio.ErrorDecision.retry_at(wait) if wait else runio.ErrorDecision.retry()
        return runio.ErrorDecision.fail()
    status = upload_status(error)
    if status is not None:
        transient = status == 429 or status >= 500
        return runio.ErrorDecision.retry() if transient else runio.ErrorDecision.fail()
    if isinstance(error, SlackRequestError):
        return runio.ErrorDecision.fail()
    if isinstance(error, urllib.error.HTTPError):  # the upload URL answered with an error
        if error.code == 429 or error.code >= 500:
            wait = retry_after_seconds(error.headers.get("Retry-After") if error.headers else None)
            return runio.ErrorDecision.retry_at(wait) if wait else runio.ErrorDecision.retry()
        return runio.ErrorDecision.fail()
    for current in _chain(error):
        if isinstance(current, OSError | http.client.HTTPException):
            return runio.ErrorDecision.retry()
    return None


def is_outcome_unknown(error: BaseException) -> bool | None:
    """Whether Slack may have carried out a call that failed: a 5xx answer or an
    ``internal_error``/``fatal_error`` code (Slack: "some aspect of the operation may have
    succeeded"). False for every other answer from Slack; None when the error is no answer
    from Slack (a connection error: runio's default rules decide)."""
    sdk = _sdk_error(error)
    if sdk is not None:
        status = getattr(sdk.response, "status_code", None)
        code = _body(sdk).get("error")
        return (isinstance(status, int) and status >= 500) or code in APPLIED_MAYBE_CODES
    status = upload_status(error)
    if isinstance(error, urllib.error.HTTPError):
        status = error.code
    if status is not None:
        return status >= 500
    if isinstance(error, SlackRequestError):
        return False
    return None
