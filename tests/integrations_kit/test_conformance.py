"""The integration conformance suite, run on the built-in HTTP integration and on the
installed test plugin's TestNotes (a vendor without idempotency keys)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from runio_testplugin import TestNotes
from runio_testplugin.testing import FakeNotes

from runio.integrations import HTTP, WebhookDelivery, WebhookRequest
from runio.testing import (
    FakeRequest,
    FakeResponse,
    FakeVendorServer,
    IntegrationConformance,
    TestClock,
    route,
)


class FakeItems(FakeVendorServer):
    """A small JSON API that deduplicates writes on ``Idempotency-Key`` (the default)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    @route("POST", "/items")
    def create_item(self, request: FakeRequest) -> FakeResponse:
        item = {"id": self.new_id("item"), **(request.json() or {})}
        self.items[item["id"]] = item
        return FakeResponse(201, json=item)

    @route("GET", "/items/{item_id}")
    def get_item(self, request: FakeRequest) -> FakeResponse:
        item = self.items.get(request.path_params["item_id"])
        return FakeResponse(200, json=item) if item else self.not_found(request)


class TestHTTPConformance(IntegrationConformance):
    integration_class = HTTP
    fake_server_class = FakeItems
    examples: ClassVar[dict[str, dict[str, Any]]] = {
        "request": {"method": "POST", "url": "/items", "json": {"title": "Hello"}}
    }

    def make_integration(self, server: FakeVendorServer, secret: str) -> HTTP:
        return HTTP(base_url=server.url, token=secret)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"RUNIO_HTTP_BASE_URL": server.url}


class TestTestNotesConformance(IntegrationConformance):
    integration_class = TestNotes
    fake_server_class = FakeNotes
    examples: ClassVar[dict[str, dict[str, Any]]] = {
        "post_note": {"board": "general", "text": "Hello"}
    }
    readme = Path(__file__).parents[1] / "plugins" / "runio-testplugin" / "README.md"

    def make_server(self, secret: str) -> FakeNotes:
        return FakeNotes(token=secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> TestNotes:
        return TestNotes(token=secret, base_url=server.url)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"TESTNOTES_TOKEN": secret, "TESTNOTES_URL": server.url}

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        event = {"id": "nev_1", "type": "note.posted", "note": {"board": "general", "text": "Hi"}}
        return FakeNotes.signed_delivery(signing_secret, event, at=now)


class LaxNotes(TestNotes):
    """A broken integration: it takes any delivery for a signed one."""

    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery:
        return WebhookDelivery(id="nev_1", type="note.posted", payload={})


def test_the_suite_refuses_an_integration_that_accepts_unsigned_deliveries() -> None:
    suite = TestTestNotesConformance()
    suite.integration_class = LaxNotes  # type: ignore[misc]
    harness: Any = SimpleNamespace(clock=TestClock(start=1_800_000_000.0))

    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        suite.test_webhook_deliveries_are_refused_unless_signed(harness)


def test_the_suite_asks_for_a_signed_delivery_when_an_integration_offers_triggers() -> None:
    suite = TestHTTPConformance()
    suite.integration_class = LaxNotes  # type: ignore[misc]
    harness: Any = SimpleNamespace(clock=TestClock(start=1_800_000_000.0))

    with pytest.raises(NotImplementedError, match="define webhook_delivery"):
        suite.test_webhook_deliveries_are_refused_unless_signed(harness)
