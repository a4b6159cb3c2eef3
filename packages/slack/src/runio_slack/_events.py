"""Slack's Events API for runio: reading a signed delivery, the typed payloads, and the trigger
that skips the messages a job should not answer.

``read_delivery`` checks a request's v0 signature with ``slack_sdk.signature.SignatureVerifier``
(its clock reads the request's ``received_at``, so a ``TestClock`` moves it), answers the
``url_verification`` handshake, and turns an ``event_callback`` envelope into a
``WebhookDelivery`` whose id is Slack's ``event_id`` (the same on Slack's retries, so a retried
event starts nothing twice). The stored envelope is Slack's as sent, less its ``token`` (the
deprecated verification token: a credential, kept out of the database).

The models are lenient (``extra="allow"``; every field Slack may leave out is optional): a
payload that failed a job's schema would be refused, and Slack would retry it, then give up.

This module imports the ``slack_sdk``; it never calls Slack.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.signature import Clock, SignatureVerifier

from runio.errors import WebhookPayloadError, WebhookSignatureError
from runio.integrations import WebhookDelivery, WebhookReply, WebhookRequest, WebhookTrigger

log = logging.getLogger("runio_slack.events")

TOLERANCE = 300
"""Seconds a request's ``X-Slack-Request-Timestamp`` may be from the server's clock (Slack's
five minutes: ``SignatureVerifier`` uses the same)."""

USER_MESSAGE_SUBTYPES: tuple[str, ...] = ("file_share", "thread_broadcast", "me_message")
"""The message subtypes ``on_message`` counts as someone posting, besides plain messages (which
have no subtype): a message with a file, a thread reply also sent to the channel, ``/me``."""


# -- reading a delivery ----------------------------------------------------------------------


class _ReceivedAt(Clock):
    """The SDK verifier's clock: the moment the request arrived, on runio's clock."""

    def __init__(self, received_at: float) -> None:
        self.received_at = received_at

    def now(self) -> float:
        return self.received_at


def read_delivery(secret: str, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
    """Verify ``request`` with the app's signing secret and read it: the ``url_verification``
    challenge and ``app_rate_limited`` notices are answered (nothing stored), an
    ``event_callback`` becomes a delivery of ``event.type`` with id ``event_id``."""
    _verify(secret, request)
    envelope = _envelope(request.body)
    kind = envelope.get("type")
    if kind == "url_verification":
        challenge = envelope.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise WebhookPayloadError(
                "Slack's url_verification request has no challenge string to answer."
            )
        return WebhookReply(body={"challenge": challenge})
    if kind == "app_rate_limited":
        # Slack dropped this app's events for a minute (more than 30,000 an hour): nothing to
        # run, but worth saying, since those events will not come back.
        log.warning(
            "Slack rate-limited the events of app %s (team %s) in minute %s: the events of "
            "that minute were not delivered.",
            envelope.get("api_app_id"),
            envelope.get("team_id"),
            envelope.get("minute_rate_limited"),
        )
        return WebhookReply(body={"ok": True})
    if kind != "event_callback":
        raise WebhookPayloadError(
            f"Slack sent a request of type {kind!r}; this endpoint reads the Events API "
            "(url_verification and event_callback). Point interactivity and slash commands at "
            "another URL."
        )
    event = envelope.get("event")
    event_type = event.get("type") if isinstance(event, Mapping) else None
    if not isinstance(event_type, str) or not event_type:
        raise WebhookPayloadError(
            "Slack's event_callback has no event with a type (the body's 'event' object)."
        )
    event_id = envelope.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise WebhookPayloadError("Slack's event_callback has no event_id.")
    payload = {key: value for key, value in envelope.items() if key != "token"}
    return WebhookDelivery(id=event_id, type=event_type, payload=payload)


def _verify(secret: str, request: WebhookRequest) -> None:
    signature = request.header("X-Slack-Signature")
    timestamp = request.header("X-Slack-Request-Timestamp")
    missing = [
        name
        for name, value in (
            ("X-Slack-Signature", signature),
            ("X-Slack-Request-Timestamp", timestamp),
        )
        if not value
    ]
    if missing or signature is None or timestamp is None:
        raise WebhookSignatureError(
            f"The request has no {' and no '.join(missing)} header, which Slack puts on every "
            "request it sends: it does not come from Slack. If it should, check that this URL "
            "is the Request URL of the app's Event Subscriptions."
        )
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise WebhookSignatureError(
            f"X-Slack-Request-Timestamp is {timestamp[:40]!r}, not Unix seconds: the request "
            "does not come from Slack."
        ) from None
    try:
        request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookSignatureError(
            "The body is not UTF-8 text, so it is not a request Slack signed."
        ) from None
    verifier = SignatureVerifier(secret, clock=_ReceivedAt(request.received_at))
    if verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature):
        return
    age = request.received_at - signed_at
    if abs(age) > TOLERANCE:
        when = f"{age:.0f} s before it arrived" if age > 0 else f"{-age:.0f} s in the future"
        raise WebhookSignatureError(
            f"The request was signed {when}, outside Slack's {TOLERANCE // 60}-minute window: "
            "an old request sent again, or this server's clock is off (check its time sync)."
        )
    raise WebhookSignatureError(
        "X-Slack-Signature does not match the request: check that SLACK_SIGNING_SECRET (the "
        "signing_secret setting) is the Signing Secret of this Slack app (Basic Information → "
        "App Credentials), and that nothing between Slack and runio rewrites the body."
    )


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except ValueError:
        raise WebhookPayloadError(
            "The signed body is not JSON: this endpoint reads Slack's Events API deliveries "
            "(interactivity and slash commands post forms; give them another URL)."
        ) from None
    if not isinstance(envelope, dict):
        raise WebhookPayloadError(
            f"The signed body is a JSON {type(envelope).__name__}, not the Events API's object."
        )
    return envelope


# -- the trigger -----------------------------------------------------------------------------


def _bot_users(envelope: Mapping[str, Any]) -> set[str]:
    """The user ids of the app's own bot, from the envelope's ``authorizations``."""
    found = set()
    for authorization in envelope.get("authorizations") or []:
        if isinstance(authorization, Mapping) and authorization.get("is_bot"):
            user = authorization.get("user_id")
            if isinstance(user, str):
                found.add(user)
    return found


def by_this_app(envelope: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether the app itself caused ``event``: a message its bot posted (the event's
    ``app_id``, or its ``bot_profile``'s, is the envelope's ``api_app_id``), or an action of its
    bot user (a reaction it added)."""
    app = envelope.get("api_app_id")
    profile = event.get("bot_profile")
    if app and (
        event.get("app_id") == app
        or (isinstance(profile, Mapping) and profile.get("app_id") == app)
    ):
        return True
    user = event.get("user")
    return isinstance(user, str) and user in _bot_users(envelope)


def by_a_bot(event: Mapping[str, Any]) -> bool:
    """Whether a bot or an integration posted the message event (a ``bot_id``, or the legacy
    ``bot_message`` subtype)."""
    return bool(event.get("bot_id")) or event.get("subtype") == "bot_message"


@dataclass(frozen=True, kw_only=True)
class SlackEventTrigger(WebhookTrigger):
    """A webhook trigger that also leaves out the events a job listening to people should not
    see: the app's own (``skip_own``: a job answering messages would otherwise answer itself,
    forever), other bots' (``skip_bots``), and message subtypes outside ``subtypes``. Built by
    ``Slack.on_message`` and its siblings; ``Slack.on_event`` gives every event."""

    skip_own: bool = False
    skip_bots: bool = False
    subtypes: tuple[str, ...] | None = None
    """The ``subtype`` values accepted besides none (and ``bot_message`` when bots are not
    skipped); None accepts any."""

    def matches(self, payload: Any) -> bool:
        if not super().matches(payload):
            return False
        event = payload.get("event")
        if not isinstance(event, Mapping):
            return False
        if self.skip_own and by_this_app(payload, event):
            return False
        if self.skip_bots and by_a_bot(event):
            return False
        subtype = event.get("subtype")
        if self.subtypes is None or subtype is None or subtype in self.subtypes:
            return True
        return subtype == "bot_message" and not self.skip_bots  # bots taken: their messages too

    def stored_info(self) -> dict[str, Any]:
        """The webhook's description, with what it skips in words (``"skips"``: text, as the
        API's job listing gives the webhook's fields)."""
        info = super().stored_info()
        skips = []
        if self.skip_own:
            skips.append("the app's own events")
        if self.skip_bots:
            skips.append("bot messages")
        if self.subtypes is not None:
            skips.append(f"subtypes other than {', '.join(self.subtypes) or '(none)'}")
        if skips:
            info["webhook"]["skips"] = "; ".join(skips)
        return info


def narrowed(
    trigger: WebhookTrigger,
    *,
    skip_own: bool = False,
    skip_bots: bool = False,
    subtypes: Sequence[str] | None = None,
) -> SlackEventTrigger:
    """``trigger`` (as ``Integration.webhook_trigger`` built and checked it), skipping more."""
    given = {f.name: getattr(trigger, f.name) for f in fields(trigger)}
    return SlackEventTrigger(
        **given,
        skip_own=skip_own,
        skip_bots=skip_bots,
        subtypes=None if subtypes is None else tuple(subtypes),
    )


# -- typed payloads --------------------------------------------------------------------------

E = TypeVar("E", bound="SlackEvent")


class SlackEvent(BaseModel):
    """The ``event`` object of a delivery: what happened. Fields Slack sends that are not
    declared here stay available (``model_extra``, or ``ctx.event.payload["event"]``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    """The event type (``message``, ``app_mention``...)."""
    event_ts: str | None = None
    """When it happened, as a Slack timestamp (``"1712345678.000100"``)."""


class MessageEvent(SlackEvent):
    """A message posted in a channel the app is in (``message``: the ``message.channels``,
    ``message.groups``, ``message.im`` and ``message.mpim`` subscriptions)."""

    channel: str = ""
    """The channel's id (``C...``; ``G...`` private; ``D...`` a direct message)."""
    channel_type: str | None = None
    """``channel``, ``group``, ``im`` or ``mpim``."""
    user: str | None = None
    """Who posted it (a user id); absent on some subtypes."""
    text: str = ""
    """Its text, in Slack's markup (``<@U0123>`` mentions); empty when it has none."""
    ts: str = ""
    """The message's timestamp: its id within the channel (reply with ``thread_ts=ts``)."""
    thread_ts: str | None = None
    """The thread's parent timestamp, for a reply in a thread."""
    subtype: str | None = None
    """None for a plain message; ``file_share``, ``thread_broadcast``, ``message_changed``..."""
    bot_id: str | None = None
    """Set when a bot posted it."""
    team: str | None = None
    blocks: list[dict[str, Any]] | None = None
    files: list[dict[str, Any]] | None = None


class AppMentionEvent(SlackEvent):
    """A message that mentions the app's bot (``app_mention``)."""

    channel: str = ""
    """The channel's id."""
    user: str | None = None
    """Who mentioned the bot (a bot's mention has ``bot_id`` instead)."""
    text: str = ""
    """The message's text, the ``<@BOT_USER_ID>`` mention included."""
    ts: str = ""
    """The message's timestamp (reply in its thread with ``thread_ts=ts``)."""
    thread_ts: str | None = None
    bot_id: str | None = None
    team: str | None = None
    blocks: list[dict[str, Any]] | None = None


class ReactionItem(BaseModel):
    """What a reaction was added to: a message (``channel``, ``ts``) or a file."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None
    """``message``, ``file`` or ``file_comment``."""
    channel: str | None = None
    ts: str | None = None
    file: str | None = None


class ReactionAddedEvent(SlackEvent):
    """Someone added an emoji reaction (``reaction_added``)."""

    user: str | None = None
    """Who reacted."""
    reaction: str = ""
    """The emoji's name, without colons (``thumbsup``)."""
    item_user: str | None = None
    """Who posted the item reacted to."""
    item: ReactionItem = Field(default_factory=ReactionItem)


class MemberJoinedChannelEvent(SlackEvent):
    """Someone joined a channel the app is in (``member_joined_channel``)."""

    user: str | None = None
    """Who joined."""
    channel: str | None = None
    channel_type: str | None = None
    """``C`` (public) or ``G`` (private)."""
    team: str | None = None
    inviter: str | None = None
    """Who invited them, when someone did."""


class Authorization(BaseModel):
    """An installation the event is visible to (the app's bot, for a bot token)."""

    model_config = ConfigDict(extra="allow")

    enterprise_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    is_bot: bool | None = None
    is_enterprise_install: bool | None = None


class EventEnvelope(BaseModel, Generic[E]):
    """A delivery of the Events API (``event_callback``): the workspace and app it is for,
    Slack's ``event_id`` and ``event_time``, and the ``event``."""

    model_config = ConfigDict(extra="allow")

    event: E
    event_id: str
    """Slack's id of the event, the same on Slack's retries (runio's event id derives from it)."""
    event_time: int | None = None
    """When it happened, in Unix seconds."""
    team_id: str | None = None
    """The workspace's id (``T...``)."""
    api_app_id: str | None = None
    """The app's id (``A...``)."""
    enterprise_id: str | None = None
    type: str = "event_callback"
    authorizations: list[Authorization] | None = None
    is_ext_shared_channel: bool | None = None
    event_context: str | None = None


class Message(EventEnvelope[MessageEvent]):
    """``slack.on_message()``'s payload: ``payload.event.text``, ``.channel``, ``.user``,
    ``.ts``."""


class AppMention(EventEnvelope[AppMentionEvent]):
    """``slack.on_app_mention()``'s payload: ``payload.event.text``, ``.channel``, ``.user``,
    ``.ts``."""


class ReactionAdded(EventEnvelope[ReactionAddedEvent]):
    """``slack.on_reaction_added()``'s payload: ``payload.event.reaction``, ``.user``,
    ``.item.channel``, ``.item.ts``."""


class MemberJoinedChannel(EventEnvelope[MemberJoinedChannelEvent]):
    """``slack.on_member_joined_channel()``'s payload: ``payload.event.user``, ``.channel``."""
