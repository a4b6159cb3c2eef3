"""``FakeStripe``: the Stripe API as a local HTTP server, for this package's tests and for the
tests of apps that use it.

A real HTTP server on 127.0.0.1 (runio's ``FakeVendorServer``), so the official ``stripe`` SDK
talks to it unchanged: ``Stripe(api_key="sk_test_...", base_url=server.url)`` or
``stripe.StripeClient("sk_test_...", base_addresses={"api": server.url})``. It implements the
endpoints behind runio-stripe's wrappers (customers, charges, payment intents, refunds,
subscriptions, invoices, products, prices, Checkout sessions, webhook endpoints) with objects
shaped like Stripe's, and Stripe's conventions: form-encoded parameters (``metadata[key]=value``,
``items[0][price]=...``), unknown parameters refused, cursor pagination, ``expand``, the
``Stripe-Account`` header (objects belong to the account that made them), ``Idempotency-Key``
(the same key and parameters replay the first answer with ``Idempotent-Replayed: true``; other
parameters get a 400 ``idempotency_error``), Stripe's error bodies with a ``Request-Id`` header,
and test cards (``tok_visa``, ``pm_card_visa``, ``tok_chargeDeclined``,
``pm_card_chargeDeclinedInsufficientFunds``, ``pm_card_authenticationRequired``...).

Fault injection comes from the base (``fail_next``, ``drop_after_write``) with Stripe's error
shapes, plus ``hold_after_write``: apply the next write and hold its answer until released (a
client killed mid-request). It is a fake: no money moves, no webhooks are sent, and only the
parameters listed here are understood. This module does not touch runio-stripe's integration.
"""

from __future__ import annotations

import copy
import functools
import random
import re
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, route

__all__ = ["FakeStripe", "Hold", "parse_form"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ALNUM = string.ascii_letters + string.digits
_WRITES = frozenset({"POST", "DELETE"})
_DAY = 86_400
_INTERVAL_SECONDS = {"day": _DAY, "week": 7 * _DAY, "month": 30 * _DAY, "year": 365 * _DAY}
_LIST = _names("created ending_before expand limit starting_after")


# -- parameters -----------------------------------------------------------------------------------


def _key_parts(key: str) -> list[str]:
    """``items[0][price]`` -> ``["items", "0", "price"]``; ``expand[]`` -> ``["expand", ""]``."""
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts += rest[:-1].split("][") if rest.endswith("]") else [rest]
    return parts


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return value


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding as nested values: ``metadata[plan]=pro`` -> ``{"metadata":
    {"plan": "pro"}}``, ``items[0][price]=p`` -> ``{"items": [{"price": "p"}]}``; every leaf
    stays a string, as on the wire."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _key_parts(key)
        node = root
        for i, part in enumerate(parts):
            name = part if part else str(len(node))
            if i == len(parts) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise _Problem(400, f"Invalid array or hash: {key}", param=parts[0])
            node = child
    return {k: _listify(v) for k, v in root.items()}


class _Problem(Exception):
    """A Stripe error answer, raised inside a handler."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.extra = dict(extra or {})


def _missing(param: str) -> _Problem:
    return _Problem(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _no_such(kind: str, object_id: Any, *, param: str | None = None, status: int = 404) -> _Problem:
    return _Problem(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param or "id"
    )


def _int(params: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise _missing(key)
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Problem(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=key
        ) from None


def _bool(params: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise _Problem(400, f"Invalid boolean: {value}", param=key)


def _str(params: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise _missing(key)
        return None
    if not isinstance(value, str):
        raise _Problem(400, f"Invalid string: {value!r}", param=key)
    return value


def _hash(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _Problem(400, f"Invalid object: {key} must be a hash", param=key)
    return value


def _array(params: Mapping[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _Problem(400, f"Invalid array: {key}", param=key)
    return value


def _metadata(
    params: Mapping[str, Any], current: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Stripe's metadata update rules: keys merge, a key set to "" is removed, and
    ``metadata=""`` clears everything."""
    if params.get("metadata") == "":
        return {}
    merged = dict(current or {})
    for key, value in _hash(params, "metadata").items():
        if not isinstance(value, str):
            raise _Problem(400, "Invalid metadata value", param=f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise _Problem(400, "Metadata can have up to 50 keys.", param="metadata")
    return merged


def _check_known(params: Mapping[str, Any], known: Iterable[str]) -> None:
    allowed = set(known)
    for key in params:
        if key not in allowed:
            raise _Problem(
                400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key
            )


# -- cards ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    decline: tuple[str, str, str] | None = None  # (code, decline_code, message)
    authentication: bool = False


_VISA = _Card("visa", "4242")
_DECLINED = ("card_declined", "generic_decline", "Your card was declined.")
_CARDS: dict[str, _Card] = {
    "visa": _VISA,
    "visa_debit": _Card("visa", "5556", "debit"),
    "mastercard": _Card("mastercard", "4444"),
    "amex": _Card("amex", "8431"),
    "chargeDeclined": _Card("visa", "0002", decline=_DECLINED),
    "chargeDeclinedInsufficientFunds": _Card(
        "visa",
        "9995",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "visa_chargeDeclinedInsufficientFunds": _Card(
        "visa",
        "9995",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "chargeDeclinedExpiredCard": _Card(
        "visa", "0069", decline=("expired_card", "expired_card", "Your card has expired.")
    ),
    "authenticationRequired": _Card("visa", "3184", authentication=True),
    "threeDSecure2Required": _Card("visa", "3220", authentication=True),
}


def _test_card(reference: str) -> _Card | None:
    """The test card a ``tok_...``/``pm_card_...`` alias names; None when it names none."""
    for prefix in ("tok_", "pm_card_"):
        if reference.startswith(prefix):
            return _CARDS.get(reference.removeprefix(prefix))
    return None


# -- holds ----------------------------------------------------------------------------------------


@dataclass
class Hold:
    """``FakeStripe.hold_after_write()``'s handle: ``applied`` is set once the held write has
    taken effect (its answer not sent yet); ``release()`` lets the answer go."""

    method: str | None
    path: str | None
    timeout: float
    applied: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: FakeRequest | None = None

    def matches(self, request: FakeRequest) -> bool:
        return (self.method is None or request.method == self.method) and (
            self.path is None or re.fullmatch(self.path, request.path) is not None
        )

    def release(self) -> None:
        self.released.set()

    def wait_applied(self, timeout: float = 30.0) -> FakeRequest:
        """Block until the held write has been applied; return its request."""
        if not self.applied.wait(timeout):
            raise TimeoutError(f"no matching write reached the fake in {timeout:g} s")
        assert self.request is not None
        return self.request


# -- the server -----------------------------------------------------------------------------------

H = TypeVar("H", bound=Callable[..., Any])


def _endpoint(method: str, path: str) -> Callable[[H], H]:
    """A route whose handler may raise ``_Problem`` to answer with a Stripe error."""

    def mark(fn: H) -> H:
        @functools.wraps(fn)
        def handler(self: FakeStripe, request: FakeRequest) -> FakeResponse:
            try:
                return fn(self, request)  # type: ignore[no-any-return]
            except _Problem as problem:
                return self.error(problem)

        return route(method, path)(handler)  # type: ignore[return-value]

    return mark


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


class FakeStripe(FakeVendorServer):
    """The Stripe API (the parts runio-stripe wraps) as a local server; see the module doc.

    ``FakeStripe()`` accepts any test-mode key (``sk_test_...``, ``rk_test_...``);
    ``FakeStripe(api_key=...)`` accepts only that one. The objects it holds are in
    ``customers``, ``charges``, ``payment_intents``, ``refunds``, ``subscriptions``,
    ``invoices``, ``products``, ``prices``, ``checkout_sessions`` and ``webhook_endpoints``
    (dicts by id, of every account). ``strict=False`` accepts parameters it does not know.
    """

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
        self._deleted: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str | None] = {}  # object id -> Connect account (None: platform)
        self._order: dict[str, int] = {}  # object id -> creation sequence, for list order
        self._sequence = 0
        self._holds: list[Hold] = []
        self.request_ids: list[str] = []
        """Every ``Request-Id`` the fake has generated, in order (the last is the latest
        answer's, or the latest injected fault's)."""
        self._saved_cards: dict[str, _Card] = {}  # payment method or card id -> its test card
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
        }

    # -- ids, time, responses ------------------------------------------------------------------
    def stripe_id(self, prefix: str, length: int = 24) -> str:
        """A Stripe-looking id: ``cus_`` + 14 characters, ``pi_`` + 24..."""
        return prefix + "_" + "".join(self._random.choice(_ALNUM) for _ in range(length))

    def now(self) -> int:
        return int(self.clock())

    def reply(
        self, obj: Any, status: int = 200, request: FakeRequest | None = None
    ) -> FakeResponse:
        """A JSON answer with Stripe's headers; a write's answer may be held (see
        ``hold_after_write``)."""
        response = FakeResponse(status, json=copy.deepcopy(obj), headers=self._headers())
        if request is not None and request.method in _WRITES and status < 400:
            self._hold_if_asked(request)
        return response

    def _headers(self) -> dict[str, str]:
        request_id = self.stripe_id("req", 14)
        self.request_ids.append(request_id)
        return {"Request-Id": request_id, "Stripe-Version": "2025-01-27.acacia"}

    def error(self, problem: _Problem) -> FakeResponse:
        """Stripe's error body (``{"error": {"type", "code", "message", "param"...}}``)."""
        body: dict[str, Any] = {"type": problem.type, "message": problem.message}
        if problem.code:
            body["code"] = problem.code
            body["doc_url"] = (
                f"https://stripe.com/docs/error-codes/{problem.code.replace('_', '-')}"
            )
        if problem.param:
            body["param"] = problem.param
        body.update(problem.extra)
        headers = self._headers()
        body["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{headers['Request-Id']}"
        return FakeResponse(problem.status, json={"error": body}, headers=headers)

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        """A Stripe error answer for ``status`` (type, code and message default to what Stripe
        sends for it), e.g. ``error_response(429, code="lock_timeout")``; for ``fail_next``."""
        default_type, default_code, default_message = _STATUS_ERRORS.get(
            status, ("api_error", None, "An unknown error occurred")
        )
        response = self.error(
            _Problem(
                status,
                message or default_message,
                type=type or default_type,
                code=code if code is not None else default_code,
                param=param,
            )
        )
        response.headers.update(headers or {})
        return response

    # -- fault injection -----------------------------------------------------------------------
    def fail_next(
        self,
        status: int | FakeResponse = 500,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with ``status`` (a Stripe error body with a
        ``Request-Id``, unless ``json`` gives the body) and ``headers`` (``Retry-After``,
        ``Stripe-Should-Retry``...), without applying them. ``method``/``path`` (a regular
        expression) pick the calls; by default every call counts."""
        if isinstance(status, int):
            response = self.error_response(status, headers=headers)
            if json is not None:
                response.json = json
            status = response
        super().fail_next(status, times=times, method=method, path=path)

    def hold_after_write(
        self, *, method: str | None = None, path: str | None = None, timeout: float = 60.0
    ) -> Hold:
        """Apply the next successful write matching ``method``/``path`` (a regular expression),
        then hold its answer until ``hold.release()`` (or ``timeout`` seconds): the client sees
        a request in flight although Stripe has already done it, and can be killed right there.
        While held, the fake answers nothing else (its handlers run one at a time)."""
        hold = Hold(method and method.upper(), path, timeout)
        with self.lock:
            self._holds.append(hold)
        return hold

    def _hold_if_asked(self, request: FakeRequest) -> None:
        hold = next((h for h in self._holds if h.matches(request)), None)
        if hold is None:
            return
        self._holds.remove(hold)
        hold.request = request
        hold.applied.set()
        hold.released.wait(hold.timeout)

    def rate_limit_response(self, retry_after: float, *, now: float) -> FakeResponse:
        return self.error_response(429, headers={"Retry-After": str(int(retry_after))})

    def transient_error_response(self) -> FakeResponse:
        return self.error_response(500)

    def permanent_error_response(self, message: str = "Invalid request") -> FakeResponse:
        return self.error_response(400, message)

    def idempotency_conflict_response(self, key: str) -> FakeResponse:
        return self.error(
            _Problem(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        )

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.error(
            _Problem(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). FakeStripe "
                "implements only part of the Stripe API: see runio_stripe.testing.",
            )
        )

    # -- auth ----------------------------------------------------------------------------------
    def check_auth(self, request: FakeRequest) -> FakeResponse | None:
        header = request.header("Authorization") or ""
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not key:
            return self.error(
                _Problem(
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
            return self.error(
                _Problem(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
            )
        account = request.header("Stripe-Account")
        if account is not None and not re.fullmatch(r"acct_\w+", account):
            return self.error(
                _Problem(
                    403,
                    f"The provided key '{key[:8]}****{key[-4:]}' does not have access to account "
                    f"'{account}' (or that account does not exist). Application access may have "
                    "been revoked.",
                    type="invalid_request_error",
                    code="account_invalid",
                )
            )
        return None

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
            _check_known(params, known)
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
            raise _no_such(kind, object_id, param=param, status=400 if param else 404)
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
                raise _Problem(400, "Invalid expand", param="expand")
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
            raise _Problem(400, f"This property cannot be expanded ({full}).", param="expand")
        value = node[head]
        if isinstance(value, str):
            found = self._find(value)
            if found is None or self._owner.get(value) != self._account(request):
                raise _Problem(400, f"This property cannot be expanded ({full}).", param="expand")
            node[head] = value = copy.deepcopy(found)
        elif value is not None and not isinstance(value, dict):
            raise _Problem(400, f"This property cannot be expanded ({full}).", param="expand")
        if rest:
            self._expand_path(request, value, rest, full)

    def _retrieve(
        self, request: FakeRequest, store: dict[str, dict[str, Any]], kind: str
    ) -> FakeResponse:
        params = self._params(request, {"expand"})
        obj = self._get(request, store, kind, request.path_params["id"])
        return self.reply(self._expanded(request, obj, _array(params, "expand")))

    def _list(
        self,
        request: FakeRequest,
        store: dict[str, dict[str, Any]],
        url: str,
        filters: Mapping[str, Callable[[dict[str, Any], Any], bool]] | None = None,
        default: Callable[[dict[str, Any]], bool] | None = None,
    ) -> FakeResponse:
        """Newest first, ``limit`` (1-100, default 10), ``starting_after``/``ending_before``,
        ``created`` (an integer or ``{gt, gte, lt, lte}``) and the endpoint's ``filters``."""
        filters = dict(filters or {})
        params = self._params(request, _LIST | set(filters))
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
            items = [o for o in items if o.get("created") == _int(params, "created")]
        elif isinstance(created, dict):
            bounds = {op: _int(created, op) for op in ("gt", "gte", "lt", "lte")}
            checks = {
                "gt": lambda a, b: a > b,
                "gte": lambda a, b: a >= b,
                "lt": lambda a, b: a < b,
                "lte": lambda a, b: a <= b,
            }
            for op, bound in bounds.items():
                if bound is not None:
                    items = [o for o in items if checks[op](o.get("created", 0), bound)]
        limit = _int(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise _Problem(
                400,
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
            )
        ids = [o["id"] for o in items]
        after, before = _str(params, "starting_after"), _str(params, "ending_before")
        if after is not None:
            if after not in ids:
                raise _no_such("object", after, param="starting_after", status=400)
            page = items[ids.index(after) + 1 :]
            data, has_more = page[:limit], len(page) > limit
        elif before is not None:
            if before not in ids:
                raise _no_such("object", before, param="ending_before", status=400)
            page = items[: ids.index(before)]
            data, has_more = page[-limit:], len(page) > limit
        else:
            data, has_more = items[:limit], len(items) > limit
        body = {"object": "list", "data": data, "has_more": has_more, "url": url}
        return self.reply(self._expanded(request, body, _array(params, "expand")))

    # -- customers -----------------------------------------------------------------------------
    _CUSTOMER_FIELDS = _names(
        "address balance business_name cash_balance description email expand "
        "individual_name invoice_prefix invoice_settings metadata name "
        "next_invoice_sequence phone preferred_locales shipping source tax tax_exempt "
        "validate"
    )

    def _apply_customer(self, customer: dict[str, Any], params: dict[str, Any]) -> None:
        for key in (
            "description",
            "email",
            "name",
            "phone",
            "invoice_prefix",
            "business_name",
            "individual_name",
        ):
            if key in params:
                customer[key] = _str(params, key)
        if "address" in params:
            customer["address"] = _address(_hash(params, "address")) if params["address"] else None
        if "shipping" in params:
            shipping = _hash(params, "shipping")
            customer["shipping"] = (
                {
                    "address": _address(_hash(shipping, "address")),
                    "name": shipping.get("name"),
                    "phone": shipping.get("phone"),
                }
                if shipping
                else None
            )
        if "balance" in params:
            customer["balance"] = _int(params, "balance") or 0
        if "preferred_locales" in params:
            customer["preferred_locales"] = _array(params, "preferred_locales")
        if "tax_exempt" in params:
            customer["tax_exempt"] = _str(params, "tax_exempt") or "none"
        if "next_invoice_sequence" in params:
            customer["next_invoice_sequence"] = _int(params, "next_invoice_sequence")
        settings = _hash(params, "invoice_settings")
        if "default_payment_method" in settings:
            customer["invoice_settings"]["default_payment_method"] = (
                self._payment_method(settings["default_payment_method"])
                if settings["default_payment_method"]
                else None
            )
        if "footer" in settings:
            customer["invoice_settings"]["footer"] = settings["footer"] or None
        source = _str(params, "source")
        if source is not None:
            self._card_for(source, param="source")
            customer["default_source"] = self.stripe_id("card")
        customer["metadata"] = _metadata(params, customer["metadata"])

    def _payment_method(self, reference: Any, param: str = "payment_method") -> str:
        if not isinstance(reference, str):
            raise _Problem(400, "Invalid payment method", param=param)
        if reference.startswith("pm_card_"):
            if _test_card(reference) is None:
                raise _no_such("PaymentMethod", reference, param=param, status=400)
            return self.stripe_id("pm")
        if reference.startswith(("pm_", "card_", "src_")):
            return reference
        raise _no_such("PaymentMethod", reference, param=param, status=400)

    def _card_for(self, reference: str, *, param: str) -> _Card:
        """The test card behind a token, payment method alias or saved card."""
        card = _test_card(reference)
        if card is not None:
            return card
        if reference.startswith(("tok_", "pm_card_")):
            kind = "token" if reference.startswith("tok_") else "PaymentMethod"
            raise _no_such(kind, reference, param=param, status=400)
        if reference.startswith(("card_", "pm_", "src_")):
            return self._saved_cards.get(reference, _VISA)
        raise _no_such("source", reference, param=param, status=400)

    @_endpoint("POST", "/v1/customers")
    def create_customer(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request, self._CUSTOMER_FIELDS | {"payment_method", "tax_id_data", "test_clock"}
        )
        customer: dict[str, Any] = {
            "id": self.stripe_id("cus", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "invoice_prefix": "".join(self._random.choice("0123456789ABCDEF") for _ in range(8)),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {},
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self._apply_customer(customer, params)
        if params.get("payment_method"):
            pm = self._payment_method(params["payment_method"])
            self._saved_cards[pm] = self._card_for(
                str(params["payment_method"]), param="payment_method"
            )
            self._customer_methods[customer["id"]] = [pm]
        self._add(request, self.customers, customer)
        return self.reply(customer, request=request)

    @_endpoint("GET", "/v1/customers/{id}")
    def retrieve_customer(self, request: FakeRequest) -> FakeResponse:
        deleted = self._deleted.get(request.path_params["id"])
        if deleted is not None and self._owner.get(deleted["id"]) == self._account(request):
            return self.reply(deleted)
        params = self._params(request, {"expand"})
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        return self.reply(self._expanded(request, customer, _array(params, "expand")))

    @_endpoint("POST", "/v1/customers/{id}")
    def update_customer(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, self._CUSTOMER_FIELDS | {"default_source"})
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        self._apply_customer(customer, params)
        if "default_source" in params:
            customer["default_source"] = _str(params, "default_source")
        return self.reply(customer, request=request)

    @_endpoint("DELETE", "/v1/customers/{id}")
    def delete_customer(self, request: FakeRequest) -> FakeResponse:
        self._params(request, set())
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        del self.customers[customer["id"]]
        gone = {"id": customer["id"], "object": "customer", "deleted": True}
        self._deleted[customer["id"]] = gone
        return self.reply(gone, request=request)

    @_endpoint("GET", "/v1/customers")
    def list_customers(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.customers,
            "/v1/customers",
            {"email": lambda o, v: o.get("email") == v, "test_clock": lambda o, v: True},
        )

    def _has_payment_method(self, customer: Mapping[str, Any] | None) -> bool:
        if not customer:
            return False
        return bool(
            customer.get("default_source")
            or customer["invoice_settings"].get("default_payment_method")
            or self._customer_methods.get(customer["id"])
        )

    def _customer_card(self, customer: Mapping[str, Any]) -> tuple[str, _Card]:
        reference = (
            customer["invoice_settings"].get("default_payment_method")
            or customer.get("default_source")
            or next(iter(self._customer_methods.get(customer["id"], [])), None)
        )
        assert isinstance(reference, str)
        return reference, self._saved_cards.get(reference, _VISA)

    # -- charges -------------------------------------------------------------------------------
    def _new_charge(
        self,
        request: FakeRequest,
        *,
        amount: int,
        currency: str,
        card: _Card,
        payment_method: str,
        customer: str | None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        payment_intent: str | None = None,
        capture: bool = True,
        receipt_email: str | None = None,
    ) -> dict[str, Any]:
        charge_id = self.stripe_id("ch")
        failed = card.decline is not None
        charge: dict[str, Any] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if capture and not failed else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None if failed else self.stripe_id("txn"),
            "billing_details": {
                "address": _address({}),
                "email": None,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            "calculated_statement_descriptor": "RUNIO FAKESTRIPE",
            "captured": capture and not failed,
            "created": self.now(),
            "currency": currency,
            "customer": customer,
            "description": description,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": card.decline[0] if card.decline else None,
            "failure_message": card.decline[2] if card.decline else None,
            "fraud_details": {},
            "livemode": False,
            "metadata": metadata or {},
            "on_behalf_of": None,
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "declined_by_network" if failed else "approved_by_network",
                "reason": card.decline[1] if card.decline else None,
                "risk_level": "normal",
                "risk_score": self._random.randint(0, 60),
                "seller_message": (
                    "The bank did not return any further details with this decline."
                    if failed
                    else "Payment complete."
                ),
                "type": "issuer_declined" if failed else "authorized",
            },
            "paid": not failed,
            "payment_intent": payment_intent,
            "payment_method": payment_method,
            "payment_method_details": {
                "card": {
                    "amount_authorized": None if failed else amount,
                    "brand": card.brand,
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "pass",
                    },
                    "country": card.country,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "fingerprint": "".join(self._random.choice(_ALNUM) for _ in range(16)),
                    "funding": card.funding,
                    "installments": None,
                    "last4": card.last4,
                    "mandate": None,
                    "network": card.brand,
                    "three_d_secure": None,
                    "wallet": None,
                },
                "type": "card",
            },
            "receipt_email": receipt_email,
            "receipt_number": None,
            "receipt_url": f"{self.url}/receipts/payment/{charge_id}",
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "failed" if failed else ("succeeded" if capture else "pending"),
            "transfer_data": None,
            "transfer_group": None,
        }
        if not capture and not failed:
            charge["status"] = "succeeded"  # authorised, to be captured: Stripe says succeeded
        self._add(request, self.charges, charge)
        return charge

    def _decline(self, card: _Card, charge: dict[str, Any], **extra: Any) -> _Problem:
        assert card.decline is not None
        code, decline_code, message = card.decline
        return _Problem(
            402,
            message,
            type="card_error",
            code=code,
            extra={"decline_code": decline_code, "charge": charge["id"], **extra},
        )

    @_endpoint("POST", "/v1/charges")
    def create_charge(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "amount application_fee application_fee_amount capture currency customer "
                "description destination expand metadata on_behalf_of radar_options "
                "receipt_email shipping source statement_descriptor statement_descriptor_suffix "
                "transfer_data transfer_group"
            ),
        )
        amount = _amount(params, "amount")
        currency = _currency(params)
        customer_id = _str(params, "customer")
        customer = (
            self._get(request, self.customers, "customer", customer_id, param="customer")
            if customer_id
            else None
        )
        source = _str(params, "source")
        if source is not None:
            card, method = self._card_for(source, param="source"), self.stripe_id("card")
        elif customer is not None and self._has_payment_method(customer):
            method, card = self._customer_card(customer)
        elif customer is not None:
            raise _Problem(
                402,
                "Cannot charge a customer that has no active card",
                type="card_error",
                code="missing",
                param="card",
            )
        else:
            raise _Problem(
                400, "Must provide source or customer.", code="parameter_missing", param="source"
            )
        charge = self._new_charge(
            request,
            amount=amount,
            currency=currency,
            card=card,
            payment_method=method,
            customer=customer_id,
            description=_str(params, "description"),
            metadata=_metadata(params),
            capture=_bool(params, "capture", True),
            receipt_email=_str(params, "receipt_email"),
        )
        if card.decline:
            raise self._decline(card, charge)
        return self.reply(charge, request=request)

    @_endpoint("GET", "/v1/charges/{id}")
    def retrieve_charge(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.charges, "charge")

    @_endpoint("GET", "/v1/charges")
    def list_charges(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.charges,
            "/v1/charges",
            {
                "customer": lambda o, v: o.get("customer") == v,
                "payment_intent": lambda o, v: o.get("payment_intent") == v,
            },
        )

    # -- payment intents -----------------------------------------------------------------------
    _CONFIRM_FIELDS = _names(
        "amount_details capture_method confirmation_token error_on_requires_action "
        "excluded_payment_method_types expand hooks mandate mandate_data off_session "
        "payment_details payment_method payment_method_data payment_method_options "
        "payment_method_types radar_options receipt_email return_url setup_future_usage "
        "shipping use_stripe_sdk"
    )

    @_endpoint("POST", "/v1/payment_intents")
    def create_payment_intent(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            self._CONFIRM_FIELDS
            | _names(
                "amount application_fee_amount automatic_payment_methods confirm "
                "confirmation_method currency customer customer_account description metadata "
                "on_behalf_of payment_method_configuration statement_descriptor "
                "statement_descriptor_suffix transfer_data transfer_group"
            ),
        )
        amount = _amount(params, "amount")
        currency = _currency(params)
        customer_id = _str(params, "customer")
        if customer_id:
            self._get(request, self.customers, "customer", customer_id, param="customer")
        types = _array(params, "payment_method_types")
        automatic = _hash(params, "automatic_payment_methods")
        intent_id = self.stripe_id("pi")
        method = params.get("payment_method")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": _int(params, "application_fee_amount"),
            "automatic_payment_methods": (
                None
                if types
                else {
                    "allow_redirects": automatic.get("allow_redirects", "always"),
                    "enabled": _bool(automatic, "enabled", True),
                }
            ),
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": _str(params, "capture_method") or "automatic_async",
            "client_secret": f"{intent_id}_secret_"
            + "".join(self._random.choice(_ALNUM) for _ in range(25)),
            "confirmation_method": _str(params, "confirmation_method") or "automatic",
            "created": self.now(),
            "currency": currency,
            "customer": customer_id,
            "description": _str(params, "description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "on_behalf_of": _str(params, "on_behalf_of"),
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": types or ["card"],
            "processing": None,
            "receipt_email": _str(params, "receipt_email"),
            "review": None,
            "setup_future_usage": _str(params, "setup_future_usage"),
            "shipping": None,
            "source": None,
            "statement_descriptor": _str(params, "statement_descriptor"),
            "statement_descriptor_suffix": _str(params, "statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": _str(params, "transfer_group"),
        }
        if method:
            intent["payment_method"] = self._payment_method(method)
            self._saved_cards[intent["payment_method"]] = self._card_for(
                str(method), param="payment_method"
            )
            intent["status"] = "requires_confirmation"
        self._add(request, self.payment_intents, intent)
        if _bool(params, "confirm"):
            self._confirm(request, intent, {})
        return self.reply(intent, request=request)

    def _confirm(
        self, request: FakeRequest, intent: dict[str, Any], params: dict[str, Any]
    ) -> None:
        status = intent["status"]
        if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise _Problem(
                400,
                f"You cannot confirm this PaymentIntent because it has a status of {status}. "
                "Only a PaymentIntent with one of the following statuses may be confirmed: "
                "requires_confirmation, requires_payment_method, requires_action.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": copy.deepcopy(intent)},
            )
        if params.get("payment_method"):
            reference = str(params["payment_method"])
            intent["payment_method"] = self._payment_method(reference)
            self._saved_cards[intent["payment_method"]] = self._card_for(
                reference, param="payment_method"
            )
        if intent["payment_method"] is None and intent["customer"]:
            customer = self.customers.get(intent["customer"])
            if customer is not None and self._has_payment_method(customer):
                intent["payment_method"] = self._customer_card(customer)[0]
        if intent["payment_method"] is None:
            raise _Problem(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with cus_..., specify a payment method attached "
                "to this customer along with the customer ID.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": copy.deepcopy(intent)},
            )
        if "capture_method" in params:
            intent["capture_method"] = _str(params, "capture_method")
        if "receipt_email" in params:
            intent["receipt_email"] = _str(params, "receipt_email")
        card = self._saved_cards.get(intent["payment_method"], _VISA)
        if card.authentication and status != "requires_action":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            return
        manual = intent["capture_method"] == "manual"
        charge = self._new_charge(
            request,
            amount=intent["amount"],
            currency=intent["currency"],
            card=card,
            payment_method=intent["payment_method"],
            customer=intent["customer"],
            description=intent["description"],
            metadata=dict(intent["metadata"]),
            payment_intent=intent["id"],
            capture=not manual,
            receipt_email=intent["receipt_email"],
        )
        intent["latest_charge"] = charge["id"]
        intent["next_action"] = None
        if card.decline:
            code, decline_code, message = card.decline
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "charge": charge["id"],
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "payment_method": {"id": intent["payment_method"], "object": "payment_method"},
                "type": "card_error",
            }
            intent["payment_method"] = None
            raise self._decline(card, charge, payment_intent=copy.deepcopy(intent))
        intent["last_payment_error"] = None
        if manual:
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]

    @_endpoint("POST", "/v1/payment_intents/{id}/confirm")
    def confirm_payment_intent(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, self._CONFIRM_FIELDS)
        intent = self._get(
            request, self.payment_intents, "payment_intent", request.path_params["id"]
        )
        self._confirm(request, intent, params)
        return self.reply(intent, request=request)

    @_endpoint("GET", "/v1/payment_intents/{id}")
    def retrieve_payment_intent(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.payment_intents, "payment_intent")

    @_endpoint("GET", "/v1/payment_intents")
    def list_payment_intents(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.payment_intents,
            "/v1/payment_intents",
            {"customer": lambda o, v: o.get("customer") == v},
        )

    # -- refunds -------------------------------------------------------------------------------
    @_endpoint("POST", "/v1/refunds")
    def create_refund(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "amount charge currency customer expand instructions_email metadata origin "
                "payment_intent reason refund_application_fee reverse_transfer"
            ),
        )
        charge_id, intent_id = _str(params, "charge"), _str(params, "payment_intent")
        if intent_id:
            intent = self._get(
                request, self.payment_intents, "payment_intent", intent_id, param="payment_intent"
            )
            if intent["latest_charge"] is None or intent["status"] != "succeeded":
                raise _Problem(
                    400,
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge_id = intent["latest_charge"]
        if not charge_id:
            raise _Problem(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        charge = self._get(request, self.charges, "charge", charge_id, param="charge")
        if charge["status"] == "failed":
            raise _Problem(
                400,
                f"Charge {charge_id} has failed and cannot be refunded.",
                code="charge_not_refundable",
                param="charge",
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _Problem(
                400,
                f"Charge {charge_id} has already been refunded.",
                code="charge_already_refunded",
                param="charge",
            )
        amount = _int(params, "amount")
        amount = remaining if amount is None else amount
        if amount <= 0:
            raise _Problem(400, "Invalid positive integer", param="amount")
        if amount > remaining:
            raise _Problem(
                400,
                f"Refund amount ({_display(amount, charge['currency'])}) is greater than "
                f"unrefunded amount on charge ({_display(remaining, charge['currency'])})",
                param="amount",
            )
        reason = _str(params, "reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise _Problem(
                400,
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        refund: dict[str, Any] = {
            "id": self.stripe_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": self.stripe_id("txn"),
            "charge": charge_id,
            "created": self.now(),
            "currency": charge["currency"],
            "destination_details": {
                "card": {
                    "reference": "".join(self._random.choice(string.digits) for _ in range(23)),
                    "reference_status": "available",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "metadata": _metadata(params),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        self._add(request, self.refunds, refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        charge["refunds"]["total_count"] += 1
        return self.reply(refund, request=request)

    @_endpoint("GET", "/v1/refunds/{id}")
    def retrieve_refund(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.refunds, "refund")

    @_endpoint("GET", "/v1/refunds")
    def list_refunds(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.refunds,
            "/v1/refunds",
            {
                "charge": lambda o, v: o.get("charge") == v,
                "payment_intent": lambda o, v: o.get("payment_intent") == v,
            },
        )

    # -- products and prices -------------------------------------------------------------------
    def _new_product(self, request: FakeRequest, params: dict[str, Any]) -> dict[str, Any]:
        name = _str(params, "name", required=True)
        product_id = _str(params, "id") or self.stripe_id("prod", 14)
        if product_id in self.products:
            raise _Problem(
                400, "Product already exists.", code="resource_already_exists", param="id"
            )
        now = self.now()
        product: dict[str, Any] = {
            "id": product_id,
            "object": "product",
            "active": _bool(params, "active", True),
            "created": now,
            "default_price": None,
            "description": _str(params, "description"),
            "images": _array(params, "images"),
            "livemode": False,
            "marketing_features": [
                {"name": f.get("name")}
                for f in _array(params, "marketing_features")
                if isinstance(f, dict)
            ],
            "metadata": _metadata(params),
            "name": name,
            "package_dimensions": None,
            "shippable": _bool(params, "shippable") if "shippable" in params else None,
            "statement_descriptor": _str(params, "statement_descriptor"),
            "tax_code": _str(params, "tax_code"),
            "type": "service",
            "unit_label": _str(params, "unit_label"),
            "updated": now,
            "url": _str(params, "url"),
        }
        self._add(request, self.products, product)
        return product

    @_endpoint("POST", "/v1/products")
    def create_product(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "active default_price_data description expand id images marketing_features "
                "metadata name package_dimensions shippable statement_descriptor tax_code "
                "tax_details type unit_label url"
            ),
        )
        product = self._new_product(request, params)
        price_data = _hash(params, "default_price_data")
        if price_data:
            price = self._new_price(request, {**price_data, "product": product["id"]})
            product["default_price"] = price["id"]
        return self.reply(product, request=request)

    @_endpoint("GET", "/v1/products/{id}")
    def retrieve_product(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.products, "product")

    @_endpoint("GET", "/v1/products")
    def list_products(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.products,
            "/v1/products",
            {"active": lambda o, v: o.get("active") == (v == "true")},
        )

    def _new_price(self, request: FakeRequest, params: dict[str, Any]) -> dict[str, Any]:
        currency = _currency(params)
        product_data = _hash(params, "product_data")
        if product_data:
            product_id = self._new_product(request, product_data)["id"]
        else:
            product_id = _str(params, "product", required=True)
            self._get(request, self.products, "product", product_id, param="product")
        unit_amount = _int(params, "unit_amount")
        decimal = _str(params, "unit_amount_decimal")
        if unit_amount is None and decimal is not None:
            unit_amount = int(float(decimal))
        custom = _hash(params, "custom_unit_amount")
        if unit_amount is None and not custom and "tiers" not in params:
            raise _Problem(
                400,
                "You must pass either `unit_amount`, `unit_amount_decimal`, `tiers` or "
                "`custom_unit_amount`.",
                code="parameter_missing",
                param="unit_amount",
            )
        if unit_amount is not None and unit_amount < 0:
            raise _Problem(400, "Invalid non-negative integer", param="unit_amount")
        recurring = _hash(params, "recurring")
        if recurring:
            interval = recurring.get("interval")
            if interval not in _INTERVAL_SECONDS:
                raise _Problem(
                    400,
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                    param="recurring[interval]",
                )
        price: dict[str, Any] = {
            "id": self.stripe_id("price"),
            "object": "price",
            "active": _bool(params, "active", True),
            "billing_scheme": _str(params, "billing_scheme") or "per_unit",
            "created": self.now(),
            "currency": currency,
            "custom_unit_amount": (
                {
                    "maximum": _int(custom, "maximum"),
                    "minimum": _int(custom, "minimum"),
                    "preset": _int(custom, "preset"),
                }
                if custom
                else None
            ),
            "livemode": False,
            "lookup_key": _str(params, "lookup_key"),
            "metadata": _metadata(params),
            "nickname": _str(params, "nickname"),
            "product": product_id,
            "recurring": (
                {
                    "interval": recurring["interval"],
                    "interval_count": _int(recurring, "interval_count") or 1,
                    "meter": recurring.get("meter"),
                    "trial_period_days": _int(recurring, "trial_period_days"),
                    "usage_type": recurring.get("usage_type") or "licensed",
                }
                if recurring
                else None
            ),
            "tax_behavior": _str(params, "tax_behavior") or "unspecified",
            "tiers_mode": _str(params, "tiers_mode"),
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        }
        self._add(request, self.prices, price)
        return price

    @_endpoint("POST", "/v1/prices")
    def create_price(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "active billing_scheme currency currency_options custom_unit_amount expand "
                "lookup_key metadata nickname product product_data recurring tax_behavior tiers "
                "tiers_mode transfer_lookup_key transform_quantity unit_amount "
                "unit_amount_decimal"
            ),
        )
        return self.reply(self._new_price(request, params), request=request)

    @_endpoint("GET", "/v1/prices/{id}")
    def retrieve_price(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.prices, "price")

    @_endpoint("GET", "/v1/prices")
    def list_prices(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.prices,
            "/v1/prices",
            {
                "product": lambda o, v: o.get("product") == v,
                "active": lambda o, v: o.get("active") == (v == "true"),
                "type": lambda o, v: o.get("type") == v,
            },
        )

    # -- subscriptions -------------------------------------------------------------------------
    def _recurring_price(self, request: FakeRequest, price_id: Any, param: str) -> dict[str, Any]:
        price = self._get(request, self.prices, "price", price_id, param=param)
        if price["type"] != "recurring":
            raise _Problem(
                400,
                "The price specified is set to `type=one_time` but this field only accepts "
                "prices with `type=recurring`.",
                param=param,
            )
        return price

    def _item(
        self,
        request: FakeRequest,
        subscription_id: str,
        price: dict[str, Any],
        quantity: int,
        start: int,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        recurring = price["recurring"]
        period = _INTERVAL_SECONDS[recurring["interval"]] * recurring["interval_count"]
        return {
            "id": self.stripe_id("si", 14),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": self.now(),
            "current_period_end": start + period,
            "current_period_start": start,
            "discounts": [],
            "metadata": metadata or {},
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": subscription_id,
            "tax_rates": [],
        }

    def _items_list(self, subscription: dict[str, Any], items: list[dict[str, Any]]) -> None:
        subscription["items"] = {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={subscription['id']}",
        }

    def _new_invoice(
        self,
        request: FakeRequest,
        customer: dict[str, Any],
        *,
        params: Mapping[str, Any] | None = None,
        subscription: dict[str, Any] | None = None,
        amount: int = 0,
        currency: str | None = None,
    ) -> dict[str, Any]:
        params = params or {}
        now = self.now()
        invoice_id = self.stripe_id("in")
        collection = _str(params, "collection_method") or "charge_automatically"
        if collection not in ("charge_automatically", "send_invoice"):
            raise _Problem(400, "Invalid collection_method", param="collection_method")
        days = _int(params, "days_until_due")
        due = _int(params, "due_date")
        if collection == "send_invoice" and days is None and due is None:
            raise _missing("days_until_due")
        lines: list[dict[str, Any]] = []
        if subscription is not None:
            for item in subscription["items"]["data"]:
                line_amount = (item["price"]["unit_amount"] or 0) * item["quantity"]
                lines.append(
                    {
                        "id": self.stripe_id("il"),
                        "object": "line_item",
                        "amount": line_amount,
                        "currency": item["price"]["currency"],
                        "description": f"{item['quantity']} × {item['price']['product']}",
                        "discount_amounts": [],
                        "discountable": True,
                        "discounts": [],
                        "invoice": invoice_id,
                        "livemode": False,
                        "metadata": {},
                        "period": {
                            "end": item["current_period_end"],
                            "start": item["current_period_start"],
                        },
                        "pricing": {
                            "price_details": {
                                "price": item["price"]["id"],
                                "product": item["price"]["product"],
                            },
                            "type": "price_details",
                            "unit_amount_decimal": item["price"]["unit_amount_decimal"],
                        },
                        "quantity": item["quantity"],
                        "subscription": subscription["id"],
                        "taxes": [],
                    }
                )
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "FakeStripe",
            "account_tax_ids": None,
            "amount_due": amount,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": amount,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": _bool(params, "auto_advance", subscription is not None),
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": "subscription_create" if subscription is not None else "manual",
            "collection_method": collection,
            "created": now,
            "currency": currency or _str(params, "currency") or customer.get("currency") or "usd",
            "custom_fields": None,
            "customer": customer["id"],
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": customer.get("phone"),
            "customer_shipping": customer.get("shipping"),
            "customer_tax_exempt": customer.get("tax_exempt", "none"),
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": _str(params, "description"),
            "discounts": [],
            "due_date": (
                due if due is not None else (now + days * _DAY if days is not None else None)
            ),
            "effective_at": None,
            "ending_balance": None,
            "footer": _str(params, "footer"),
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": _metadata(params),
            "next_payment_attempt": None,
            "number": None,
            "on_behalf_of": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": {},
                        "subscription": subscription["id"],
                    },
                    "type": "subscription_details",
                }
                if subscription is not None
                else None
            ),
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": now,
            "period_start": now,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": _str(params, "statement_descriptor"),
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "test_clock": None,
            "total": amount,
            "total_discount_amounts": [],
            "total_excluding_tax": amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
        }
        self._add(request, self.invoices, invoice)
        return invoice

    def _finalize(self, invoice: dict[str, Any], *, paid: bool) -> None:
        now = self.now()
        customer = self.customers.get(invoice["customer"]) or {}
        sequence = customer.get("next_invoice_sequence") or 1
        invoice["number"] = f"{customer.get('invoice_prefix', 'FAKE')}-{sequence:04d}"
        if customer:
            customer["next_invoice_sequence"] = sequence + 1
        invoice["status_transitions"]["finalized_at"] = now
        invoice["effective_at"] = now
        invoice["hosted_invoice_url"] = f"{self.url}/invoices/{invoice['id']}"
        invoice["invoice_pdf"] = f"{self.url}/invoices/{invoice['id']}/pdf"
        invoice["ending_balance"] = 0
        if paid:
            invoice["status"] = "paid"
            invoice["amount_paid"] = invoice["amount_due"]
            invoice["amount_remaining"] = 0
            invoice["attempted"] = invoice["amount_due"] > 0
            invoice["attempt_count"] = 1 if invoice["amount_due"] > 0 else 0
            invoice["status_transitions"]["paid_at"] = now
        else:
            invoice["status"] = "open"

    _SUBSCRIPTION_FIELDS = _names(
        "add_invoice_items application_fee_percent automatic_tax billing_cycle_anchor "
        "billing_mode billing_thresholds cancel_at cancel_at_period_end "
        "collection_method days_until_due default_payment_method default_source "
        "default_tax_rates description discounts expand invoice_settings items metadata "
        "off_session on_behalf_of payment_behavior payment_settings "
        "pending_invoice_item_interval proration_behavior transfer_data trial_end "
        "trial_from_plan trial_settings"
    )

    @_endpoint("POST", "/v1/subscriptions")
    def create_subscription(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            self._SUBSCRIPTION_FIELDS
            | _names(
                "backdate_start_date billing_cycle_anchor_config currency customer "
                "customer_account trial_period_days"
            ),
        )
        customer_id = _str(params, "customer", required=True)
        customer = self._get(request, self.customers, "customer", customer_id, param="customer")
        wanted = _array(params, "items")
        if not wanted:
            raise _missing("items")
        now = self.now()
        subscription_id = self.stripe_id("sub")
        items = []
        for i, item in enumerate(wanted):
            if not isinstance(item, dict) or not item.get("price"):
                raise _missing(f"items[{i}][price]")
            price = self._recurring_price(request, item["price"], f"items[{i}][price]")
            quantity = _int(item, "quantity") or 1
            items.append(
                self._item(request, subscription_id, price, quantity, now, _metadata(item))
            )
        currencies = {item["price"]["currency"] for item in items}
        if len(currencies) > 1:
            raise _Problem(
                400, "All prices on a subscription must have the same currency.", param="items"
            )
        trial_days = _int(params, "trial_period_days")
        trial_end = _int(params, "trial_end") if params.get("trial_end") != "now" else now
        if trial_end is None and trial_days:
            trial_end = now + trial_days * _DAY
        default_method = params.get("default_payment_method")
        subscription: dict[str, Any] = {
            "id": subscription_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": trial_end or now,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"type": "classic"},
            "billing_thresholds": None,
            "cancel_at": _int(params, "cancel_at"),
            "cancel_at_period_end": _bool(params, "cancel_at_period_end"),
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": _str(params, "collection_method") or "charge_automatically",
            "created": now,
            "currency": currencies.pop(),
            "customer": customer_id,
            "days_until_due": _int(params, "days_until_due"),
            "default_payment_method": (
                self._payment_method(default_method, "default_payment_method")
                if default_method
                else None
            ),
            "default_source": _str(params, "default_source"),
            "default_tax_rates": [],
            "description": _str(params, "description"),
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "latest_invoice": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "active",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": now if trial_end else None,
        }
        self._items_list(subscription, items)
        trialing = trial_end is not None and trial_end > now
        amount = (
            0 if trialing else sum((i["price"]["unit_amount"] or 0) * i["quantity"] for i in items)
        )
        if (
            subscription["collection_method"] == "send_invoice"
            and subscription["days_until_due"] is None
        ):
            raise _missing("days_until_due")
        invoice = self._new_invoice(
            request,
            customer,
            params={
                "collection_method": subscription["collection_method"],
                "days_until_due": subscription["days_until_due"],
            },
            subscription=subscription,
            amount=amount,
            currency=subscription["currency"],
        )
        can_pay = (
            amount == 0
            or subscription["default_payment_method"] is not None
            or subscription["default_source"] is not None
            or self._has_payment_method(customer)
        )
        if subscription["collection_method"] == "send_invoice":
            self._finalize(invoice, paid=amount == 0)
            status = "active"
        elif can_pay:
            self._finalize(invoice, paid=True)
            status = "trialing" if trialing else "active"
        else:  # payment_behavior=allow_incomplete (the default): the first payment is pending
            self._finalize(invoice, paid=False)
            status = "incomplete"
        subscription["status"] = status
        subscription["latest_invoice"] = invoice["id"]
        self._add(request, self.subscriptions, subscription)
        return self.reply(subscription, request=request)

    @_endpoint("GET", "/v1/subscriptions/{id}")
    def retrieve_subscription(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.subscriptions, "subscription")

    @_endpoint("POST", "/v1/subscriptions/{id}")
    def update_subscription(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            self._SUBSCRIPTION_FIELDS
            | {"cancellation_details", "pause_collection", "proration_date"},
        )
        subscription = self._get(
            request, self.subscriptions, "subscription", request.path_params["id"]
        )
        if subscription["status"] == "canceled" and set(params) - {
            "metadata",
            "cancellation_details",
            "expand",
        }:
            raise _Problem(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        items = list(subscription["items"]["data"])
        for i, change in enumerate(_array(params, "items")):
            if not isinstance(change, dict):
                raise _Problem(400, "Invalid items", param=f"items[{i}]")
            if change.get("id"):
                current = next((x for x in items if x["id"] == change["id"]), None)
                if current is None:
                    raise _no_such(
                        "subscription_item", change["id"], param=f"items[{i}][id]", status=400
                    )
                if _bool(change, "deleted"):
                    items.remove(current)
                    continue
                if change.get("price"):
                    price = self._recurring_price(request, change["price"], f"items[{i}][price]")
                    current["price"] = copy.deepcopy(price)
                if "quantity" in change:
                    current["quantity"] = _int(change, "quantity")
                current["metadata"] = _metadata(change, current["metadata"])
            elif change.get("price"):
                price = self._recurring_price(request, change["price"], f"items[{i}][price]")
                start = items[0]["current_period_start"] if items else self.now()
                items.append(
                    self._item(
                        request,
                        subscription["id"],
                        price,
                        _int(change, "quantity") or 1,
                        start,
                        _metadata(change),
                    )
                )
            else:
                raise _missing(f"items[{i}][price]")
        if not items:
            raise _Problem(400, "A subscription must have at least one active plan.", param="items")
        self._items_list(subscription, items)
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = _bool(params, "cancel_at_period_end")
            subscription["cancel_at"] = (
                items[0]["current_period_end"] if subscription["cancel_at_period_end"] else None
            )
        if "cancel_at" in params:
            subscription["cancel_at"] = _int(params, "cancel_at")
        for key in ("description", "default_source", "collection_method"):
            if key in params:
                subscription[key] = _str(params, key)
        if "default_payment_method" in params:
            subscription["default_payment_method"] = (
                self._payment_method(params["default_payment_method"], "default_payment_method")
                if params["default_payment_method"]
                else None
            )
        if "days_until_due" in params:
            subscription["days_until_due"] = _int(params, "days_until_due")
        details = _hash(params, "cancellation_details")
        for key in ("comment", "feedback"):
            if key in details:
                subscription["cancellation_details"][key] = details[key] or None
        if "pause_collection" in params:
            pause = _hash(params, "pause_collection")
            subscription["pause_collection"] = (
                {"behavior": pause.get("behavior"), "resumes_at": _int(pause, "resumes_at")}
                if pause
                else None
            )
        subscription["metadata"] = _metadata(params, subscription["metadata"])
        return self.reply(subscription, request=request)

    @_endpoint("DELETE", "/v1/subscriptions/{id}")
    def cancel_subscription(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, _names("cancellation_details expand invoice_now prorate"))
        subscription = self._get(
            request, self.subscriptions, "subscription", request.path_params["id"]
        )
        if subscription["status"] == "canceled":
            raise _Problem(
                400,
                f"This subscription ({subscription['id']}) has already been canceled.",
                code="resource_missing",
            )
        now = self.now()
        subscription["status"] = "canceled"
        subscription["canceled_at"] = now
        subscription["ended_at"] = now
        details = _hash(params, "cancellation_details")
        subscription["cancellation_details"] = {
            "comment": details.get("comment") or None,
            "feedback": details.get("feedback") or None,
            "reason": "cancellation_requested",
        }
        return self.reply(subscription, request=request)

    @_endpoint("GET", "/v1/subscriptions")
    def list_subscriptions(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.subscriptions,
            "/v1/subscriptions",
            {
                "customer": lambda o, v: o.get("customer") == v,
                "price": lambda o, v: any(i["price"]["id"] == v for i in o["items"]["data"]),
                "status": lambda o, v: v == "all" or o.get("status") == v,
            },
            default=lambda o: o.get("status") != "canceled",
        )

    # -- invoices ------------------------------------------------------------------------------
    @_endpoint("POST", "/v1/invoices")
    def create_invoice(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "account_tax_ids application_fee_amount auto_advance automatic_tax "
                "automatically_finalizes_at collection_method currency custom_fields customer "
                "customer_account days_until_due default_payment_method default_source "
                "default_tax_rates description discounts due_date effective_at expand footer "
                "from_invoice issuer metadata number on_behalf_of payment_settings "
                "pending_invoice_items_behavior rendering shipping_cost shipping_details "
                "statement_descriptor subscription transfer_data"
            ),
        )
        customer_id = _str(params, "customer", required=True)
        customer = self._get(request, self.customers, "customer", customer_id, param="customer")
        invoice = self._new_invoice(request, customer, params=params)
        return self.reply(invoice, request=request)

    @_endpoint("GET", "/v1/invoices/{id}")
    def retrieve_invoice(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.invoices, "invoice")

    @_endpoint("GET", "/v1/invoices")
    def list_invoices(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.invoices,
            "/v1/invoices",
            {
                "customer": lambda o, v: o.get("customer") == v,
                "status": lambda o, v: o.get("status") == v,
                "subscription": lambda o, v: (
                    (o.get("parent") or {}).get("subscription_details", {}).get("subscription") == v
                ),
            },
        )

    # -- Checkout ------------------------------------------------------------------------------
    @_endpoint("POST", "/v1/checkout/sessions")
    def create_checkout_session(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names(
                "adaptive_pricing after_expiration allow_promotion_codes automatic_tax "
                "billing_address_collection branding_settings cancel_url client_reference_id "
                "consent_collection currency custom_fields custom_text customer "
                "customer_account customer_creation customer_email customer_update discounts "
                "excluded_payment_method_types expand expires_at invoice_creation line_items "
                "locale metadata mode name_collection optional_items origin_context "
                "payment_intent_data payment_method_collection payment_method_configuration "
                "payment_method_data payment_method_options payment_method_types permissions "
                "phone_number_collection redirect_on_completion return_url "
                "saved_payment_method_options setup_intent_data shipping_address_collection "
                "shipping_options submit_type subscription_data success_url tax_id_collection "
                "ui_mode wallet_options"
            ),
        )
        mode = _str(params, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise _Problem(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        customer_id = _str(params, "customer")
        customer = (
            self._get(request, self.customers, "customer", customer_id, param="customer")
            if customer_id
            else None
        )
        if customer_id and params.get("customer_email"):
            raise _Problem(
                400,
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        line_items = _array(params, "line_items")
        if mode != "setup" and not line_items:
            raise _Problem(
                400,
                f"`line_items` is required in `{mode}` mode.",
                code="parameter_missing",
                param="line_items",
            )
        subtotal, currency = 0, _str(params, "currency")
        for i, line in enumerate(line_items):
            if not isinstance(line, dict) or not line.get("price"):
                raise _missing(f"line_items[{i}][price]")
            price = self._get(
                request, self.prices, "price", line["price"], param=f"line_items[{i}][price]"
            )
            if mode == "payment" and price["type"] == "recurring":
                raise _Problem(
                    400,
                    "You specified `payment` mode but passed a recurring price. Either switch to "
                    "`subscription` mode or use only one-time prices.",
                    param=f"line_items[{i}][price]",
                )
            if mode == "subscription" and price["type"] != "recurring":
                pass  # one-time prices are added to the first invoice
            quantity = _int(line, "quantity")
            if quantity is None:
                raise _missing(f"line_items[{i}][quantity]")
            subtotal += (price["unit_amount"] or 0) * quantity
            currency = currency or price["currency"]
        now = self.now()
        session_id = "cs_test_" + "".join(self._random.choice(_ALNUM) for _ in range(58))
        email = _str(params, "customer_email")
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "adaptive_pricing": {"enabled": False},
            "after_expiration": None,
            "allow_promotion_codes": (
                _bool(params, "allow_promotion_codes")
                if "allow_promotion_codes" in params
                else None
            ),
            "amount_subtotal": subtotal if mode != "setup" else None,
            "amount_total": subtotal if mode != "setup" else None,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": _str(params, "billing_address_collection"),
            "cancel_url": _str(params, "cancel_url"),
            "client_reference_id": _str(params, "client_reference_id"),
            "client_secret": None,
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": now,
            "currency": currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer_id,
            "customer_creation": None if customer else "if_required",
            "customer_details": (
                {
                    "address": None,
                    "email": email or (customer or {}).get("email"),
                    "name": None,
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": None,
                }
                if (email or customer)
                else None
            ),
            "customer_email": email,
            "discounts": [],
            "expires_at": _int(params, "expires_at") or now + _DAY,
            "invoice": None,
            "invoice_creation": (
                {"enabled": False, "invoice_data": None} if mode == "payment" else None
            ),
            "livemode": False,
            "locale": _str(params, "locale"),
            "metadata": _metadata(params),
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "always" if mode != "payment" else "if_required",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": _array(params, "payment_method_types") or ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": _str(params, "submit_type"),
            "subscription": None,
            "success_url": _str(params, "success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": _str(params, "ui_mode") or "hosted",
            "url": f"{self.url}/c/pay/{session_id}",
            "wallet_options": None,
        }
        self._add(request, self.checkout_sessions, session)
        return self.reply(session, request=request)

    @_endpoint("GET", "/v1/checkout/sessions/{id}")
    def retrieve_checkout_session(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.checkout_sessions, "checkout.session")

    @_endpoint("GET", "/v1/checkout/sessions")
    def list_checkout_sessions(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.checkout_sessions,
            "/v1/checkout/sessions",
            {
                "customer": lambda o, v: o.get("customer") == v,
                "status": lambda o, v: o.get("status") == v,
            },
        )

    # -- webhook endpoints ---------------------------------------------------------------------
    def _events(self, params: Mapping[str, Any], required: bool) -> list[str] | None:
        events = _array(params, "enabled_events")
        if not events:
            if required:
                raise _missing("enabled_events")
            return None
        for i, name in enumerate(events):
            if not isinstance(name, str) or not re.fullmatch(r"\*|[a-z_]+(\.[a-z_]+)+", name):
                raise _Problem(400, f"Invalid event type: {name}", param=f"enabled_events[{i}]")
        return events

    @staticmethod
    def _url(params: Mapping[str, Any], required: bool) -> str | None:
        url = _str(params, "url", required=required)
        if url is not None and not re.match(r"https?://[^/\s]+", url):
            raise _Problem(
                400,
                "Invalid URL: URL must be a valid http or https URL",
                param="url",
                code="url_invalid",
            )
        return url

    @_endpoint("POST", "/v1/webhook_endpoints")
    def create_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            _names("api_version connect description enabled_events expand metadata url"),
        )
        endpoint: dict[str, Any] = {
            "id": self.stripe_id("we"),
            "object": "webhook_endpoint",
            "api_version": _str(params, "api_version"),
            "application": None,
            "created": self.now(),
            "description": _str(params, "description"),
            "enabled_events": self._events(params, required=True),
            "livemode": False,
            "metadata": _metadata(params),
            "status": "enabled",
            "url": self._url(params, required=True),
        }
        self._add(request, self.webhook_endpoints, endpoint)
        secret = "whsec_" + "".join(self._random.choice(_ALNUM) for _ in range(32))
        self._endpoint_secrets[endpoint["id"]] = secret
        return self.reply({**endpoint, "secret": secret}, request=request)

    @_endpoint("GET", "/v1/webhook_endpoints/{id}")
    def retrieve_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        self._params(request, {"expand"})
        endpoint = self._get(
            request, self.webhook_endpoints, "webhook_endpoint", request.path_params["id"]
        )
        return self.reply(endpoint)

    @_endpoint("POST", "/v1/webhook_endpoints/{id}")
    def update_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request, _names("description disabled enabled_events expand metadata url")
        )
        endpoint = self._get(
            request, self.webhook_endpoints, "webhook_endpoint", request.path_params["id"]
        )
        events = self._events(params, required=False)
        if events is not None:
            endpoint["enabled_events"] = events
        url = self._url(params, required=False)
        if url is not None:
            endpoint["url"] = url
        if "description" in params:
            endpoint["description"] = _str(params, "description")
        if "disabled" in params:
            endpoint["status"] = "disabled" if _bool(params, "disabled") else "enabled"
        endpoint["metadata"] = _metadata(params, endpoint["metadata"])
        return self.reply(endpoint, request=request)

    @_endpoint("DELETE", "/v1/webhook_endpoints/{id}")
    def delete_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        self._params(request, set())
        endpoint = self._get(
            request, self.webhook_endpoints, "webhook_endpoint", request.path_params["id"]
        )
        del self.webhook_endpoints[endpoint["id"]]
        return self.reply(
            {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}, request=request
        )

    @_endpoint("GET", "/v1/webhook_endpoints")
    def list_webhook_endpoints(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.webhook_endpoints, "/v1/webhook_endpoints")


# -- small helpers --------------------------------------------------------------------------------


def _address(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: data.get(key) or None
        for key in ("city", "country", "line1", "line2", "postal_code", "state")
    }


def _amount(params: Mapping[str, Any], key: str) -> int:
    amount = _int(params, key, required=True)
    assert amount is not None
    if amount < 1:
        raise _Problem(
            400,
            "Amount must be at least 1 (in the currency's smallest unit).",
            code="amount_too_small",
            param=key,
        )
    if amount > 99_999_999:
        raise _Problem(
            400, "Amount must be no more than $999,999.99", code="amount_too_large", param=key
        )
    return amount


def _currency(params: Mapping[str, Any]) -> str:
    currency = _str(params, "currency", required=True)
    assert currency is not None
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise _Problem(400, f"Invalid currency: {currency.lower()}.", param="currency")
    return currency.lower()


def _display(amount: int, currency: str) -> str:
    return f"${amount / 100:,.2f}" if currency == "usd" else f"{amount} {currency}"


_ENVIRONMENT = {"STRIPE_API_BASE": "{url}", "STRIPE_API_KEY": "sk_test_123"}
"""What points runio-stripe (``Stripe()``) at a FakeStripe served on its own."""

if __name__ == "__main__":  # python -m runio_stripe.testing --port 12111
    from runio.testing import serve_fake

    serve_fake(FakeStripe, prog="python -m runio_stripe.testing", environment=_ENVIRONMENT)
