"""The Slack integration: settings, the SDK client, Slack's error rules, the task wrappers, and
the triggers (``on_app_mention``, ``on_message``... over Slack's Events API; reading a delivery
and the typed payloads are ``_events``'s).

Each wrapper is one task of the run (``io.slack.post_message("hello", channel=..., text=...)``)
taking the Web API method's own parameters by keyword and returning Slack's answer as JSON.
Slack has no idempotency key, so every message a wrapper posts carries the task's marker in its
message ``metadata``; when an earlier attempt's outcome is unknown (the connection dropped, a
5xx, the worker died mid-call), the wrapper's ``find_previous`` first looks for that marker in
the channel's (or thread's) history since the task began, and returns the message it finds
instead of posting again. The SDK's own retry handlers are off; runio's durable retries, driven
by ``_errors.classify``, are the only retry layer. The token lives in memory only.

This module imports the ``slack_sdk``; runio's core never does.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

try:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse
except ImportError as exc:  # pragma: no cover - the dependency is declared
    raise ImportError(
        "runio-slack needs the Slack SDK: pip install 'slack-sdk>=3.47' (or reinstall runio-slack)."
    ) from exc

from pydantic import BaseModel

import runio
from runio.errors import IntegrationSettingError, JobDefinitionError, NonRetryableError
from runio.integrations import WebhookDelivery, WebhookReply, WebhookRequest, WebhookTrigger

from . import _errors, _events
from ._errors import SlackAPIError

DEFAULT_BASE_URL = "https://slack.com"
EVENT_TYPE = "runio_task"
"""The metadata ``event_type`` of the messages runio posts (unless the call gives its own)."""
MARKER_KEY = "runio_marker"
"""The key of the task's marker in the message metadata's ``event_payload``."""
LOOKUP_MARGIN = 120.0
"""Seconds before the task began that a lookup for its earlier write also searches."""
LOOKUP_PAGE = 200
"""Messages asked for per history page (Slack gives apps outside the Marketplace 15)."""
LIST_PAGE = 200

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


# -- helpers ----------------------------------------------------------------------------------


def _json(response: SlackResponse) -> dict[str, Any]:
    """Slack's answer as plain JSON."""
    data = response.data
    return dict(data) if isinstance(data, dict) else {"ok": True}


def _code(error: BaseException) -> str | None:
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
    return None


def _given(**params: Any) -> dict[str, Any]:
    """The parameters the caller gave (a ``None`` is "not given": the SDK drops it too)."""
    return {k: v for k, v in params.items() if v is not None}


def _when(post_at: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(post_at), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return None if post_at is None else str(post_at)


def _props(*pairs: tuple[str, Any]) -> list[runio.Property]:
    """Properties from (label, value) pairs; a pair whose value is None is left out."""
    return [runio.Property(label, str(value)) for label, value in pairs if value is not None]


def _message_props(p: Mapping[str, Any]) -> list[runio.Property]:
    return _props(("Channel", p.get("channel")), ("Thread", p.get("thread_ts")))


def _users(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return None if value is None else str(value)


def _marker_of(message: Mapping[str, Any]) -> str | None:
    metadata = message.get("metadata")
    if isinstance(metadata, Mapping):
        payload = metadata.get("event_payload")
        if isinstance(payload, Mapping) and isinstance(payload.get(MARKER_KEY), str):
            return str(payload[MARKER_KEY])
    return None


def _by(message: Mapping[str, Any], bot: frozenset[str]) -> bool:
    """Whether the bot posted ``message``: its user id is the author, or its bot id (a message
    posted with a custom ``username`` has only that); any author when Slack named neither."""
    return not bot or message.get("user") in bot or message.get("bot_id") in bot


def _slack_now(response: SlackResponse) -> float | None:
    """Slack's clock, from the answer's ``Date`` header."""
    headers = {str(k).lower(): str(v) for k, v in dict(response.headers or {}).items()}
    try:
        when = email.utils.parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _channel_ids(where: str, channel: str | Sequence[str] | None) -> list[str] | None:
    """``channel`` as the list of ids an event filter allows; None for any channel."""
    if channel is None:
        return None
    channels = [channel] if isinstance(channel, str) else list(channel)
    for value in channels:
        if not (isinstance(value, str) and _CHANNEL_ID.match(value)):
            raise JobDefinitionError(
                f"Slack.{where}(channel={value!r}): Slack's events name channels by id "
                "(C0123ABCD; G... for a private channel, D... for a direct message), not by name. "
                "Find it at the bottom of the channel's details in Slack, or with "
                "io.slack.list_conversations."
            )
    if not channels:
        raise JobDefinitionError(f"Slack.{where}(channel=[]) names no channel; leave it None.")
    return channels


def _merge_event_filter(
    where: str, filter: Mapping[str, Any] | None, extra: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """``filter`` with ``extra`` added under ``"event"``; a key both set is an error."""
    if not extra:
        return filter
    merged = dict(filter or {})
    event = merged.get("event", {})
    if not isinstance(event, Mapping):
        raise JobDefinitionError(
            f"Slack.{where}(filter=...)'s 'event' entry must be a mapping of the event's fields."
        )
    both = sorted(set(event) & set(extra))
    if both:
        raise JobDefinitionError(
            f"Slack.{where}: filter={{'event': {{{both[0]!r}: ...}}}} and the argument that sets "
            "it both narrow the same field; give one of them."
        )
    merged["event"] = {**event, **extra}
    return merged


def _channel_filter(
    where: str, channel: str | Sequence[str] | None, filter: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    channels = _channel_ids(where, channel)
    return _merge_event_filter(where, filter, {} if channels is None else {"channel": channels})


class Slack(runio.Integration[WebClient]):
    """Slack: ``await io.slack.post_message("hello", channel="C0123ABCD", text="Hi!")``.

    Settings (each an argument, else its environment variable): ``token``
    (``SLACK_BOT_TOKEN``, required, secret: the bot token, ``xoxb-...``), ``base_url``
    (``SLACK_API_BASE``, default ``https://slack.com``; point it at
    ``runio_slack.testing.FakeSlack`` in tests, or at a gateway) and ``timeout`` (seconds per
    request, default 30).

    Every wrapper takes the Web API method's own parameters by keyword and returns Slack's
    answer as JSON. Slack has no idempotency key: messages carry the task's marker in their
    ``metadata`` (``event_type`` ``runio_task`` unless you give your own, ``event_payload``
    ``{"runio_marker": ...}``), and after an attempt whose outcome is unknown the wrapper looks
    for that marker before posting again. docs/integrations/slack.md says, per wrapper, what is
    exactly-once and what is at-least-once.
    """

    namespace = "slack"
    name = "Slack"
    icon = "slack"
    package = "runio-slack"
    idempotency = "marker"
    sdk_loggers = ("slack_sdk",)

    token: str = runio.setting(env="SLACK_BOT_TOKEN", help="Bot token (xoxb-...)")
    base_url: str = runio.setting(
        env="SLACK_API_BASE",
        default=DEFAULT_BASE_URL,
        secret=False,
        help="API base URL (a FakeSlack's url in tests); the Web API is under /api/",
    )
    timeout: float = runio.setting(default=30.0, secret=False, help="seconds per request")
    signing_secret: str | None = runio.setting(
        env="SLACK_SIGNING_SECRET",
        required=False,
        help="The app's Signing Secret (Basic Information → App Credentials): verifies events",
    )

    webhook_secret_setting = "signing_secret"
    webhook_help = (
        "Slack has no API for an app's Event Subscriptions: set them on the app's page at "
        "https://api.slack.com/apps → your app → Event Subscriptions. Turn on Enable Events, "
        "paste the endpoint URL as the Request URL (Slack sends a url_verification challenge, "
        "which runio answers once SLACK_SIGNING_SECRET is set: 'Verified'), then under "
        "Subscribe to bot events add the events your jobs listen to (app_mention; "
        "message.channels, message.groups, message.im, message.mpim for messages; "
        "reaction_added; member_joined_channel) and Save Changes; reinstall the app if Slack "
        "asks (new events can need new scopes). The Signing Secret is under Basic Information "
        "→ App Credentials."
    )

    # -- the SDK client ------------------------------------------------------------------------
    def create_client(self) -> WebClient:
        """A ``WebClient`` with the bot token on ``base_url + "/api/"``, its retry handlers
        off (the default connection-error handler re-sends POSTs: duplicate messages)."""
        return WebClient(
            token=self.token,
            base_url=str(self.base_url).rstrip("/") + "/api/",
            timeout=max(1, math.ceil(float(self.timeout))),
            retry_handlers=[],
        )

    # -- errors --------------------------------------------------------------------------------
    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        """429 (``ratelimited``) → retried at Slack's ``Retry-After``; 5xx and Slack's
        temporary codes (``internal_error``, ``fatal_error``, ``service_unavailable``,
        ``request_timeout``) and connection errors → retried; every other ``ok: false`` code
        (``channel_not_found``, ``not_in_channel``, ``invalid_auth``...) → fails at once."""
        return _errors.classify(error)

    def translate_error(self, error: Exception, task: runio.Task) -> Exception:
        """An error Slack answered becomes a ``SlackAPIError`` naming the method and Slack's
        error code (with what to do about the common ones); connection errors stay as they
        are."""
        if isinstance(error, SlackApiError):
            return SlackAPIError.from_sdk(error)
        return error

    def is_outcome_unknown(self, error: Exception) -> bool:
        """A 5xx answer, ``internal_error``/``fatal_error`` (Slack says the call may have
        partly succeeded), or a connection dropped after the request went out."""
        known = _errors.is_outcome_unknown(error)
        return super().is_outcome_unknown(error) if known is None else known

    # -- the Events API: webhooks and triggers --------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        """Check the request's v0 signature (``X-Slack-Signature`` over
        ``v0:{X-Slack-Request-Timestamp}:{body}``, with the ``signing_secret``, within 5 minutes
        of its arrival) with the SDK's ``SignatureVerifier``; answer the ``url_verification``
        challenge; read an ``event_callback`` as a delivery of ``event.type`` whose id is
        Slack's ``event_id`` (the same on Slack's retries, ``X-Slack-Retry-Num``)."""
        secret = self.require_setting("signing_secret")
        if not str(secret).strip():
            raise IntegrationSettingError(
                f"Slack integration {self.id!r} has a blank signing_secret: give it the app's "
                "Signing Secret (Basic Information → App Credentials) with "
                "Slack(signing_secret=...) or SLACK_SIGNING_SECRET.",
                integration=self.id,
                setting="signing_secret",
                env="SLACK_SIGNING_SECRET",
            )
        return _events.read_delivery(str(secret), request)

    def on_event(
        self,
        event_type: str,
        *,
        schema: type[BaseModel] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """Run the job for every Events API event of ``event_type`` (``"app_home_opened"``,
        ``"channel_created"``, ``"message"``...; subscribe the app to it), whatever caused it,
        the app's own included. The payload is Slack's envelope (``event``, ``event_id``,
        ``team_id``...), parsed by ``schema`` when given; ``filter`` matches it
        (``{"event": {"channel": ["C0123ABCD"]}}``)."""
        if isinstance(event_type, str) and event_type.startswith("message."):
            raise JobDefinitionError(
                f"Slack.on_event({event_type!r}): {event_type} is the name of a subscription on "
                "the app's page; Slack delivers its events as type 'message' (with "
                "channel_type telling where). Use on_event('message') or on_message()."
            )
        return self.webhook_trigger(event_type, schema=schema, filter=filter)

    def on_app_mention(
        self,
        channel: str | Sequence[str] | None = None,
        *,
        schema: type[BaseModel] = _events.AppMention,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """Run the job when someone mentions the app's bot (``app_mention``), in ``channel``
        (an id, or several) or any channel the bot is in; a mention in the app's own message
        does not (an answer quoting the mention would start the job again). The payload is an
        ``AppMention`` (``payload.event.text``, ``.user``, ``.channel``, ``.ts``)."""
        where = _channel_filter("on_app_mention", channel, filter)
        trigger = self.webhook_trigger("app_mention", schema=schema, filter=where)
        return _events.narrowed(trigger, skip_own=True)

    def on_message(
        self,
        channel: str | Sequence[str] | None = None,
        *,
        include_bots: bool = False,
        subtypes: Sequence[str] = _events.USER_MESSAGE_SUBTYPES,
        schema: type[BaseModel] = _events.Message,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """Run the job when someone posts a message in ``channel`` (an id, or several) or in
        any conversation the app is subscribed to (``message``; the ``message.channels``,
        ``.groups``, ``.im``, ``.mpim`` bot events). The payload is a ``Message``
        (``payload.event.text``, ``.user``, ``.channel``, ``.ts``, ``.thread_ts``).

        Messages people post: the app's own messages never start it (a job that answers would
        answer itself, forever); other bots' only with ``include_bots=True``; and of Slack's
        message subtypes, only ``subtypes`` (default ``file_share``, ``thread_broadcast``,
        ``me_message``): edits, deletions, joins and topic changes do not. ``on_event("message")``
        gives every message event."""
        if isinstance(subtypes, str):
            raise JobDefinitionError(
                f"Slack.on_message(subtypes=...) lists subtypes, e.g. [{subtypes!r}]; got a string."
            )
        where = _channel_filter("on_message", channel, filter)
        trigger = self.webhook_trigger("message", schema=schema, filter=where)
        return _events.narrowed(
            trigger, skip_own=True, skip_bots=not include_bots, subtypes=list(subtypes)
        )

    def on_reaction_added(
        self,
        reaction: str | Sequence[str] | None = None,
        *,
        channel: str | Sequence[str] | None = None,
        schema: type[BaseModel] = _events.ReactionAdded,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """Run the job when someone adds emoji ``reaction`` (``"eyes"``, without colons; or
        several; any when None) to a message in ``channel`` (an id, or several; any when None).
        The app's own reactions do not start it. The payload is a ``ReactionAdded``
        (``payload.event.reaction``, ``.user``, ``.item.channel``, ``.item.ts``)."""
        extra: dict[str, Any] = {}
        if reaction is not None:
            names = [reaction] if isinstance(reaction, str) else list(reaction)
            if not names or not all(isinstance(n, str) and n.strip(":").strip() for n in names):
                raise JobDefinitionError(
                    f"Slack.on_reaction_added(reaction={reaction!r}) takes an emoji name "
                    "('eyes', with or without colons) or a list of them; leave it None for any."
                )
            extra["reaction"] = [name.strip(":") for name in names]
        channels = _channel_ids("on_reaction_added", channel)
        if channels is not None:
            extra["item"] = {"channel": channels}
        where = _merge_event_filter("on_reaction_added", filter, extra)
        trigger = self.webhook_trigger("reaction_added", schema=schema, filter=where)
        return _events.narrowed(trigger, skip_own=True)

    def on_member_joined_channel(
        self,
        channel: str | Sequence[str] | None = None,
        *,
        schema: type[BaseModel] = _events.MemberJoinedChannel,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """Run the job when someone joins ``channel`` (an id, or several) or any channel the
        app is in (``member_joined_channel``; the app's bot joining counts too). The payload is
        a ``MemberJoinedChannel`` (``payload.event.user``, ``.channel``, ``.inviter``)."""
        where = _channel_filter("on_member_joined_channel", channel, filter)
        return self.webhook_trigger("member_joined_channel", schema=schema, filter=where)

    # -- helpers for wrappers ------------------------------------------------------------------
    def _metadata(self, task: runio.Task, metadata: Any) -> dict[str, Any]:
        """The message metadata carrying the task's marker: the caller's own ``metadata``
        (``{"event_type": ..., "event_payload": {...}}``) with the marker added to its
        payload, or ``runio_task`` metadata holding only the marker."""
        marker = self.marker(task)
        if metadata is None:
            return {"event_type": EVENT_TYPE, "event_payload": {MARKER_KEY: marker}}
        if not (
            isinstance(metadata, Mapping)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload", {}), Mapping)
        ):
            raise NonRetryableError(
                "metadata must be a dict {'event_type': str, 'event_payload': dict} (Slack's "
                f"message metadata), not {metadata!r}"
            )
        payload = dict(metadata.get("event_payload") or {})
        payload[MARKER_KEY] = marker
        return {"event_type": metadata["event_type"], "event_payload": payload}

    def _channel_id(self, client: WebClient, channel: str) -> str | None:
        """The id of ``channel`` (an id, a ``#name`` or a user id for their DM), as the
        history methods need; None when the bot sees no such channel."""
        if _CHANNEL_ID.match(channel):
            return channel
        if _USER_ID.match(channel):
            return str(client.conversations_open(users=channel)["channel"]["id"])
        name = channel.lstrip("#")
        cursor: str | None = None
        while True:
            page = client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=LIST_PAGE,
                cursor=cursor,
            )
            for found in page.get("channels") or []:
                if found.get("name") == name:
                    return str(found["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def _search_window(self, client: WebClient, task: runio.Task) -> tuple[frozenset[str], float]:
        """The bot's user and bot ids, and the Slack time from which to search: the task's
        start, moved onto Slack's clock (its ``Date`` now, less the time elapsed on the worker's
        clock), less ``LOOKUP_MARGIN``. Clocks that disagree therefore do not hide the earlier
        write."""
        who = client.auth_test()
        started = task.started_at if task.started_at is not None else time.time()
        elapsed = max(0.0, time.time() - started)
        slack_now = _slack_now(who) or time.time()
        bot = frozenset(str(who[k]) for k in ("user_id", "bot_id") if who.get(k))
        return bot, slack_now - elapsed - LOOKUP_MARGIN

    def _messages_since(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str | None,
        oldest: float,
    ) -> Iterator[dict[str, Any]]:
        """The channel's (or thread's) messages since ``oldest``, metadata included, page by
        page. A rate-limited page raises the SDK's error: a durable retry of the lookup."""
        cursor: str | None = None
        while True:
            since = f"{oldest:.6f}"
            if thread_ts:
                page = client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    oldest=since,
                    include_all_metadata=True,  # Slack leaves metadata out unless asked
                    limit=LOOKUP_PAGE,
                    cursor=cursor,
                )
            else:
                page = client.conversations_history(
                    channel=channel,
                    oldest=since,
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE,
                    cursor=cursor,
                )
            yield from page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def _find(
        self,
        client: WebClient,
        task: runio.Task,
        channel: str,
        thread_ts: str | None,
        match: Callable[[Mapping[str, Any], frozenset[str]], bool],
    ) -> tuple[str, dict[str, Any]] | None:
        """The bot's message in ``channel`` (or its thread) posted since the task began that
        ``match(message, the bot's ids)`` accepts, with the channel id; None when there is none
        or the bot cannot read the channel (then it cannot have posted there either)."""
        try:
            channel_id = self._channel_id(client, channel)
            if channel_id is None:
                return None
            bot, oldest = self._search_window(client, task)
            for message in self._messages_since(client, channel_id, thread_ts, oldest):
                if match(message, bot):
                    return channel_id, message
        except SlackApiError as exc:
            if _code(exc) in ("not_in_channel", "channel_not_found", "thread_not_found"):
                return None
            raise
        return None

    # -- messages ------------------------------------------------------------------------------
    @runio.integration_task(name="Post Message", effect="write", properties=_message_props)
    def post_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        text: str | None = None,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        join_if_needed: bool = False,
        **params: Any,
    ) -> dict[str, Any]:
        """Post a message (``chat.postMessage``): ``channel`` (an id, ``#name``, or a user id
        for their DM), ``text`` and/or ``blocks``/``attachments``, ``thread_ts`` to reply in a
        thread, and any other parameter of the method (``reply_broadcast``, ``unfurl_links``,
        ``username``...). Returns Slack's answer (``channel``, ``ts``, ``message``).

        Exactly once: the message carries the task's marker in ``metadata`` (yours, if you
        give ``metadata``, keeps its ``event_type``), and after an attempt of unknown outcome
        the channel's or thread's history is searched for it first. With
        ``join_if_needed=True``, a ``not_in_channel`` answer for a public channel makes the bot
        join it (a subtask) and post again."""
        call = _given(
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=thread_ts,
            **params,
        )
        call["metadata"] = self._metadata(task, metadata)
        try:
            return _json(client.chat_postMessage(channel=channel, **call))
        except SlackApiError as exc:
            if not (join_if_needed and _code(exc) == "not_in_channel"):
                raise
        channel_id = self._channel_id(client, channel) or channel
        runio.integrations.use(self).join_conversation("join", channel=channel_id)
        return _json(client.chat_postMessage(channel=channel, **call))

    @post_message.find_previous
    def _find_posted_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        thread_ts: str | None = None,
        **params: Any,
    ) -> dict[str, Any] | None:
        marker = self.marker(task)
        found = self._find(
            client,
            task,
            channel,
            thread_ts,
            lambda m, bot: _marker_of(m) == marker and _by(m, bot),
        )
        if found is None:
            return None
        channel_id, message = found
        return {"ok": True, "channel": channel_id, "ts": message["ts"], "message": message}

    @runio.integration_task(
        name="Update Message",
        effect="idempotent",
        properties=lambda p: _props(("Channel", p.get("channel")), ("Message", p.get("ts"))),
    )
    def update_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        ts: str,
        text: str | None = None,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Edit the bot's message ``ts`` in ``channel`` (``chat.update``): new ``text``,
        ``blocks``, ``attachments``... Returns Slack's answer. Safe to repeat: the message ends
        up with the same content however often it is sent."""
        call = _given(text=text, blocks=blocks, attachments=attachments, **params)
        return _json(client.chat_update(channel=channel, ts=ts, **call))

    @runio.integration_task(
        name="Delete Message",
        effect="idempotent",
        properties=lambda p: _props(("Channel", p.get("channel")), ("Message", p.get("ts"))),
    )
    def delete_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        ts: str,
        **params: Any,
    ) -> dict[str, Any]:
        """Delete the bot's message ``ts`` in ``channel`` (``chat.delete``). Returns Slack's
        answer (``channel``, ``ts``). When an earlier attempt may have deleted it already
        (its outcome was unknown), ``message_not_found`` counts as done."""
        try:
            return _json(client.chat_delete(channel=channel, ts=ts, **params))
        except SlackApiError as exc:
            if task.outcome_unknown and _code(exc) == "message_not_found":
                return {"ok": True, "channel": channel, "ts": ts}
            raise

    @runio.integration_task(
        name="Post Ephemeral",
        effect="write",
        at_least_once=True,  # Slack keeps no ephemeral message an app could look for
        properties=lambda p: _props(
            ("Channel", p.get("channel")), ("User", p.get("user")), ("Thread", p.get("thread_ts"))
        ),
    )
    def post_ephemeral(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        user: str,
        text: str | None = None,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        thread_ts: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Show ``user`` a message in ``channel`` that only they see (``chat.postEphemeral``).
        Returns Slack's answer (``message_ts``). At least once: Slack keeps no trace of
        ephemeral messages to look for, so after an attempt of unknown outcome the user may
        see it twice (it vanishes on reload)."""
        call = _given(
            text=text, blocks=blocks, attachments=attachments, thread_ts=thread_ts, **params
        )
        return _json(client.chat_postEphemeral(channel=channel, user=user, **call))

    @runio.integration_task(
        name="Schedule Message",
        effect="write",
        properties=lambda p: _props(
            ("Channel", p.get("channel")),
            ("Post at", _when(p.get("post_at"))),
            ("Thread", p.get("thread_ts")),
        ),
    )
    def schedule_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        post_at: int,
        text: str | None = None,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        attachments: Sequence[Mapping[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Schedule a message for ``post_at`` (Unix seconds, at most 120 days ahead;
        ``chat.scheduleMessage``). Returns Slack's answer (``scheduled_message_id``,
        ``post_at``). Exactly once: after an attempt of unknown outcome, the channel's
        scheduled messages are searched first for one at the same time, with the same text,
        created since the task began (the marker also rides in its ``metadata``)."""
        call = _given(
            text=text, blocks=blocks, attachments=attachments, thread_ts=thread_ts, **params
        )
        call["metadata"] = self._metadata(task, metadata)
        return _json(client.chat_scheduleMessage(channel=channel, post_at=post_at, **call))

    @schedule_message.find_previous
    def _find_scheduled_message(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        post_at: int,
        text: str | None = None,
        **params: Any,
    ) -> dict[str, Any] | None:
        channel_id = self._channel_id(client, channel)
        if channel_id is None:
            return None
        _, since = self._search_window(client, task)
        cursor: str | None = None
        while True:
            page = client.chat_scheduledMessages_list(
                channel=channel_id,
                oldest=str(int(post_at)),
                latest=str(int(post_at)),
                limit=LIST_PAGE,
                cursor=cursor,
            )
            for found in page.get("scheduled_messages") or []:
                if (
                    int(found.get("post_at", 0)) == int(post_at)
                    and (found.get("text") or "") == (text or "")
                    and float(found.get("date_created", 0)) >= math.floor(since)
                ):
                    return {
                        "ok": True,
                        "channel": channel_id,
                        "scheduled_message_id": found["id"],
                        "post_at": found["post_at"],
                    }
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    @runio.integration_task(
        name="Add Reaction",
        effect="idempotent",
        properties=lambda p: _props(
            ("Channel", p.get("channel")),
            ("Message", p.get("timestamp")),
            ("Reaction", p.get("name") and f":{str(p['name']).strip(':')}:"),
        ),
    )
    def add_reaction(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str,
        timestamp: str,
        name: str,
        **params: Any,
    ) -> dict[str, Any]:
        """React to message ``timestamp`` in ``channel`` with emoji ``name`` (``rocket``,
        without colons; ``reactions.add``). Returns Slack's answer. When an earlier attempt
        may have added it (its outcome was unknown), ``already_reacted`` counts as done."""
        try:
            return _json(
                client.reactions_add(
                    channel=channel, timestamp=timestamp, name=name.strip(":"), **params
                )
            )
        except SlackApiError as exc:
            if task.outcome_unknown and _code(exc) == "already_reacted":
                return {"ok": True}
            raise

    # -- files ---------------------------------------------------------------------------------
    @runio.integration_task(
        name="Upload File",
        effect="write",
        properties=lambda p: _props(
            ("Channel", p.get("channel")),
            ("File", p.get("filename") or p.get("file")),
            ("Thread", p.get("thread_ts")),
        ),
    )
    def upload_file(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str | None = None,
        content: str | None = None,
        file: str | None = None,
        filename: str | None = None,
        title: str | None = None,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Upload a file and share it in ``channel`` (``files_upload_v2``: get an upload URL,
        upload, complete): ``content`` (text) or ``file`` (a path on the worker), ``filename``,
        ``title``, ``initial_comment``, ``thread_ts``, ``alt_txt``, ``snippet_type``. Returns
        Slack's answer (``file``, ``files``). Once in practice: after an attempt of unknown
        outcome, the channel is searched for the bot's message sharing a file of this name and
        title since the task began (Slack's files carry no marker)."""
        if (content is None) == (file is None):
            raise NonRetryableError("upload_file needs exactly one of content= (text) or file=")
        call = _given(
            channel=channel,
            content=content,
            file=file,
            filename=filename,
            title=title,
            initial_comment=initial_comment,
            thread_ts=thread_ts,
            **params,
        )
        try:
            return _json(client.files_upload_v2(**call))
        except urllib.error.HTTPError as exc:
            exc.close()  # the upload URL's error answer: its status is all runio needs
            raise

    @upload_file.find_previous
    def _find_uploaded_file(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        channel: str | None = None,
        file: str | None = None,
        filename: str | None = None,
        title: str | None = None,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
        **params: Any,
    ) -> dict[str, Any] | None:
        if channel is None:
            return None  # an unshared file appears in no channel: upload again
        name = filename or (file.replace("\\", "/").rsplit("/", 1)[-1] if file else None)
        wanted_title = title or name

        def match(message: Mapping[str, Any], bot: frozenset[str]) -> bool:
            files = message.get("files") or []
            return (
                _by(message, bot)
                and (message.get("text") or "") == (initial_comment or "")
                and len(files) == 1
                and files[0].get("name") == name
                and files[0].get("title") == wanted_title
            )

        found = self._find(client, task, channel, thread_ts, match)
        if found is None:
            return None
        files = found[1]["files"]
        return {"ok": True, "files": files, "file": files[0]}

    # -- conversations -------------------------------------------------------------------------
    @runio.integration_task(
        name="Join Conversation",
        effect="idempotent",
        properties=lambda p: _props(("Channel", p.get("channel"))),
    )
    def join_conversation(
        self, client: WebClient, task: runio.Task, /, *, channel: str, **params: Any
    ) -> dict[str, Any]:
        """Make the bot a member of public channel ``channel`` (an id;
        ``conversations.join``). Returns Slack's answer (``channel``; ``warning``
        ``already_in_channel`` when it was one)."""
        return _json(client.conversations_join(channel=channel, **params))

    @runio.integration_task(
        name="Open Conversation",
        effect="idempotent",
        properties=lambda p: _props(
            ("Users", _users(p.get("users"))), ("Channel", p.get("channel"))
        ),
    )
    def open_conversation(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        users: str | Sequence[str] | None = None,
        channel: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Open (or find) a direct message with ``users`` (a user id, or a list for a group
        DM; ``conversations.open``). Returns Slack's answer: post to ``["channel"]["id"]``.
        Safe to repeat: Slack returns the same conversation."""
        if isinstance(users, list | tuple):
            users = ",".join(users)
        call = _given(users=users, channel=channel, **params)
        return _json(client.conversations_open(**call))

    @runio.integration_task(
        name="List Conversations",
        effect="read",
        properties=lambda p: _props(
            ("Types", p.get("types") or "public_channel"), ("Limit", p.get("limit", 100))
        ),
    )
    def list_conversations(
        self,
        client: WebClient,
        task: runio.Task,
        /,
        *,
        limit: int = 100,
        types: str | Sequence[str] | None = None,
        exclude_archived: bool | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """List the workspace's channels (``conversations.list``), following Slack's cursors
        until ``limit`` channels (default 100) or the last page: ``types``
        (``"public_channel,private_channel"``...), ``exclude_archived``. Returns
        ``{"ok": true, "channels": [...], "response_metadata": {"next_cursor": ...}}``, the
        cursor set when more channels exist beyond ``limit``."""
        if isinstance(types, list | tuple):
            types = ",".join(types)
        if limit < 1:
            raise NonRetryableError(f"list_conversations: limit must be at least 1, not {limit}")
        channels: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(channels) < limit:
            page = client.conversations_list(
                **_given(
                    types=types,
                    exclude_archived=exclude_archived,
                    limit=min(LIST_PAGE, limit - len(channels)),
                    cursor=cursor,
                    **params,
                )
            )
            channels += page.get("channels") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return {
            "ok": True,
            "channels": channels[:limit],
            "response_metadata": {"next_cursor": cursor or ""},
        }

    # -- users ---------------------------------------------------------------------------------
    @runio.integration_task(
        name="Look Up User By Email",
        effect="read",
        properties=lambda p: _props(("Email", p.get("email"))),
    )
    def lookup_user_by_email(
        self, client: WebClient, task: runio.Task, /, *, email: str, **params: Any
    ) -> dict[str, Any]:
        """Find the workspace member with address ``email`` (``users.lookupByEmail``; needs
        the ``users:read.email`` scope). Returns Slack's answer (``user``); an unknown address
        fails the task with ``users_not_found``."""
        answer = _json(client.users_lookupByEmail(email=email, **params))
        user = answer.get("user")
        if isinstance(user, dict) and user.get("id"):
            task.output_properties.append(runio.Property("User", str(user["id"])))
        return answer
