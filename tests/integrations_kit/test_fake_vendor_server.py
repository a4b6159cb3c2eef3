"""``FakeVendorServer``'s generic parts, through a real HTTP client against tiny fakes: errors
raised in handlers and shaped by ``render_error``, idempotency-key replay and conflict,
``hold_after_write``, and cursor paging with ``paginate``."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from runio.testing import (
    CursorNotFound,
    FakeError,
    FakeRequest,
    FakeResponse,
    FakeVendorServer,
    Hold,
    Page,
    route,
)


class FakeShelf(FakeVendorServer):
    """Items posted as JSON, read back, listed a page at a time (newest last)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    @route("POST", "/items")
    def create_item(self, request: FakeRequest) -> FakeResponse:
        data = request.json() or {}
        if not data.get("title"):
            raise FakeError(422, "title is required", code="missing_field", field="title")
        item = {"id": self.new_id("item"), "title": data["title"]}
        self.items[item["id"]] = item
        return FakeResponse(201, json=item)

    @route("GET", "/items/{item_id}")
    def get_item(self, request: FakeRequest) -> dict[str, Any]:
        return self._item(request.path_params["item_id"])

    @route("DELETE", "/items/{item_id}")
    def delete_item(self, request: FakeRequest) -> None:
        del self.items[self._item(request.path_params["item_id"])["id"]]

    def _item(self, item_id: str) -> dict[str, Any]:
        # raised from a helper, not the handler itself: the base still answers with it
        if item_id not in self.items:
            raise FakeError(404, f"No such item: {item_id!r}", code="item_missing")
        return self.items[item_id]

    @route("GET", "/items")
    def list_items(self, request: FakeRequest) -> dict[str, Any]:
        query = {name: values[-1] for name, values in request.query.items()}
        page = self.paginate(
            list(self.items.values()),
            limit=int(query.get("limit", "10")),
            after=query.get("after"),
            before=query.get("before"),
        )
        return {"data": page.items, "has_more": page.has_more, "next": page.next_cursor}


class FakeChat(FakeShelf):
    """The same API with a chat vendor's error shape (HTTP status, ``{"ok": false, "error":
    code}``) and opaque cursors, as Slack does it."""

    def render_error(self, error: FakeError) -> FakeResponse:
        codes = {404: "not_found", 409: "conflict", 429: "ratelimited", 503: "service_unavailable"}
        body = {"ok": False, "error": error.fields.get("code") or codes.get(error.status, "error")}
        if error.message is not None:
            body["detail"] = error.message
        return FakeResponse(error.status, json=body, headers=error.headers)

    @route("GET", "/conversations")
    def list_conversations(self, request: FakeRequest) -> dict[str, Any]:
        cursor = (request.query.get("cursor") or [""])[0]
        page = self.paginate(
            list(self.items.values()),
            limit=int((request.query.get("limit") or ["2"])[0]),
            after=cursor or None,
            cursor_of=lambda item: base64.b64encode(f"item:{item['id']}".encode()).decode(),
        )
        return {
            "ok": True,
            "items": page.items,
            "response_metadata": {"next_cursor": page.next_cursor or ""},
        }


@pytest.fixture
def shelf() -> Iterator[FakeShelf]:
    with FakeShelf() as server:
        yield server


@pytest.fixture
def http(shelf: FakeShelf) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shelf.url) as client:
        yield client


def post(http: httpx.Client, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return http.post("/items", content=json.dumps(body), headers=headers)


# -- errors ---------------------------------------------------------------------------------------


def test_an_error_raised_in_a_handler_or_its_helpers_is_the_answer(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    missing = http.get("/items/item_9")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"type": "not_found", "code": "item_missing", "message": "No such item: 'item_9'"}
    }
    invalid = post(http, {"title": ""})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == {
        "code": "missing_field",
        "field": "title",
        "message": "title is required",
    }
    assert [(r.outcome, r.status) for r in shelf.requests] == [("ok", 404), ("ok", 422)]
    assert shelf.writes == [] and shelf.items == {}


def test_check_auth_may_raise_the_error_too() -> None:
    class FakeLocked(FakeShelf):
        def check_auth(self, request: FakeRequest) -> FakeResponse | None:
            if request.header("Authorization") != "Bearer right":
                raise FakeError(401, "Invalid API key", code="bad_key")
            return None

    with FakeLocked() as fake, httpx.Client(base_url=fake.url) as http:
        refused = post(http, {"title": "a"})
        allowed = http.post(
            "/items", json={"title": "a"}, headers={"Authorization": "Bearer right"}
        )
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "bad_key", "message": "Invalid API key"}
    assert allowed.status_code == 201 and len(fake.items) == 1


def test_an_error_without_a_message_gets_the_usual_text_for_its_status() -> None:
    shelf = FakeShelf()
    assert shelf.error_response(404).json == {
        "error": {"type": "not_found", "message": "Not found"}
    }
    teapot = shelf.error_response(418, headers={"X-Why": "tea"}, hint=None)
    assert teapot.json == {"error": {"message": "I'm a Teapot"}}  # None fields are left out
    assert teapot.headers == {"X-Why": "tea"}
    assert str(FakeError(502)) == "502 Bad Gateway"


def test_fail_next_answers_with_the_vendors_error_for_the_status(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    shelf.fail_next(429, headers={"Retry-After": "7"})
    shelf.fail_next(500, json={"custom": True}, method="POST")
    limited = http.get("/items")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json() == {"error": {"type": "rate_limited", "message": "Too many requests"}}
    custom = post(http, {"title": "a"})
    assert (custom.status_code, custom.json()) == (500, {"custom": True})
    assert shelf.items == {}


def test_one_render_error_override_shapes_every_error_answer() -> None:
    with FakeChat() as chat, httpx.Client(base_url=chat.url) as http:
        chat.fail_next(503)
        unavailable = http.get("/items")
        assert (unavailable.status_code, unavailable.json()) == (
            503,
            {"ok": False, "error": "service_unavailable"},
        )
        assert http.get("/items/item_9").json() == {
            "ok": False,
            "error": "item_missing",
            "detail": "No such item: 'item_9'",
        }
        assert http.get("/nowhere").json()["error"] == "not_found"
        post(http, {"title": "a"}, key="k")
        conflict = post(http, {"title": "b"}, key="k")
        assert (conflict.status_code, conflict.json()["error"]) == (409, "conflict")
    limited = chat.rate_limit_response(30, now=0)
    assert (limited.status, limited.json, limited.headers) == (
        429,
        {"ok": False, "error": "ratelimited"},
        {"Retry-After": "30"},
    )
    assert chat.transient_error_response().json == {"ok": False, "error": "service_unavailable"}
    permanent = chat.permanent_error_response("bad channel")
    assert (permanent.status, permanent.json["detail"]) == (400, "bad channel")


# -- idempotency ----------------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_answer(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    first = post(http, {"title": "a"}, key="k-1")
    again = post(http, {"title": "a"}, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(shelf.items) == 1
    assert [r.outcome for r in shelf.requests] == ["ok", "replayed"]
    assert len(shelf.writes) == 1
    unkeyed = [post(http, {"title": "a"}) for _ in range(2)]
    assert unkeyed[0].json()["id"] != unkeyed[1].json()["id"]


def test_an_error_answer_is_replayed_too(shelf: FakeShelf, http: httpx.Client) -> None:
    refused = post(http, {"title": ""}, key="k-2")
    assert post(http, {"title": ""}, key="k-2").json() == refused.json()
    assert shelf.requests[-1].outcome == "replayed"


def test_the_same_key_with_another_request_is_a_conflict(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    made = post(http, {"title": "a"}, key="k-3").json()
    other_body = post(http, {"title": "b"}, key="k-3")
    other_path = http.delete(f"/items/{made['id']}", headers={"Idempotency-Key": "k-3"})
    for conflict in (other_body, other_path):
        assert conflict.status_code == 409
        assert conflict.json()["error"]["type"] == "idempotency_error"
    assert list(shelf.items) == [made["id"]]
    assert len(shelf.writes) == 1


def test_the_fingerprint_decides_what_counts_as_the_same_request(http: httpx.Client) -> None:
    class FakeParsed(FakeShelf):
        def idempotency_fingerprint(self, request: FakeRequest) -> str:
            return json.dumps(request.json(), sort_keys=True)

    with FakeParsed() as fake, httpx.Client(base_url=fake.url) as client:
        first = client.post(
            "/items", content='{"title": "a", "n": 1}', headers={"Idempotency-Key": "k"}
        )
        again = client.post(
            "/items", content='{"n": 1, "title": "a"}', headers={"Idempotency-Key": "k"}
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json() and len(fake.items) == 1


def test_a_vendor_without_keys_never_replays() -> None:
    class FakeNoKeys(FakeShelf):
        idempotency_header = None

    with FakeNoKeys() as fake, httpx.Client(base_url=fake.url) as http:
        post(http, {"title": "a"}, key="k")
        post(http, {"title": "b"}, key="k")
    assert [i["title"] for i in fake.items.values()] == ["a", "b"]


# -- hold_after_write -----------------------------------------------------------------------------


def in_background(
    call: Callable[[], httpx.Response],
) -> tuple[threading.Thread, list[httpx.Response | httpx.HTTPError]]:
    """Make the call from another thread (the test holds its answer); what came back, an
    answer or the client's error, lands in the list."""
    answers: list[httpx.Response | httpx.HTTPError] = []

    def run() -> None:
        try:
            answers.append(call())
        except httpx.HTTPError as exc:
            answers.append(exc)

    caller = threading.Thread(target=run)
    caller.start()
    return caller, answers


def test_hold_after_write_applies_the_write_and_holds_its_answer(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    hold = shelf.hold_after_write(method="post", path="/items")
    assert isinstance(hold, Hold)
    assert http.get("/items").status_code == 200  # reads are not held
    assert post(http, {"title": ""}).status_code == 422  # nor writes that fail
    caller, answers = in_background(lambda: post(http, {"title": "a"}))
    held = hold.wait_applied(timeout=10)
    assert held.path == "/items" and held.json() == {"title": "a"}
    assert len(shelf.items) == 1 and answers == []
    assert shelf.writes == [held]  # applied, so it counts, although unanswered
    assert http.get(f"/items/{held_id(shelf)}").status_code == 200  # others are answered
    assert answers == []
    hold.release()
    caller.join(timeout=10)
    (answer,) = answers
    assert isinstance(answer, httpx.Response) and answer.status_code == 201
    assert [answer.json()["id"]] == list(shelf.items)
    assert post(http, {"title": "b"}).status_code == 201  # the hold caught one write only


def test_a_hold_waits_for_a_matching_write(shelf: FakeShelf, http: httpx.Client) -> None:
    made = post(http, {"title": "a"}).json()
    hold = shelf.hold_after_write(method="DELETE")
    assert post(http, {"title": "b"}).status_code == 201
    with pytest.raises(TimeoutError, match="no matching write"):
        hold.wait_applied(timeout=0)
    caller, answers = in_background(lambda: http.delete(f"/items/{made['id']}"))
    assert hold.wait_applied(timeout=10).method == "DELETE"
    assert made["id"] not in shelf.items and answers == []
    hold.release()
    caller.join(timeout=10)
    assert [a.status_code for a in answers if isinstance(a, httpx.Response)] == [204]


def test_a_fakes_own_holds_do_not_replace_the_bases() -> None:
    class FakeOwnHolds(FakeShelf):
        def __init__(self) -> None:
            super().__init__()
            self._holds: list[str] = ["the fake's own bookkeeping"]
            self._held = None

        def _answer(self, request: FakeRequest) -> None:
            raise AssertionError("the base must not call a subclass's _answer")

    with FakeOwnHolds() as fake, httpx.Client(base_url=fake.url) as http:
        hold = fake.hold_after_write()
        caller, answers = in_background(lambda: post(http, {"title": "a"}))
        assert hold.wait_applied(timeout=10).path == "/items"
        hold.release()
        caller.join(timeout=10)
        fake.clear_faults()
    assert [a.status_code for a in answers if isinstance(a, httpx.Response)] == [201]
    assert fake._holds == ["the fake's own bookkeeping"]


def test_clear_faults_forgets_a_hold_that_caught_nothing(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    hold = shelf.hold_after_write()
    shelf.clear_faults()
    assert post(http, {"title": "a"}).status_code == 201
    assert not hold.applied.is_set()


def test_stopping_the_fake_releases_a_held_answer() -> None:
    fake = FakeShelf().start()
    hold = fake.hold_after_write()
    with httpx.Client(base_url=fake.url) as http:
        caller, answers = in_background(lambda: post(http, {"title": "a"}))
        hold.wait_applied(timeout=10)
        fake.stop()
        caller.join(timeout=10)
    assert not caller.is_alive() and len(answers) == 1  # an answer or a closed connection
    assert hold.released.is_set()


def held_id(fake: FakeShelf) -> str:
    (item_id,) = fake.items
    return item_id


# -- paging ---------------------------------------------------------------------------------------


def test_paginate_pages_forward_and_back_by_cursor(shelf: FakeShelf, http: httpx.Client) -> None:
    ids = [post(http, {"title": str(i)}).json()["id"] for i in range(5)]
    first = http.get("/items", params={"limit": 2}).json()
    assert [i["id"] for i in first["data"]] == ids[:2]
    assert first["has_more"] and first["next"] == ids[1]
    second = http.get("/items", params={"limit": 2, "after": first["next"]}).json()
    assert [i["id"] for i in second["data"]] == ids[2:4] and second["has_more"]
    last = http.get("/items", params={"limit": 2, "after": second["next"]}).json()
    assert [i["id"] for i in last["data"]] == ids[4:]
    assert (last["has_more"], last["next"]) == (False, None)
    back = http.get("/items", params={"limit": 2, "before": ids[4]}).json()
    assert [i["id"] for i in back["data"]] == ids[2:4]
    assert back["has_more"] and back["next"] == ids[2]
    start = http.get("/items", params={"limit": 2, "before": ids[2]}).json()
    assert [i["id"] for i in start["data"]] == ids[:2] and not start["has_more"]


def test_paginate_refuses_an_unknown_cursor_and_a_bad_limit(
    shelf: FakeShelf, http: httpx.Client
) -> None:
    post(http, {"title": "a"})
    unknown = http.get("/items", params={"after": "item_404"})
    assert unknown.status_code == 400
    assert "Unknown cursor 'item_404'" in unknown.json()["error"]["message"]
    assert http.get("/items", params={"before": "nope"}).status_code == 400
    zero = http.get("/items", params={"limit": 0})
    assert zero.status_code == 400 and zero.json()["error"]["param"] == "limit"
    with pytest.raises(CursorNotFound) as raised:
        shelf.paginate([{"id": "a"}], limit=1, before="b")
    assert (raised.value.cursor, raised.value.direction, raised.value.status) == (
        "b",
        "before",
        400,
    )


def test_paginate_with_opaque_cursors() -> None:
    with FakeChat() as chat, httpx.Client(base_url=chat.url) as http:
        ids = [post(http, {"title": str(i)}).json()["id"] for i in range(3)]
        seen: list[str] = []
        cursor = ""
        while True:
            page = http.get("/conversations", params={"cursor": cursor, "limit": 2}).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                break
            assert base64.b64decode(cursor).decode() == f"item:{seen[-1]}"
        assert seen == ids


def test_paginate_on_an_empty_list() -> None:
    page: Page[dict[str, Any]] = FakeShelf().paginate([], limit=10)
    assert (page.items, page.has_more, page.next_cursor) == ([], False, None)
