"""The integration conformance suite, run on the built-in HTTP integration and on the
installed test plugin's TestNotes (a vendor without idempotency keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from runio_testplugin import TestNotes
from runio_testplugin.testing import FakeNotes

from runio.integrations import HTTP
from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, IntegrationConformance, route


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
