"""The integration kit: everything an integration package is built from.

``Integration`` (the one base class), ``setting`` (declare a setting: a constructor argument or
environment variable, secret by default), ``integration_task`` (declare a task wrapper, with its
effect), ``ErrorDecision`` (classify an SDK error), ``retry_after_seconds`` (read a
``Retry-After`` header), ``use`` (inside a wrapper: this instance bound to the run, for
subtasks), the webhook types (``WebhookRequest``, ``WebhookDelivery``, ``WebhookReply``,
``WebhookRegistration``, ``WebhookTrigger``: see docs/triggers.md), and the built-in ``HTTP``
integration. The fake vendor server base and the conformance suite are in ``runio.testing``.
See docs/writing-an-integration.md.
"""

from __future__ import annotations

from ._base import (
    CacheKey,
    ClassSpec,
    ErrorDecision,
    Integration,
    IntegrationTask,
    class_spec,
    integration_task,
    outcome_unknown_in_chain,
    retry_after_seconds,
)
from ._bound import BlockingIntegrationIO, IntegrationIO, use
from ._http import HTTP, HTTPClient, HTTPStatusError
from ._runtime import REDACTED
from ._settings import Setting, setting
from ._webhooks import (
    WebhookDelivery,
    WebhookRegistration,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
)

__all__ = [
    "HTTP",
    "REDACTED",
    "BlockingIntegrationIO",
    "CacheKey",
    "ClassSpec",
    "ErrorDecision",
    "HTTPClient",
    "HTTPStatusError",
    "Integration",
    "IntegrationIO",
    "IntegrationTask",
    "Setting",
    "WebhookDelivery",
    "WebhookRegistration",
    "WebhookReply",
    "WebhookRequest",
    "WebhookTrigger",
    "class_spec",
    "integration_task",
    "outcome_unknown_in_chain",
    "retry_after_seconds",
    "setting",
    "use",
]
