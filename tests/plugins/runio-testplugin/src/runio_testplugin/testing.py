"""``FakeNotes``: the TestNotes API as a local HTTP server (no idempotency keys)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, route

from . import sign


class FakeNotes(FakeVendorServer):
    idempotency_header = None  # this vendor has none: wrappers use markers

    def __init__(self, token: str = "notes-token") -> None:
        super().__init__()
        self.token = token
        self.notes: dict[str, list[dict[str, Any]]] = {}

    @staticmethod
    def signed_delivery(
        secret: str, event: dict[str, Any], *, at: float
    ) -> tuple[bytes, dict[str, str]]:
        """``event`` as Test Notes sends it at ``at``: its body and signed headers."""
        body = json.dumps(event).encode()
        stamp = int(at)
        return body, {"Notes-Timestamp": str(stamp), "Notes-Signature": sign(secret, stamp, body)}

    def send_event(
        self, url: str, event: dict[str, Any], *, secret: str, at: float
    ) -> httpx.Response:
        """Deliver ``event`` to ``url``, signed with ``secret`` at ``at``."""
        body, headers = self.signed_delivery(secret, event, at=at)
        return self.deliver_webhook(url, body, headers)

    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        if request.header("Authorization") != f"Bearer {self.token}":
            return FakeResponse(401, json={"error": {"message": "invalid token"}})
        return None

    @route("POST", "/boards/{board}/notes")
    def post_note(self, request: FakeRequest) -> FakeResponse:
        data = request.json() or {}
        if not data.get("text"):
            return FakeResponse(400, json={"error": {"message": "text is required"}})
        note = {"id": self.new_id("note"), "text": data["text"], "marker": data.get("marker")}
        self.notes.setdefault(request.path_params["board"], []).append(note)
        return FakeResponse(201, json=note)

    @route("GET", "/boards/{board}/notes")
    def list_notes(self, request: FakeRequest) -> list[dict[str, Any]]:
        marker = (request.query.get("marker") or [None])[0]
        notes = self.notes.get(request.path_params["board"], [])
        return [n for n in notes if marker is None or n["marker"] == marker]
