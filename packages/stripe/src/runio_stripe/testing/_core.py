"""What every resource of FakeStripe stands on: its state (the objects of every resource, by
id, with the Connect account each belongs to), Stripe's ids, headers, auth and error bodies,
and the generic parts of its endpoints (parameters, retrieve, list with Stripe's cursors and
``created`` filter, ``expand``), the payment methods that customers, charges, payment intents
and subscriptions share, and the events the endpoints emit (``_emit``: stored, and queued for
the webhook endpoints that listen to them; ``_events`` sends them). Fault injection,
idempotency keys and paging come from runio's ``FakeVendorServer``."""

from __future__ import annotations

import copy
import operator
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from runio.testing import CursorNotFound, FakeError, FakeRequest, FakeResponse, FakeVendorServer

from ._cards import VISA, Card, test_card
from ._events import EventDelivery, Outbox, Signature, event_body, signed_headers
from ._params import (
    ALNUM,
    LIST_PARAMS,
    array_param,
    check_known,
    int_param,
    no_such,
    parse_form,
    str_param,
)

API_VERSION = "2025-01-27.acacia"
"""The API version FakeStripe renders objects in (its ``Stripe-Version`` header)."""

_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", "parameter_invalid", "Invalid request."),
    401: ("invalid_request_error", None, "Invalid API Key provided."),
    402: ("card_error", "card_declined", "Your card was declined."),
    403: (
        "invalid_request_error",
        None,
        "The provided key does not have the required permissions.",
    ),
    404: ("invalid_request_error", "resource_missing", "No such object."),
    409: (
        "invalid_request_error",
        "idempotency_key_in_use",
        "There is currently another in-progress request using this Idempotent Key (that probably "
        "means you submitted twice, and the other request is still going through).",
    ),
    429: (
        "invalid_request_error",
        "rate_limit",
        "Request rate limit exceeded. Learn more about rate limits here: "
        "https://stripe.com/docs/rate-limits.",
    ),
}


class StripeCore(FakeVendorServer):
    """The base every resource of ``FakeStripe`` extends; see the module doc."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        strict: bool = True,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.strict = strict
        self.clock = clock
        self._random = random.Random(seed)
        self.customers: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.webhook_endpoints: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        """Every event the fake made (by its API's changes or ``send_event``), by id."""
        self.event_deliveries: list[EventDelivery] = []
        """Every delivery of an event to a webhook endpoint, with the answer, in order."""
        self._outbox = Outbox(self._deliver_queued)
        self._pending_request_id: str | None = None  # the Request-Id the answer will carry
        self._deleted: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str | None] = {}  # object id -> Connect account (None: platform)
        self._order: dict[str, int] = {}  # object id -> creation sequence, for list order
        self._sequence = 0
        self.request_ids: list[str] = []
        """Every ``Request-Id`` the fake has generated, in order (the last is the latest
        answer's, or the latest injected fault's)."""
        self._saved_cards: dict[str, Card] = {}  # payment method or card id -> its test card
        self._customer_methods: dict[str, list[str]] = {}  # customer id -> attached methods
        self._endpoint_secrets: dict[str, str] = {}  # webhook endpoint id -> signing secret
        self._kinds: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
            "cus": ("customer", self.customers),
            "ch": ("charge", self.charges),
            "pi": ("payment_intent", self.payment_intents),
            "re": ("refund", self.refunds),
            "sub": ("subscription", self.subscriptions),
            "in": ("invoice", self.invoices),
            "prod": ("product", self.products),
            "price": ("price", self.prices),
            "cs": ("checkout.session", self.checkout_sessions),
            "we": ("webhook_endpoint", self.webhook_endpoints),
            "evt": ("event", self.events),
        }

    # -- ids and time ---------------------------------------------------------------------------
    def stripe_id(self, prefix: str, length: int = 24) -> str:
        """A Stripe-looking id: ``cus_`` + 14 characters, ``pi_`` + 24..."""
        return prefix + "_" + "".join(self._random.choice(ALNUM) for _ in range(length))

    def now(self) -> int:
        return int(self.clock())

    # -- answers -------------------------------------------------------------------------------
    def reply(self, obj: Any, status: int = 200) -> FakeResponse:
        """A JSON answer with Stripe's headers."""
        return FakeResponse(status, json=copy.deepcopy(obj), headers=self._headers())

    def _headers(self) -> dict[str, str]:
        request_id = self._pending_request_id or self.stripe_id("req", 14)
        self._pending_request_id = None
        self.request_ids.append(request_id)
        return {"Request-Id": request_id, "Stripe-Version": API_VERSION}

    def render_error(self, error: FakeError) -> FakeResponse:
        """Stripe's error body (``{"error": {"type", "code", "message", "param"...}}``, with a
        ``Request-Id``); an error without a message gets what Stripe sends for its status."""
        if error.message is None:
            return self.error_response(error.status, headers=error.headers, **error.fields)
        fields = {k: v for k, v in error.fields.items() if v is not None}
        body: dict[str, Any] = {
            "type": fields.pop("type", "invalid_request_error"),
            "message": error.message,
        }
        code = fields.pop("code", None)
        if code:
            body["code"] = code
            body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if "param" in fields:
            body["param"] = fields.pop("param")
        body.update(fields)
        headers = self._headers()
        body["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{headers['Request-Id']}"
        return FakeResponse(
            error.status, json={"error": body}, headers={**headers, **error.headers}
        )

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> FakeResponse:
        """A Stripe error answer for ``status`` (type, code and message default to what Stripe
        sends for it), e.g. ``error_response(429, code="lock_timeout")``; for ``fail_next``."""
        default_type, default_code, default_message = _STATUS_ERRORS.get(
            status, ("api_error", None, "An unknown error occurred")
        )
        return self.render_error(
            FakeError(
                status,
                message or default_message,
                headers=headers,
                type=type or default_type,
                code=code if code is not None else default_code,
                param=param,
                **fields,
            )
        )

    def transient_error_response(self) -> FakeResponse:
        return self.error_response(500)

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        return self.error_response(400, message)

    def idempotency_conflict_response(self, key: str) -> FakeResponse:
        return self.render_error(
            FakeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        )

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.render_error(
            FakeError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). FakeStripe "
                "implements only part of the Stripe API: see runio_stripe.testing.",
            )
        )

    # -- auth ----------------------------------------------------------------------------------
    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        self._pending_request_id = None  # each request's events name its own Request-Id
        header = request.header("Authorization") or ""
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not key:
            return self.render_error(
                FakeError(
                    401,
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY').",
                )
            )
        if self.api_key is not None:
            accepted = key == self.api_key
        else:
            accepted = key.startswith(("sk_test_", "rk_test_")) and len(key) > len("sk_test_")
        if not accepted:
            found = re.fullmatch(r"([a-z]{2}_(?:test|live)_)(.*)", key)
            secret = found.group(2) if found else key
            masked = (found.group(1) if found else "") + (
                "*" * (len(secret) - 4) + secret[-4:] if len(secret) > 8 else "*" * len(secret)
            )
            return self.render_error(
                FakeError(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
            )
        account = request.header("Stripe-Account")
        if account is not None and not re.fullmatch(r"acct_\w+", account):
            return self.render_error(
                FakeError(
                    403,
                    f"The provided key '{key[:8]}****{key[-4:]}' does not have access to account "
                    f"'{account}' (or that account does not exist). Application access may have "
                    "been revoked.",
                    type="invalid_request_error",
                    code="account_invalid",
                )
            )
        return None

    # -- events --------------------------------------------------------------------------------
    def _emit(
        self,
        request: FakeRequest | None,
        type: str,
        obj: Mapping[str, Any],
        *,
        previous: Mapping[str, Any] | None = None,
        account: str | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """Make the event ``type`` about ``obj`` (as it is now), caused by ``request`` (None:
        by Stripe itself), store it, and (with ``deliver``) queue it for the enabled webhook
        endpoints of its account that listen to it. Returns the event."""
        if request is not None:
            account = self._account(request)
            if self._pending_request_id is None:
                self._pending_request_id = self.stripe_id("req", 14)
        event: dict[str, Any] = {
            "id": self.stripe_id("evt"),
            "object": "event",
            **({"account": account} if account else {}),
            "api_version": API_VERSION,
            "created": self.now(),
            "data": {
                "object": copy.deepcopy(dict(obj)),
                **({"previous_attributes": copy.deepcopy(dict(previous))} if previous else {}),
            },
            "livemode": False,
            "pending_webhooks": 0,
            "request": {
                "id": self._pending_request_id if request is not None else None,
                "idempotency_key": request.header("Idempotency-Key") if request else None,
            },
            "type": type,
        }
        endpoints = [
            endpoint
            for endpoint in self.webhook_endpoints.values()
            if deliver
            and endpoint["status"] == "enabled"
            and self._owner.get(endpoint["id"]) == account
            and (type in endpoint["enabled_events"] or "*" in endpoint["enabled_events"])
        ]
        event["pending_webhooks"] = len(endpoints)
        self._store_event(event, account)
        for endpoint in endpoints:
            self._outbox.put((event["id"], endpoint["id"]))
        return event

    def _emit_update(
        self,
        request: FakeRequest,
        type: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
    ) -> None:
        """``_emit`` an ``*.updated`` event whose ``previous_attributes`` are the fields that
        changed, as they were; nothing when nothing changed (as Stripe does)."""
        previous = {k: before.get(k) for k in after if before.get(k) != after[k]}
        if previous:
            self._emit(request, type, after, previous=previous)

    def _store_event(self, event: dict[str, Any], account: str | None) -> None:
        self.events[event["id"]] = event
        self._owner[event["id"]] = account
        self._sequence += 1
        self._order[event["id"]] = self._sequence

    def _deliver_queued(self, item: tuple[str, str]) -> None:
        """The outbox's sender: one event to one registered endpoint (if it still exists)."""
        event_id, endpoint_id = item
        with self.lock:
            endpoint = self.webhook_endpoints.get(endpoint_id)
            secret = self._endpoint_secrets.get(endpoint_id)
            event = copy.deepcopy(self.events[event_id])
        if endpoint is None or secret is None:
            return
        event["api_version"] = endpoint.get("api_version") or event["api_version"]
        self._deliver_event(event, endpoint["url"], secret, endpoint_id=endpoint_id)

    def _deliver_event(
        self,
        event: Mapping[str, Any],
        url: str,
        secret: str,
        *,
        endpoint_id: str | None = None,
        signature: Signature = "valid",
        signed_at: float | None = None,
        raise_errors: bool = False,
    ) -> httpx.Response | None:
        """Sign and POST one event to ``url``; record it in ``event_deliveries`` (and, through
        ``deliver_webhook``, in ``webhook_deliveries``). When the request fails: None, or the
        ``httpx`` error with ``raise_errors``."""
        timestamp = int(self.clock() if signed_at is None else signed_at)
        body, headers = signed_headers(event_body(event), secret, timestamp, signature)
        try:
            response = self.deliver_webhook(url, body, headers)
        except httpx.HTTPError as exc:
            failed = EventDelivery(
                event["id"], event["type"], url, endpoint_id, None, error=f"{exc!r}"
            )
            with self.lock:
                self.event_deliveries.append(failed)
            if raise_errors:
                raise
            return None
        try:
            answer: Any = response.json()
        except ValueError:
            answer = response.text
        with self.lock:
            self.event_deliveries.append(
                EventDelivery(
                    event["id"], event["type"], url, endpoint_id, response.status_code, answer
                )
            )
        return response

    def stop(self) -> None:
        """Send the events still queued for webhook endpoints, then stop the server."""
        self._outbox.close()
        super().stop()

    # -- the store -----------------------------------------------------------------------------
    def _account(self, request: FakeRequest) -> str | None:
        return request.header("Stripe-Account")

    def _params(self, request: FakeRequest, known: Iterable[str]) -> dict[str, Any]:
        if request.method == "POST":
            pairs = urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True)
        else:
            pairs = [(k, v) for k, values in request.query.items() for v in values]
        params = parse_form(pairs)
        if self.strict:
            check_known(params, known)
        return params

    def _add(
        self, request: FakeRequest, store: dict[str, dict[str, Any]], obj: dict[str, Any]
    ) -> None:
        store[obj["id"]] = obj
        self._owner[obj["id"]] = self._account(request)
        self._sequence += 1
        self._order[obj["id"]] = self._sequence

    def _get(
        self,
        request: FakeRequest,
        store: dict[str, dict[str, Any]],
        kind: str,
        object_id: Any,
        *,
        param: str | None = None,
    ) -> dict[str, Any]:
        """The object, if it exists for the request's account; a path id that does not gives
        404, a parameter that names one gives 400 (as Stripe does)."""
        obj = store.get(object_id) if isinstance(object_id, str) else None
        if obj is None or self._owner.get(object_id) != self._account(request):
            raise no_such(kind, object_id, param=param, status=400 if param else 404)
        return obj

    def _find(self, object_id: str) -> dict[str, Any] | None:
        prefix = object_id.split("_", 1)[0]
        kind = self._kinds.get(prefix)
        return kind[1].get(object_id) if kind else None

    def _expanded(
        self, request: FakeRequest, obj: dict[str, Any], paths: list[Any]
    ) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        for path in paths:
            if not isinstance(path, str):
                raise FakeError(400, "Invalid expand", param="expand")
            self._expand_path(request, out, path.split("."), path)
        return out

    def _expand_path(self, request: FakeRequest, node: Any, parts: list[str], full: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and isinstance(node.get("data"), list) and rest:
            for item in node["data"]:
                self._expand_path(request, item, rest, full)
            return
        if head not in node:
            raise FakeError(400, f"This property cannot be expanded ({full}).", param="expand")
        value = node[head]
        if isinstance(value, str):
            found = self._find(value)
            if found is None or self._owner.get(value) != self._account(request):
                raise FakeError(400, f"This property cannot be expanded ({full}).", param="expand")
            node[head] = value = copy.deepcopy(found)
        elif value is not None and not isinstance(value, dict):
            raise FakeError(400, f"This property cannot be expanded ({full}).", param="expand")
        if rest:
            self._expand_path(request, value, rest, full)

    def _retrieve(
        self, request: FakeRequest, store: dict[str, dict[str, Any]], kind: str
    ) -> FakeResponse:
        params = self._params(request, {"expand"})
        obj = self._get(request, store, kind, request.path_params["id"])
        return self.reply(self._expanded(request, obj, array_param(params, "expand")))

    def _list(
        self,
        request: FakeRequest,
        store: dict[str, dict[str, Any]],
        url: str,
        *,
        equal: str = "",
        filters: Mapping[str, Callable[[dict[str, Any], Any], bool]] | None = None,
        default: Callable[[dict[str, Any]], bool] | None = None,
    ) -> FakeResponse:
        """Newest first, ``limit`` (1-100, default 10), ``starting_after``/``ending_before``,
        ``created`` (an integer or ``{gt, gte, lt, lte}``) and the endpoint's filters: the
        fields named in ``equal`` (a parameter of the same name must equal them; ``true`` or
        ``false`` for a boolean), ``filters`` (parameter -> test of an object and its value),
        and ``default``, which objects to list when no filter is given."""
        filters = {**{name: _equals(name) for name in equal.split()}, **(filters or {})}
        params = self._params(request, LIST_PARAMS | set(filters))
        account = self._account(request)
        items = [o for o in store.values() if self._owner.get(o["id"]) == account]
        items.sort(key=lambda o: (o.get("created", 0), self._order.get(o["id"], 0)), reverse=True)
        for key, keep in filters.items():
            if key in params:
                items = [o for o in items if keep(o, params[key])]
        if default is not None and not any(k in params for k in filters):
            items = [o for o in items if default(o)]
        created = params.get("created")
        if isinstance(created, str):
            items = [o for o in items if o.get("created") == int_param(params, "created")]
        elif isinstance(created, dict):
            checks = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
            for op, check in checks.items():
                bound = int_param(created, op)
                if bound is not None:
                    items = [o for o in items if check(o.get("created", 0), bound)]
        limit = int_param(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise FakeError(
                400,
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
            )
        try:
            page = self.paginate(
                items,
                limit=limit,
                after=str_param(params, "starting_after"),
                before=str_param(params, "ending_before"),
            )
        except CursorNotFound as unknown:
            param = "starting_after" if unknown.direction == "after" else "ending_before"
            raise no_such("object", unknown.cursor, param=param, status=400) from None
        body = {"object": "list", "data": page.items, "has_more": page.has_more, "url": url}
        return self.reply(self._expanded(request, body, array_param(params, "expand")))

    # -- payment methods, shared by customers, payments and billing ---------------------------
    def _payment_method(self, reference: Any, param: str = "payment_method") -> str:
        if not isinstance(reference, str):
            raise FakeError(400, "Invalid payment method", param=param)
        if reference.startswith("pm_card_"):
            if test_card(reference) is None:
                raise no_such("PaymentMethod", reference, param=param, status=400)
            return self.stripe_id("pm")
        if reference.startswith(("pm_", "card_", "src_")):
            return reference
        raise no_such("PaymentMethod", reference, param=param, status=400)

    def _card_for(self, reference: str, *, param: str) -> Card:
        """The test card behind a token, payment method alias or saved card."""
        card = test_card(reference)
        if card is not None:
            return card
        if reference.startswith(("tok_", "pm_card_")):
            kind = "token" if reference.startswith("tok_") else "PaymentMethod"
            raise no_such(kind, reference, param=param, status=400)
        if reference.startswith(("card_", "pm_", "src_")):
            return self._saved_cards.get(reference, VISA)
        raise no_such("source", reference, param=param, status=400)

    def _has_payment_method(self, customer: Mapping[str, Any] | None) -> bool:
        if not customer:
            return False
        return bool(
            customer.get("default_source")
            or customer["invoice_settings"].get("default_payment_method")
            or self._customer_methods.get(customer["id"])
        )

    def _customer_card(self, customer: Mapping[str, Any]) -> tuple[str, Card]:
        reference = (
            customer["invoice_settings"].get("default_payment_method")
            or customer.get("default_source")
            or next(iter(self._customer_methods.get(customer["id"], [])), None)
        )
        assert isinstance(reference, str)
        return reference, self._saved_cards.get(reference, VISA)


def _equals(name: str) -> Callable[[dict[str, Any], Any], bool]:
    def keep(obj: dict[str, Any], value: Any) -> bool:
        field = obj.get(name)
        return bool(field == (value == "true") if isinstance(field, bool) else field == value)

    return keep
