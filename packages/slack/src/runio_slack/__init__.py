"""Slack for runio: ``io.slack`` task wrappers over the official ``slack-sdk``.

``Slack`` is the integration (declare ``Slack()`` in ``define_job(integrations=...)``, or just
set ``SLACK_BOT_TOKEN``); ``SlackAPIError`` is what its tasks fail with when Slack answers with
an error. Its triggers (``slack.on_app_mention()``, ``slack.on_message(channel=...)``...) start
jobs from Slack's Events API, with typed payloads (``AppMention``, ``Message``,
``ReactionAdded``, ``MemberJoinedChannel``: an ``EventEnvelope`` around the event).
``runio_slack.testing.FakeSlack`` is Slack's Web API as a local HTTP server, and sends signed
Events API deliveries, for tests.

The names are loaded on first use: every runio worker imports this package to discover the
plugin, and a worker whose jobs never call Slack should not pay for importing the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._errors import SlackAPIError
    from ._events import (
        USER_MESSAGE_SUBTYPES,
        AppMention,
        AppMentionEvent,
        Authorization,
        EventEnvelope,
        MemberJoinedChannel,
        MemberJoinedChannelEvent,
        Message,
        MessageEvent,
        ReactionAdded,
        ReactionAddedEvent,
        ReactionItem,
        SlackEvent,
        SlackEventTrigger,
    )
    from ._integration import DEFAULT_BASE_URL, EVENT_TYPE, MARKER_KEY, Slack

__all__ = [
    "DEFAULT_BASE_URL",
    "EVENT_TYPE",
    "MARKER_KEY",
    "USER_MESSAGE_SUBTYPES",
    "AppMention",
    "AppMentionEvent",
    "Authorization",
    "EventEnvelope",
    "MemberJoinedChannel",
    "MemberJoinedChannelEvent",
    "Message",
    "MessageEvent",
    "ReactionAdded",
    "ReactionAddedEvent",
    "ReactionItem",
    "Slack",
    "SlackAPIError",
    "SlackEvent",
    "SlackEventTrigger",
]

_EVENTS = (
    "USER_MESSAGE_SUBTYPES",
    "AppMention",
    "AppMentionEvent",
    "Authorization",
    "EventEnvelope",
    "MemberJoinedChannel",
    "MemberJoinedChannelEvent",
    "Message",
    "MessageEvent",
    "ReactionAdded",
    "ReactionAddedEvent",
    "ReactionItem",
    "SlackEvent",
    "SlackEventTrigger",
)

_WHERE = {
    **dict.fromkeys(_EVENTS, "._events"),
    "SlackAPIError": "._errors",
    "DEFAULT_BASE_URL": "._integration",
    "EVENT_TYPE": "._integration",
    "MARKER_KEY": "._integration",
    "Slack": "._integration",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runio_slack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
