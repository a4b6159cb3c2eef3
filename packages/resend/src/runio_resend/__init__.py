"""Resend for runio: ``io.resend`` task wrappers over the official ``resend`` SDK.

``Resend`` is the integration (declare ``Resend()`` in ``define_job(integrations=...)``, or just
set ``RESEND_API_KEY``); ``ResendAPIError`` and its subclasses are what its tasks fail with when
Resend answers with an error, ``ResendConnectionError`` when no answer came back.
``ResendClient`` is the SDK bound to one account (what wrappers and ``io.resend.run_task``
functions receive). ``runio_resend.testing.FakeResend`` is the Resend API as a local HTTP
server, for tests.

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

__all__ = [
    "DEFAULT_API_BASE",
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
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runio_resend' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
