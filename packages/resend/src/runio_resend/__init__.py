"""Resend for runio: ``io.resend`` task wrappers over the official ``resend`` SDK.

``Resend`` is the integration (declare ``Resend()`` in ``define_job(integrations=...)``, or just
set ``RESEND_API_KEY``); ``ResendAPIError`` and its subclasses are what its tasks fail with when
Resend answers with an error, ``ResendConnectionError`` when no answer came back.
``ResendClient`` is the SDK bound to one account (what wrappers and ``io.resend.run_task``
functions receive). ``EmailEvent``, ``EmailBouncedEvent``, ``EmailClickedEvent`` and
``ContactEvent`` (with the models of their ``data``) are the typed payloads of the webhook
triggers (``resend.on_email_delivered()``...). ``runio_resend.testing.FakeResend`` is the Resend
API as a local HTTP server, for tests.

The names are loaded on first use: every runio worker imports this package to discover the
plugin, and a worker whose jobs never send email should not pay for importing the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import DEFAULT_API_BASE, ResendClient
    from ._errors import (
        ResendAPIError,
        ResendConnectionError,
        ResendIdempotencyError,
        ResendQuotaError,
    )
    from ._integration import Resend
    from ._webhooks import (
        ContactData,
        ContactEvent,
        EmailBounce,
        EmailBouncedData,
        EmailBouncedEvent,
        EmailClick,
        EmailClickedData,
        EmailClickedEvent,
        EmailData,
        EmailEvent,
    )

__all__ = [
    "DEFAULT_API_BASE",
    "ContactData",
    "ContactEvent",
    "EmailBounce",
    "EmailBouncedData",
    "EmailBouncedEvent",
    "EmailClick",
    "EmailClickedData",
    "EmailClickedEvent",
    "EmailData",
    "EmailEvent",
    "Resend",
    "ResendAPIError",
    "ResendClient",
    "ResendConnectionError",
    "ResendIdempotencyError",
    "ResendQuotaError",
]

_WHERE = {
    "DEFAULT_API_BASE": "._client",
    "ResendClient": "._client",
    "ResendAPIError": "._errors",
    "ResendConnectionError": "._errors",
    "ResendIdempotencyError": "._errors",
    "ResendQuotaError": "._errors",
    "Resend": "._integration",
    "ContactData": "._webhooks",
    "ContactEvent": "._webhooks",
    "EmailBounce": "._webhooks",
    "EmailBouncedData": "._webhooks",
    "EmailBouncedEvent": "._webhooks",
    "EmailClick": "._webhooks",
    "EmailClickedData": "._webhooks",
    "EmailClickedEvent": "._webhooks",
    "EmailData": "._webhooks",
    "EmailEvent": "._webhooks",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runio_resend' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
