"""Slack for runio: ``io.slack`` task wrappers over the official ``slack-sdk``.

``Slack`` is the integration (declare ``Slack()`` in ``define_job(integrations=...)``, or just
set ``SLACK_BOT_TOKEN``); ``SlackAPIError`` is what its tasks fail with when Slack answers with
an error. ``runio_slack.testing.FakeSlack`` is Slack's Web API as a local HTTP server, for
tests.

The names are loaded on first use: every runio worker imports this package to discover the
plugin, and a worker whose jobs never call Slack should not pay for importing the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._errors import SlackAPIError
    from ._integration import DEFAULT_BASE_URL, EVENT_TYPE, MARKER_KEY, Slack

__all__ = ["DEFAULT_BASE_URL", "EVENT_TYPE", "MARKER_KEY", "Slack", "SlackAPIError"]

_WHERE = {
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
