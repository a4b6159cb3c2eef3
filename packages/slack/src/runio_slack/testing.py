"""``FakeSlack``: Slack's Web API as a real local HTTP server, for tests.

Owns the fake's state (a workspace with one bot, its users and channels, each channel's
messages, threads, reactions, scheduled messages and uploaded files), the Web API methods the
``Slack`` integration's wrappers call, and Slack-shaped fault injection. It imports neither
runio's engine nor the ``slack_sdk``: any Slack client, the real SDK included, talks to it
unchanged (point ``WebClient(base_url=fake.url + "/api/")`` at it).

What it answers like Slack does: every method by ``GET`` or ``POST``, with parameters in the
query string, a form body or a JSON body; the bot token as ``Authorization: Bearer`` or a
``token`` parameter (``not_authed`` without one, ``invalid_auth`` for a wrong one); errors as
HTTP 200 ``{"ok": false, "error": "<code>"}``; channels with members (``not_in_channel`` for a
public channel the bot has not joined, ``channel_not_found`` for an unknown or private one);
``conversations.history``/``replies`` honouring ``oldest``/``latest``/``inclusive``/``limit``
and cursors, and returning a message's ``metadata`` only when ``include_all_metadata`` is set;
the three steps of ``files_upload_v2`` (``files.getUploadURLExternal``, the upload to the URL
it returns, ``files.completeUploadExternal``).

Faults (on top of ``FakeVendorServer``'s): ``fail_next(429, retry_after=30)``,
``fail_next(error="channel_not_found")``, ``drop_after_write()`` (apply a write, then drop the
connection: only calls of Slack's write methods that take effect count, though the SDK POSTs
every call),
``fail_after_write()`` (apply a write, then answer 500 ``internal_error``),
``hold_after_write()`` (apply a write and hold its answer until released: kill the client
there), and ``history_page_cap`` (the 15-message pages Slack gives apps outside the
Marketplace). Message timestamps come from the real clock, as Slack's do.

The Events API (Slack calling the app): ``send_event(url, event)`` posts an ``event_callback``
envelope signed with the app's Signing Secret (v0: ``X-Slack-Signature`` over
``v0:{timestamp}:{body}``), ``send_signed`` any body, ``verify_url`` the ``url_verification``
challenge, ``retry_delivery`` Slack's retry of a delivery (same body and ``event_id``, fresh
signature, ``X-Slack-Retry-Num``), ``replay`` the very same request again. ``subscribe(url,
events)`` is the app page's Event Subscriptions: the URL must answer the challenge, and from then
on the fake sends the subscribed bot events when its state changes (``user_posts``,
``user_reacts``, ``user_joins``, and the bot's own ``chat.postMessage``, ``reactions.add`` and
``conversations.join``, as Slack does), retrying a failed delivery up to three times (at once,
where Slack waits a minute, then five).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json as jsonlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, WebhookSent, route

__all__ = [
    "BOT_EVENTS",
    "DEFAULT_SIGNING_SECRET",
    "DEFAULT_TOKEN",
    "EventSubscription",
    "FakeChannel",
    "FakeSlack",
    "Hold",
]

DEFAULT_TOKEN = "xoxb-000000000001-000000000002-fakeslacktokenfakeslack"
DEFAULT_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
"""The fake app's Signing Secret, unless ``FakeSlack(signing_secret=...)`` gives another."""

BOT_EVENTS: frozenset[str] = frozenset(
    {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "reaction_added",
        "member_joined_channel",
    }
)
"""The bot events ``FakeSlack.subscribe`` knows (as Slack's app page names them): the fake sends
them when its state changes."""

_MESSAGE_SUBSCRIPTION = {
    "channel": "message.channels",
    "group": "message.groups",
    "im": "message.im",
}

WRITE_METHODS: frozenset[str] = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "conversations.join",
        "conversations.open",
        "reactions.add",
        "files.completeUploadExternal",
    }
)
"""The Web API methods that change something (an applied call of one is a ``write``)."""

_MAX_TEXT = 40_000
_MAX_SCHEDULE_AHEAD = 120 * 86_400

H = TypeVar("H", bound=Callable[..., Any])


class SlackError(Exception):
    """Raised inside a handler: the method answers ``{"ok": false, "error": code, ...}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


def _slack_method(name: str) -> Callable[[H], H]:
    def mark(fn: H) -> H:
        fn._slack_method = name  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class FakeChannel:
    """One conversation: a public or private channel, or a direct message (``is_im``)."""

    id: str
    name: str
    created: int
    is_private: bool = False
    is_im: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Every message, thread replies included, oldest first (as stored, with metadata)."""
    im_user: str | None = None

    def as_json(self, bot_user_id: str) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "created": self.created,
            "creator": bot_user_id,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": bot_user_id in self.members,
            "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
            "unlinked": 0,
        }

    def find(self, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == ts), None)


@dataclass
class Hold:
    """``FakeSlack.hold_after_write()``'s handle: ``wait_applied()`` returns once the held
    write has taken effect (its answer not sent yet); ``release()`` lets the answer go."""

    method: str | None
    timeout: float
    applied: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: FakeRequest | None = None

    def matches(self, slack_method: str) -> bool:
        return self.method is None or self.method == slack_method

    def release(self) -> None:
        self.released.set()

    def wait_applied(self, timeout: float = 30.0) -> FakeRequest:
        """Block until the held write has been applied; return its request."""
        if not self.applied.wait(timeout):
            raise TimeoutError(f"no matching Slack write reached the fake in {timeout:g} s")
        assert self.request is not None
        return self.request


def _cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _uncursor(cursor: str, prefix: str) -> str:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if not text.startswith(prefix):
        raise SlackError("invalid_cursor")
    return text[len(prefix) :]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _structured(value: Any, param: str) -> Any:
    """A JSON parameter (``blocks``, ``attachments``, ``metadata``, ``files``): form bodies
    carry it as a JSON string, JSON bodies as the value itself."""
    if isinstance(value, str):
        try:
            return jsonlib.loads(value)
        except ValueError:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {param}: invalid JSON"]},
            ) from None
    return value


def _ts_key(ts: Any) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        raise SlackError("invalid_ts_latest" if ts else "invalid_ts_oldest") from None


def _limit(params: Mapping[str, Any], default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    if value <= 0:
        return default
    return min(value, maximum)


@dataclass(frozen=True)
class EventSubscription:
    """The app's Event Subscriptions: its Request URL and the bot events sent to it."""

    url: str
    events: frozenset[str]
    retries: int = 3
    """How many times a delivery not answered 2xx is sent again (Slack: 3)."""


class FakeSlack(FakeVendorServer):
    """Slack's Web API, as a local HTTP server with one workspace and one bot.

    ``FakeSlack(token=...)`` accepts that bot token only. It starts with a public
    ``#general`` channel the bot is in (``general_id``); add more with ``add_channel``, users
    with ``add_user``, messages with ``add_message``. Read what happened from ``messages(...)``,
    ``ephemeral``, ``scheduled``, ``files``, ``requests`` and ``writes``.

    As Slack's Events API it signs requests with ``signing_secret`` (``send_event``,
    ``verify_url``, ``retry_delivery``, ``replay``, ``send_signed``); once ``subscribe(url)``
    has saved a Request URL, people acting in the workspace (``user_posts``, ``user_reacts``,
    ``user_joins``) and the bot's own writes send the subscribed events there.
    """

    idempotency_header: ClassVar[str | None] = None  # Slack has no idempotency key

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        team_id: str = "T0000FAKE",
        team: str = "Fake Workspace",
        history_page_cap: int | None = None,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
    ) -> None:
        super().__init__()
        self.token = token
        self.signing_secret = signing_secret
        """The app's Signing Secret: Events API requests are signed with it."""
        self.verification_token = "fakeVerificationTokenXyz1"
        """The deprecated verification token Slack still puts in every envelope's ``token``."""
        self.event_subscription: EventSubscription | None = None
        """Set by ``subscribe``: where the fake sends events on its own."""
        self.undelivered_events: list[dict[str, Any]] = []
        """Envelopes of subscribed events never answered 2xx, retries included."""
        self._outbox: list[dict[str, Any]] = []
        self.team_id = team_id
        self.team = team
        self.history_page_cap = history_page_cap
        """When set, ``conversations.history``/``replies`` return at most this many messages a
        call whatever ``limit`` asks (Slack gives apps outside the Marketplace 15)."""
        self.bot_user_id = "U0000BOT01"
        self.bot_id = "B0000BOT01"
        self.app_id = "A0000APP01"
        self.channels: dict[str, FakeChannel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        """Ephemeral messages posted (Slack never shows them in any history)."""
        self.scheduled: list[dict[str, Any]] = []
        """Scheduled messages, as ``chat.scheduledMessages.list`` lists them plus their
        ``message``."""
        self.files: dict[str, dict[str, Any]] = {}
        """Uploaded files by id, ``content`` (bytes) included; ``shared`` once completed."""
        self._applied: set[int] = set()
        self._holds: list[Hold] = []
        self._failures_after_write: list[tuple[str | None, FakeResponse]] = []
        self._drops: list[list[Any]] = []  # [remaining, method, path regex]
        self._last_ts = 0.0
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        for klass in type(self).__mro__:
            for attr, fn in vars(klass).items():
                name = getattr(fn, "_slack_method", None)
                if name is not None and name not in self._methods:
                    self._methods[name] = getattr(self, attr)
        self.general_id = self.add_channel("general")
        self.owner_id = self.add_user("owner@example.com", name="owner")

    def start(self, *, port: int = 0) -> FakeSlack:
        """Start serving on ``port`` (0: a free one; ``with FakeSlack() as fake:`` does it too);
        returns the fake."""
        super().start(port=port)
        return self

    def __enter__(self) -> FakeSlack:
        return self.start()

    # -- seeding and reading ---------------------------------------------------------------
    def add_channel(
        self,
        name: str,
        *,
        private: bool = False,
        bot_member: bool = True,
        members: Iterable[str] = (),
        archived: bool = False,
    ) -> str:
        """Create a channel and return its id (``C...``, ``G...`` when private)."""
        with self.lock:
            channel_id = self._new_id("G" if private else "C")
            channel = FakeChannel(
                id=channel_id,
                name=name,
                created=int(time.time()),
                is_private=private,
                is_archived=archived,
                members=set(members),
            )
            if bot_member:
                channel.members.add(self.bot_user_id)
            self.channels[channel_id] = channel
            return channel_id

    def add_user(self, email: str, *, name: str | None = None, channels: Iterable[str] = ()) -> str:
        """Create a user (a member of ``#general`` and of ``channels``) and return its id."""
        with self.lock:
            user_id = self._new_id("U")
            handle = name or email.split("@")[0]
            self.users[user_id] = {
                "id": user_id,
                "team_id": self.team_id,
                "name": handle,
                "deleted": False,
                "real_name": handle.title(),
                "tz": "Europe/London",
                "is_admin": False,
                "is_bot": False,
                "is_app_user": False,
                "profile": {
                    "email": email,
                    "real_name": handle.title(),
                    "display_name": handle,
                    "team": self.team_id,
                },
            }
            general = getattr(self, "general_id", None)
            for channel_id in (*([general] if general else []), *channels):
                self.channels[channel_id].members.add(user_id)
            return user_id

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Put a message in a channel as if someone posted it (the bot unless ``user``)."""
        with self.lock:
            target = self.channels[channel]
            message = self._message(target, {"text": text}, user=user)
            if metadata is not None:
                message["metadata"] = metadata
            if thread_ts is not None:
                self._into_thread(target, message, thread_ts)
            target.messages.append(message)
            return message

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """A channel's messages, oldest first, replies included (only the thread's, parent
        first, with ``thread_ts``); with metadata, as stored."""
        with self.lock:
            found = self.channels[channel].messages
            if thread_ts is not None:
                found = [m for m in found if m.get("thread_ts") == thread_ts]
            return [dict(m) for m in found]

    def channel_id(self, name: str) -> str:
        with self.lock:
            return next(c.id for c in self.channels.values() if c.name == name.lstrip("#"))

    def count(self, method: str) -> int:
        """How many calls of the Web API ``method`` took effect."""
        return sum(1 for r in self.writes if r.path == f"/api/{method}")

    # -- the Events API: Slack calling the app ------------------------------------------------
    def sign(
        self, body: bytes, *, timestamp: float | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """The headers Slack signs ``body`` with: ``X-Slack-Request-Timestamp`` (``timestamp``,
        default now) and ``X-Slack-Signature`` (``v0=`` HMAC-SHA256 of
        ``v0:{timestamp}:{body}`` with ``secret``, default the app's Signing Secret)."""
        stamp = str(int(time.time() if timestamp is None else timestamp))
        key = (self.signing_secret if secret is None else secret).encode()
        digest = hmac.new(key, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}

    def envelope(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        event_time: float | None = None,
    ) -> dict[str, Any]:
        """``event`` (``{"type": "app_mention", ...}``) in an ``event_callback`` envelope, as
        Slack sends it to this workspace's app: a new ``event_id`` unless given."""
        with self.lock:
            event_id = event_id or self._new_id("Ev")
        channel = event.get("channel") or (event.get("item") or {}).get("channel")
        context = {"et": event.get("type"), "tid": self.team_id, "aid": self.app_id}
        if channel:
            context["cid"] = channel
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time() if event_time is None else event_time),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + _cursor(jsonlib.dumps(context, separators=(",", ":"))),
        }

    def send_signed(
        self,
        url: str,
        body: bytes,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` to ``url`` signed as Slack signs it (``sign``: pass an old
        ``timestamp`` for a stale request, another ``secret`` for a forged one), with
        ``headers`` added; recorded in ``webhook_deliveries``."""
        signed = {**self.sign(body, timestamp=timestamp, secret=secret), **(headers or {})}
        return self.deliver_webhook(url, body, signed)

    def send_event(
        self,
        url: str,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        timestamp: float | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Deliver ``event`` (the inner event, e.g. ``{"type": "app_mention", "user": ...,
        "text": ..., "channel": ..., "ts": ...}``) to ``url`` in a signed ``event_callback``
        envelope (``envelope``). The envelope sent is ``json.loads(fake.webhook_deliveries[-1]
        .body)``; ``retry_delivery()`` sends it again as Slack retries."""
        body = jsonlib.dumps(self.envelope(event, event_id=event_id)).encode()
        return self.send_signed(url, body, timestamp=timestamp, secret=secret)

    def verify_url(self, url: str, *, secret: str | None = None) -> httpx.Response:
        """Send the ``url_verification`` request Slack sends when a Request URL is entered;
        Slack expects the ``challenge`` back."""
        with self.lock:
            challenge = "ch" + self._new_id("")
        body = jsonlib.dumps(
            {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        ).encode()
        return self.send_signed(url, body, secret=secret)

    def retry_delivery(
        self, sent: WebhookSent | None = None, *, reason: str = "http_timeout"
    ) -> httpx.Response:
        """Send delivery ``sent`` (default: the last one) again as Slack retries it: the same
        body (the same ``event_id``), signed anew, with ``X-Slack-Retry-Num`` one more than
        before and ``X-Slack-Retry-Reason`` (``http_timeout``, ``http_error``...)."""
        sent = sent or self.webhook_deliveries[-1]
        previous = {k.lower(): v for k, v in sent.headers.items()}.get("x-slack-retry-num", "0")
        retry = {"X-Slack-Retry-Num": str(int(previous) + 1), "X-Slack-Retry-Reason": reason}
        return self.send_signed(sent.url, sent.body, headers=retry)

    def replay(self, sent: WebhookSent | None = None) -> httpx.Response:
        """Send delivery ``sent`` (default: the last one) again byte for byte, its old
        signature and timestamp included: what someone who captured it could do."""
        sent = sent or self.webhook_deliveries[-1]
        return self.deliver_webhook(sent.url, sent.body, sent.headers)

    def subscribe(
        self, url: str, events: Iterable[str] = BOT_EVENTS, *, retries: int = 3
    ) -> EventSubscription:
        """Enable Events on the app page: set ``url`` as the Request URL (it must answer the
        ``url_verification`` challenge, as Slack requires before saving it) and subscribe to
        the bot ``events`` (``BOT_EVENTS`` names them). From then on the fake sends those events
        as its state changes."""
        wanted = frozenset(events)
        unknown = sorted(wanted - BOT_EVENTS)
        if unknown:
            raise ValueError(
                f"FakeSlack.subscribe: unknown bot events {unknown}; it knows {sorted(BOT_EVENTS)}"
            )
        answer = self.verify_url(url)
        sent = jsonlib.loads(self.webhook_deliveries[-1].body)
        try:
            echoed = answer.json().get("challenge") if answer.status_code == 200 else None
        except ValueError:
            echoed = None
        if echoed != sent["challenge"]:
            raise ValueError(
                f"Your URL didn't respond with the value of the challenge parameter ({url} "
                f"answered {answer.status_code}: {answer.text[:200]})"
            )
        subscription = EventSubscription(url=url, events=wanted, retries=retries)
        with self.lock:
            self.event_subscription = subscription
        return subscription

    def user_posts(
        self,
        channel: str,
        text: str,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """``user`` (default the workspace's owner) posts ``text`` in ``channel`` (or in the
        thread ``thread_ts``): the message is stored, and the subscribed ``message.*`` event,
        plus ``app_mention`` when the text mentions the bot (``<@{bot_user_id}>``), is sent
        before this returns. Returns the message."""
        with self.lock:
            message = self.add_message(
                channel, text, user=user or self.owner_id, thread_ts=thread_ts
            )
            target = self.channels[channel]
            self._emit_message(target, message)
            if f"<@{self.bot_user_id}>" in text:
                self._emit(
                    "app_mention",
                    target,
                    {
                        "type": "app_mention",
                        "user": message["user"],
                        "text": text,
                        "ts": message["ts"],
                        **({"thread_ts": message["thread_ts"]} if "thread_ts" in message else {}),
                        "team": self.team_id,
                        "channel": target.id,
                        "event_ts": message["ts"],
                    },
                )
        self._send_pending_events()
        return message

    def user_reacts(self, channel: str, ts: str, name: str, *, user: str | None = None) -> None:
        """``user`` (default the owner) reacts to message ``ts`` in ``channel`` with emoji
        ``name``; the subscribed ``reaction_added`` event is sent before this returns."""
        with self.lock:
            target = self.channels[channel]
            message = target.find(ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            who = user or self.owner_id
            name = name.strip(":")
            reactions = message.setdefault("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                reactions.append(reaction)
            if who not in reaction["users"]:
                reaction["users"].append(who)
                reaction["count"] += 1
                self._emit_reaction(target, message, name, who)
        self._send_pending_events()

    def user_joins(self, channel: str, user: str, *, inviter: str | None = None) -> None:
        """``user`` joins ``channel`` (invited by ``inviter``, if given); the subscribed
        ``member_joined_channel`` event is sent before this returns."""
        with self.lock:
            target = self.channels[channel]
            if user not in target.members:
                target.members.add(user)
                self._emit_joined(target, user, inviter=inviter)
        self._send_pending_events()

    def _channel_type(self, channel: FakeChannel) -> str:
        return "im" if channel.is_im else "group" if channel.is_private else "channel"

    def _emit(self, subscription: str, channel: FakeChannel, event: dict[str, Any]) -> None:
        """Queue ``event`` for the Request URL when the app subscribes to it and its bot is
        in ``channel`` (Slack sends a channel's events only to the apps in it). The caller
        holds the lock; ``_send_pending_events`` sends the queue."""
        wanted = self.event_subscription
        if wanted is None or subscription not in wanted.events:
            return
        if self.bot_user_id not in channel.members and not channel.is_im:
            return
        self._outbox.append(self.envelope(event))

    def _emit_message(self, channel: FakeChannel, message: Mapping[str, Any]) -> None:
        kind = self._channel_type(channel)
        event = {
            key: value
            for key, value in message.items()
            if key not in ("metadata", "reactions", "reply_count", "latest_reply", "reply_users")
        }
        event.update(channel=channel.id, event_ts=message["ts"], channel_type=kind)
        if message.get("bot_id") == self.bot_id:
            event["bot_profile"] = {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "runio",
                "deleted": False,
                "team_id": self.team_id,
            }
        self._emit(_MESSAGE_SUBSCRIPTION[kind], channel, event)

    def _emit_reaction(
        self, channel: FakeChannel, message: Mapping[str, Any], name: str, user: str
    ) -> None:
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel.id, "ts": message["ts"]},
            "event_ts": self._next_ts(),
        }
        author = message.get("user") or message.get("bot_id")
        if author:
            event["item_user"] = author
        self._emit("reaction_added", channel, event)

    def _emit_joined(self, channel: FakeChannel, user: str, *, inviter: str | None = None) -> None:
        event = {
            "type": "member_joined_channel",
            "user": user,
            "channel": channel.id,
            "channel_type": "G" if channel.is_private else "C",
            "team": self.team_id,
            "event_ts": self._next_ts(),
        }
        if inviter:
            event["inviter"] = inviter
        self._emit("member_joined_channel", channel, event)

    def _send_pending_events(self) -> None:
        """Send the queued events to the Request URL (outside the lock: the app may call the
        Web API while it answers), each retried as Slack retries until answered 2xx; what
        never is lands in ``undelivered_events``."""
        with self.lock:
            pending, self._outbox = self._outbox, []
            subscription = self.event_subscription
        if subscription is None:
            return
        for envelope in pending:
            body = jsonlib.dumps(envelope).encode()
            reason = None
            for attempt in range(subscription.retries + 1):
                extra = (
                    {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason or ""}
                    if attempt
                    else {}
                )
                try:
                    answer = self.send_signed(subscription.url, body, headers=extra)
                except httpx.HTTPError:
                    reason = "connection_failed"
                    continue
                if 200 <= answer.status_code < 300:
                    break
                reason = "http_error"
            else:
                with self.lock:
                    self.undelivered_events.append(envelope)

    # -- faults ------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int | FakeResponse = 200,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` calls (of the Web API ``method`` when given, e.g.
        ``"chat.postMessage"``; or whose path matches the regular expression ``path``) without
        applying them: ``fail_next(error="channel_not_found")`` answers ``ok: false`` with that
        code, ``fail_next(429, retry_after=30)`` is a rate limit, ``fail_next(503)`` an
        outage."""
        if method is not None and "." in method:
            path, method = f"/api/{re.escape(method)}", None
        if isinstance(status, int):
            extra = dict(headers or {})
            if status == 429:
                extra.setdefault("Retry-After", str(int(retry_after if retry_after else 1)))
            default_error = {429: "ratelimited"}.get(
                status, "service_unavailable" if status >= 500 else "invalid_arguments"
            )
            body = json if json is not None else {"ok": False, "error": error or default_error}
            status = FakeResponse(status, json=body, headers=extra)
        super().fail_next(status, times=times, method=method, path=path)

    def drop_after_write(
        self, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Apply the next ``times`` calls of a Slack write method that take effect (``method``,
        e.g. ``"chat.postMessage"``, or ``path``, a regular expression, narrows them), then
        close the connection without an answer. A call Slack refuses (``ok: false``) is
        answered as usual and does not count."""
        if method is not None and "." not in method:
            method = None  # an HTTP verb: every Slack call is a POST anyway
        with self.lock:
            self._drops.append([times, method, path])

    def fail_after_write(
        self, status: int = 500, *, error: str = "internal_error", method: str | None = None
    ) -> None:
        """Apply the next call of a Slack write method (``method`` narrows it), then answer
        it with ``status`` and ``error`` as if it had failed: Slack's 5xx after it did the
        work (Slack documents that ``internal_error`` and ``fatal_error`` may come after part
        of the operation succeeded)."""
        with self.lock:
            self._failures_after_write.append(
                (method, FakeResponse(status, json={"ok": False, "error": error}))
            )

    def hold_after_write(  # type: ignore[override]
        self, *, method: str | None = None, path: str | None = None, timeout: float = 60.0
    ) -> Hold:
        """Apply the next call of a Slack write method (``method``, a Web API method name such
        as ``chat.postMessage``, or ``path``, ``/api/<method>``, narrows it), then hold its
        answer until ``hold.release()`` (or ``timeout`` seconds): the client has a request in
        flight that Slack has already carried out, and can be killed right there. Other calls
        are answered meanwhile."""
        if method is None and path is not None:
            method = path.removeprefix("/api/")
        hold = Hold(method, timeout)
        with self.lock:
            self._holds.append(hold)
        return hold

    def rate_limit_response(self, retry_after: float, *, now: float) -> FakeResponse:
        return FakeResponse(
            429,
            json={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(int(retry_after))},
        )

    def transient_error_response(self) -> FakeResponse:
        return FakeResponse(503, json={"ok": False, "error": "service_unavailable"})

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        return FakeResponse(
            200,
            json={
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [f"[ERROR] {message}"]},
            },
        )

    @property
    def writes(self) -> list[FakeRequest]:
        """Calls of Slack's write methods that took effect (answered ``ok: true``, or applied
        and then dropped); not reads, not ``ok: false`` answers, not injected faults."""
        with self.lock:
            return [r for r in self.requests if id(r) in self._applied]

    # -- auth --------------------------------------------------------------------------------
    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        if request.path.startswith("/upload/"):
            return None  # upload URLs are pre-signed, as Slack's are
        auth = request.header("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is None:
            try:
                token = self._params(request).get("token")
            except SlackError:
                token = None
        if not token:
            return self._error("not_authed")
        if token != self.token:
            return self._error("invalid_auth")
        return None

    # -- dispatch ----------------------------------------------------------------------------
    @route("POST", "/api/{method}")
    def _post(self, request: FakeRequest) -> FakeResponse:
        return self._call(request)

    @route("GET", "/api/{method}")
    def _get(self, request: FakeRequest) -> FakeResponse:
        return self._call(request)

    @route("POST", "/upload/v1/{file_id}")
    def _upload(self, request: FakeRequest) -> FakeResponse:
        upload = self.files.get(request.path_params["file_id"])
        if upload is None or upload["shared"]:
            return FakeResponse(404, body="upload URL not found or already used")
        upload["content"] = request.body
        upload["size"] = len(request.body)
        return FakeResponse(200, body=f"OK - {len(request.body)}")

    def _call(self, request: FakeRequest) -> FakeResponse:
        name = request.path_params["method"]
        handler = self._methods.get(name)
        if handler is None:
            return FakeResponse(404, json={"ok": False, "error": "unknown_method"})
        try:
            params = self._params(request)
            data = handler(params)
        except SlackError as problem:
            return self._error(problem.code, **problem.extra)
        if name in WRITE_METHODS:
            self._applied.add(id(request))
        return FakeResponse(200, json={"ok": True, **data})

    def _dispatch(self, request: FakeRequest) -> FakeResponse | None:
        response = super()._dispatch(request)
        hold = None
        with self.lock:
            if id(request) in self._applied and response is not None:
                method = request.path.rsplit("/", 1)[-1]
                hold = next((h for h in self._holds if h.matches(method)), None)
                if hold is not None:
                    self._holds.remove(hold)
                failure = next(
                    (f for f in self._failures_after_write if f[0] in (None, method)), None
                )
                if failure is not None:
                    self._failures_after_write.remove(failure)
                    response, request.status = failure[1], failure[1].status
                drop = next(
                    (
                        d
                        for d in self._drops
                        if d[1] in (None, method)
                        and (d[2] is None or re.fullmatch(d[2], request.path))
                    ),
                    None,
                )
                if drop is not None:
                    drop[0] -= 1
                    self._drops = [d for d in self._drops if d[0] > 0]
                    request.outcome, request.status = "dropped", None
                    return None
        self._send_pending_events()  # outside the lock: the app may call back meanwhile
        if hold is not None:  # outside the lock: other calls are answered meanwhile
            hold.request = request
            hold.applied.set()
            hold.released.wait(hold.timeout)
        return response

    def _error(self, code: str, **extra: Any) -> FakeResponse:
        return FakeResponse(200, json={"ok": False, "error": code, **extra})

    def _params(self, request: FakeRequest) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        kind = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if request.body:
            if kind == "application/json":
                try:
                    body = request.json()
                except ValueError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("json_not_object")
                params.update(body)
            elif kind in ("application/x-www-form-urlencoded", ""):
                params.update(request.form())
            else:
                raise SlackError("invalid_form_data")
        return params

    # -- helpers for methods -----------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def _channel(self, params: Mapping[str, Any], *, by_name: bool = False) -> FakeChannel:
        """The ``channel`` parameter's conversation. Only ``chat.*`` posting methods take a
        name (``#general``) or a user id (their DM with the bot) besides an id, as Slack."""
        raw = params.get("channel")
        if not raw:
            raise SlackError("channel_not_found")
        ref = str(raw)
        found = self.channels.get(ref)
        if found is None and by_name and ref in self.users:
            found = self._im_with(ref)
        if found is None and by_name:
            name = ref.lstrip("#")
            found = next(
                (c for c in self.channels.values() if not c.is_im and c.name == name), None
            )
        if found is None or (found.is_private and self.bot_user_id not in found.members):
            raise SlackError("channel_not_found")
        return found

    def _member_channel(self, params: Mapping[str, Any], *, by_name: bool = False) -> FakeChannel:
        """The channel, which the bot must be in (``not_in_channel`` otherwise)."""
        channel = self._channel(params, by_name=by_name)
        if self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _writable_channel(self, params: Mapping[str, Any], *, by_name: bool = False) -> FakeChannel:
        channel = self._member_channel(params, by_name=by_name)
        if channel.is_archived:
            raise SlackError("is_archived")
        return channel

    def _im_with(self, user_id: str) -> FakeChannel:
        existing = next(
            (c for c in self.channels.values() if c.is_im and c.im_user == user_id), None
        )
        if existing is not None:
            return existing
        channel = FakeChannel(
            id=self._new_id("D"),
            name=user_id,
            created=int(time.time()),
            is_im=True,
            members={self.bot_user_id, user_id},
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        return channel

    def _content(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The message content of ``chat.*`` parameters: text, blocks, attachments."""
        content: dict[str, Any] = {}
        text = params.get("text")
        blocks = _structured(params.get("blocks"), "blocks") if params.get("blocks") else None
        attachments = (
            _structured(params.get("attachments"), "attachments")
            if params.get("attachments")
            else None
        )
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text and len(str(text)) > _MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks")
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        content["text"] = str(text) if text else ""
        if blocks:
            content["blocks"] = blocks
        if attachments:
            content["attachments"] = attachments
        return content

    def _metadata(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = params.get("metadata")
        if raw in (None, ""):
            return None
        metadata = _structured(raw, "metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
            raise SlackError("invalid_metadata_format")
        payload = metadata.get("event_payload", {})
        if not isinstance(payload, dict):
            raise SlackError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": payload}

    def _message(
        self, channel: FakeChannel, content: Mapping[str, Any], *, user: str | None = None
    ) -> dict[str, Any]:
        author = user or self.bot_user_id
        message: dict[str, Any] = {"type": "message", "ts": self._next_ts(), **content}
        message["user"] = author
        if author == self.bot_user_id:
            message.update(bot_id=self.bot_id, app_id=self.app_id)
        message["team"] = self.team_id
        return message

    def _into_thread(self, channel: FakeChannel, message: dict[str, Any], thread_ts: str) -> None:
        parent = channel.find(thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        root = str(parent.get("thread_ts") or parent["ts"])
        root_message = channel.find(root)
        assert root_message is not None
        message["thread_ts"] = root
        message["parent_user_id"] = root_message.get("user") or root_message.get("bot_id")
        root_message["thread_ts"] = root
        root_message["reply_count"] = int(root_message.get("reply_count", 0)) + 1
        root_message["latest_reply"] = message["ts"]
        users = root_message.setdefault("reply_users", [])
        author = message.get("user") or message.get("bot_id")
        if author not in users:
            users.append(author)

    def _own_message(self, channel: FakeChannel, ts: Any, *, refusal: str) -> dict[str, Any]:
        message = channel.find(str(ts or ""))
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != self.bot_user_id and message.get("bot_id") != self.bot_id:
            raise SlackError(refusal)
        return message

    @staticmethod
    def _shown(message: Mapping[str, Any], with_metadata: bool) -> dict[str, Any]:
        shown = dict(message)
        if not with_metadata:
            shown.pop("metadata", None)
        return shown

    # -- auth.test ---------------------------------------------------------------------------
    @_slack_method("auth.test")
    def auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": self.team,
            "user": "runio-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    # -- chat --------------------------------------------------------------------------------
    @_slack_method("chat.postMessage")
    def chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params, by_name=True)
        content = self._content(params)
        metadata = self._metadata(params)
        message = self._message(channel, content)
        if params.get("username"):  # a custom name (chat:write.customize): a bot_message
            del message["user"]
            message.update(subtype="bot_message", username=str(params["username"]))
        if metadata is not None:
            message["metadata"] = metadata
        thread_ts = params.get("thread_ts")
        if thread_ts:
            self._into_thread(channel, message, str(thread_ts))
            if _truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        channel.messages.append(message)
        self._emit_message(channel, message)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    @_slack_method("chat.update")
    def chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(params)
        message = self._own_message(channel, params.get("ts"), refusal="cant_update_message")
        content = self._content(params)
        message.update(content)
        metadata = self._metadata(params)
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": {k: v for k, v in message.items() if k != "ts"},
        }

    @_slack_method("chat.delete")
    def chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(params)
        message = self._own_message(channel, params.get("ts"), refusal="cant_delete_message")
        channel.messages.remove(message)
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            root = channel.find(message["thread_ts"])
            if root is not None:
                root["reply_count"] = max(0, int(root.get("reply_count", 1)) - 1)
        return {"channel": channel.id, "ts": message["ts"]}

    @_slack_method("chat.postEphemeral")
    def chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params, by_name=True)
        user = str(params.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        content = self._content(params)
        ts = self._next_ts()
        self.ephemeral.append(
            {"channel": channel.id, "user": user, "message_ts": ts, **content}
            | ({"thread_ts": str(params["thread_ts"])} if params.get("thread_ts") else {})
        )
        return {"message_ts": ts}

    @_slack_method("chat.scheduleMessage")
    def chat_schedule_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params, by_name=True)
        try:
            post_at = int(float(params.get("post_at") or 0))
        except (TypeError, ValueError):
            raise SlackError("invalid_time") from None
        now = time.time()
        if post_at <= now:
            raise SlackError("time_in_past")
        if post_at > now + _MAX_SCHEDULE_AHEAD:
            raise SlackError("time_too_far")
        content = self._content(params)
        message: dict[str, Any] = {
            "type": "delayed_message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            **content,
        }
        metadata = self._metadata(params)
        if metadata is not None:
            message["metadata"] = metadata
        if params.get("thread_ts"):
            if channel.find(str(params["thread_ts"])) is None:
                raise SlackError("thread_not_found")
            message["thread_ts"] = str(params["thread_ts"])
        scheduled_id = self._new_id("Q")
        self.scheduled.append(
            {
                "id": scheduled_id,
                "channel_id": channel.id,
                "post_at": post_at,
                "date_created": int(now),
                "text": content["text"],
                "message": message,
            }
        )
        return {
            "channel": channel.id,
            "scheduled_message_id": scheduled_id,
            "post_at": post_at,
            "message": dict(message),
        }

    @_slack_method("chat.scheduledMessages.list")
    def chat_scheduled_messages_list(self, params: dict[str, Any]) -> dict[str, Any]:
        found = list(self.scheduled)
        if params.get("channel"):
            channel = self._channel(params)
            found = [s for s in found if s["channel_id"] == channel.id]
        if params.get("oldest"):
            found = [s for s in found if s["post_at"] >= _ts_key(params["oldest"])]
        if params.get("latest"):
            found = [s for s in found if s["post_at"] <= _ts_key(params["latest"])]
        found.sort(key=lambda s: (s["post_at"], s["id"]))
        start = int(_uncursor(params["cursor"], "offset:")) if params.get("cursor") else 0
        limit = _limit(params, 100, 1000)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "scheduled_messages": [{k: v for k, v in s.items() if k != "message"} for s in page],
            "response_metadata": {
                "next_cursor": _cursor(f"offset:{start + limit}") if more else ""
            },
        }

    # -- conversations -----------------------------------------------------------------------
    @_slack_method("conversations.join")
    def conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.is_im or channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        answer: dict[str, Any] = {}
        if self.bot_user_id in channel.members:
            answer = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        if not answer:
            channel.members.add(self.bot_user_id)
            self._emit_joined(channel, self.bot_user_id)
        return {"channel": channel.as_json(self.bot_user_id), **answer}

    @_slack_method("conversations.open")
    def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self._channel(params)
            return {"channel": channel.as_json(self.bot_user_id)}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        unknown = [u for u in users if u not in self.users]
        if unknown:
            raise SlackError("user_not_found")
        if len(users) > 1:  # a group DM: this fake opens one-to-one conversations only
            raise SlackError("method_not_supported_for_channel_type")
        existing = any(c.is_im and c.im_user == users[0] for c in self.channels.values())
        channel = self._im_with(users[0])
        full = _truthy(params.get("return_im"))
        shown = channel.as_json(self.bot_user_id) if full else {"id": channel.id}
        answer: dict[str, Any] = {"channel": shown}
        if existing:
            answer.update(no_op=True, already_open=True)
        return answer

    @_slack_method("conversations.list")
    def conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = {t.strip() for t in str(params.get("types") or "public_channel").split(",") if t}
        allowed = {"public_channel", "private_channel", "im", "mpim"}
        if not types <= allowed:
            raise SlackError("invalid_types")
        found = []
        for channel in self.channels.values():
            kind = (
                "im"
                if channel.is_im
                else "private_channel"
                if channel.is_private
                else "public_channel"
            )
            if kind not in types:
                continue
            if kind != "public_channel" and self.bot_user_id not in channel.members:
                continue
            if channel.is_archived and _truthy(params.get("exclude_archived")):
                continue
            found.append(channel)
        start = int(_uncursor(params["cursor"], "offset:")) if params.get("cursor") else 0
        limit = _limit(params, 100, 1000)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "channels": [c.as_json(self.bot_user_id) for c in page],
            "response_metadata": {
                "next_cursor": _cursor(f"offset:{start + limit}") if more else ""
            },
        }

    def _window(
        self, messages: Iterable[dict[str, Any]], params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        oldest = _ts_key(params.get("oldest") or 0)
        latest = _ts_key(params["latest"]) if params.get("latest") else float("inf")
        inclusive = _truthy(params.get("inclusive"))
        for message in messages:
            ts = float(message["ts"])
            if (oldest < ts < latest) or (inclusive and ts in (oldest, latest)):
                yield message

    def _page_size(self, params: Mapping[str, Any]) -> int:
        size = _limit(params, 100, 999)
        return min(size, self.history_page_cap) if self.history_page_cap else size

    @_slack_method("conversations.history")
    def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(params)
        top = [
            m
            for m in channel.messages
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        found = sorted(self._window(top, params), key=lambda m: float(m["ts"]), reverse=True)
        if params.get("cursor"):
            before = float(_uncursor(params["cursor"], "next_ts:"))
            found = [m for m in found if float(m["ts"]) < before]
        size = self._page_size(params)
        page, more = found[:size], len(found) > size
        with_metadata = _truthy(params.get("include_all_metadata"))
        return {
            "messages": [self._shown(m, with_metadata) for m in page],
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {
                "next_cursor": _cursor(f"next_ts:{page[-1]['ts']}") if more else ""
            },
        }

    @_slack_method("conversations.replies")
    def conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(params)
        anchor = channel.find(str(params.get("ts") or ""))
        if anchor is None:
            raise SlackError("thread_not_found")
        root_ts = str(anchor.get("thread_ts") or anchor["ts"])
        root = channel.find(root_ts)
        assert root is not None
        replies = [m for m in channel.messages if m.get("thread_ts") == root_ts and m is not root]
        found = [root, *self._window(replies, params)]
        if params.get("cursor"):
            after = float(_uncursor(params["cursor"], "next_ts:"))
            found = [m for m in found if float(m["ts"]) >= after]
        size = self._page_size(params)
        page, more = found[:size], len(found) > size
        with_metadata = _truthy(params.get("include_all_metadata"))
        return {
            "messages": [self._shown(m, with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {
                "next_cursor": _cursor(f"next_ts:{found[size]['ts']}") if more else ""
            },
        }

    # -- reactions ---------------------------------------------------------------------------
    @_slack_method("reactions.add")
    def reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(params)
        message = channel.find(str(params.get("timestamp") or ""))
        if message is None:
            raise SlackError("message_not_found")
        name = str(params.get("name") or "").strip(":")
        if not name or not re.fullmatch(r"[a-z0-9_+'-]+(::skin-tone-[2-6])?", name):
            raise SlackError("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        self._emit_reaction(channel, message, name, self.bot_user_id)
        return {}

    # -- users -------------------------------------------------------------------------------
    @_slack_method("users.lookupByEmail")
    def users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email") or "").strip().lower()
        if not email:
            raise SlackError("invalid_email")
        for user in self.users.values():
            if str(user["profile"]["email"]).lower() == email:
                return {"user": user}
        raise SlackError("users_not_found")

    # -- files (files_upload_v2) -------------------------------------------------------------
    @_slack_method("files.getUploadURLExternal")
    def files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] filename and length are required"]},
            )
        file_id = self._new_id("F")
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "content": None,
            "size": 0,
            "shared": False,
        }
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    @_slack_method("files.completeUploadExternal")
    def files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _structured(params.get("files") or "[]", "files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments")
        channel = None
        if params.get("channel_id") or params.get("channels"):
            key = "channel_id" if params.get("channel_id") else "channels"
            target = {key: str(params[key]).split(",")[0]}
            channel = self._writable_channel({"channel": target[key]})
        completed = []
        for entry in entries:
            upload = self.files.get(str(entry.get("id")))
            if upload is None or upload["shared"]:
                raise SlackError("file_not_found")
            if upload["content"] is None or upload["size"] != upload["length"]:
                raise SlackError("file_upload_size_mismatch")
            completed.append((upload, entry))
        shown = []
        now = int(time.time())
        for upload, entry in completed:
            upload["shared"] = True
            upload["title"] = entry.get("title") or upload["name"]
            upload["created"] = now
            upload["user"] = self.bot_user_id
            upload["channels"] = [channel.id] if channel else []
            shown.append(self._file_json(upload))
        if channel is not None:
            content = {"text": str(params.get("initial_comment") or ""), "upload": True}
            message = self._message(channel, content)
            message["files"] = shown
            if params.get("thread_ts"):
                self._into_thread(channel, message, str(params["thread_ts"]))
            channel.messages.append(message)
            for upload, _ in completed:
                upload["shares"] = {
                    ("private" if channel.is_private or channel.is_im else "public"): {
                        channel.id: [{"ts": message["ts"]}]
                    }
                }
            shown = [self._file_json(upload) for upload, _ in completed]
        return {"files": shown}

    def _file_json(self, upload: Mapping[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in upload.items() if k not in ("content", "length", "shared")}
        shown["permalink"] = f"https://fake-workspace.slack.com/files/{upload['id']}"
        return shown


if __name__ == "__main__":  # python -m runio_slack.testing --port 12112
    from runio.testing import serve_fake

    serve_fake(
        FakeSlack,
        prog="python -m runio_slack.testing",
        environment={
            "SLACK_API_BASE": "{url}",
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        },
    )
