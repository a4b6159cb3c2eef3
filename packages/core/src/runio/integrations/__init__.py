"""The integration kit: everything an integration package is built from.

``Integration`` (the one base class), ``integration_task`` (declare a task wrapper),
``ErrorDecision`` (classify an SDK error), ``Setting`` (a constructor argument or environment
variable, secret by default), ``retry_after_seconds`` (read a ``Retry-After`` header), and the
built-in ``HTTP`` integration. The fake vendor server base and the conformance suite are in
``runio.testing``. See docs/writing-an-integration.md.
"""

from __future__ import annotations

from ._base import (
    REDACTED,
    ErrorDecision,
    Integration,
    IntegrationTask,
    Setting,
    integration_task,
    retry_after_seconds,
)
from ._bound import BlockingIntegrationIO, IntegrationIO
from ._http import HTTP, HTTPClient, HTTPStatusError
from ._resolve import KNOWN_PACKAGES

__all__ = [
    "HTTP",
    "KNOWN_PACKAGES",
    "REDACTED",
    "BlockingIntegrationIO",
    "ErrorDecision",
    "HTTPClient",
    "HTTPStatusError",
    "Integration",
    "IntegrationIO",
    "IntegrationTask",
    "Setting",
    "integration_task",
    "retry_after_seconds",
]
