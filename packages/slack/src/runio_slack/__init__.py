"""Slack for runio: ``io.slack`` task wrappers over the official ``slack-sdk``.

``runio_slack.testing.FakeSlack`` is Slack's Web API as a local HTTP server, for tests;
``SlackAPIError`` is what a task fails with when Slack answers with an error.
"""

from __future__ import annotations
