"""Test helpers for runio users: a clock you advance by hand, a pytest plugin, and the kit
integration packages test with.

With ``TestClock``, waits and retry delays are tested without sleeping::

    clock = TestClock()
    client = runio.Client("app", database_url="sqlite://:memory:", clock=clock)
    client.send_event("new.user", {...})
    client.run_worker(until_idle=True)      # the run reaches its three-hour wait
    clock.advance(hours=3)
    client.run_worker(until_idle=True)      # ...and completes

For an app's own module-level client, the pytest fixture ``runio_app(client)`` points it at a
test database and clock and returns a ``JobTester`` (``run_job``, ``advance``,
``run_until_finished``, ``runs``); ``task_statuses`` and ``assert_task`` check a run's task tree.

For integrations: ``FakeVendorServer`` (with ``route``, ``FakeRequest``, ``FakeResponse``) is the
base of every fake vendor API, a real HTTP server on 127.0.0.1 with request recording, fault
injection (``Hold`` is ``hold_after_write``'s handle), idempotency-key replay, errors in the
vendor's shape (``FakeError``) and cursor paging (``Page``, ``CursorNotFound``); ``serve_fake``
runs one on its own from the command line (``python -m runio_stripe.testing --port 12111``).
``IntegrationConformance`` is the conformance suite every integration package runs
(it needs pytest, so it is imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._clock import TestClock
from ._fake_server import (
    CursorNotFound,
    FakeError,
    FakeRequest,
    FakeResponse,
    FakeVendorServer,
    Hold,
    Page,
    WebhookSent,
    route,
    serving,
)
from ._kit import JobTester, assert_task, task_statuses
from ._serve_cli import serve_fake

if TYPE_CHECKING:
    from ._conformance import ConformanceHarness, IntegrationConformance

__all__ = [
    "ConformanceHarness",
    "CursorNotFound",
    "FakeError",
    "FakeRequest",
    "FakeResponse",
    "FakeVendorServer",
    "Hold",
    "IntegrationConformance",
    "JobTester",
    "Page",
    "TestClock",
    "WebhookSent",
    "assert_task",
    "route",
    "serve_fake",
    "serving",
    "task_statuses",
]


def __getattr__(name: str) -> Any:
    if name in ("IntegrationConformance", "ConformanceHarness"):
        from . import _conformance

        return getattr(_conformance, name)
    raise AttributeError(f"module 'runio.testing' has no attribute {name!r}")
