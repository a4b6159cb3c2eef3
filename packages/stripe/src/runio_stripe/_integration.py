"""The Stripe integration: settings, the SDK client, error classification, and the task wrappers.

Each wrapper is one task of the run (``io.stripe.create_customer("key", email=...)``): Stripe's
own parameters pass through unchanged, every write carries the task's idempotency key (so a
retry after a crash or a dropped connection is applied once), and the answer is the API object
as JSON. The SDK's own retries stay off; runio's durable retries, driven by
``Stripe.classify_error``, are the only retry layer. The API key lives in memory only.

This module imports the ``stripe`` SDK; runio's core never does.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

try:
    import stripe
except ImportError as exc:  # pragma: no cover - the dependency is declared
    raise ImportError(
        "runio-stripe needs the Stripe SDK with its async extra: pip install 'stripe[async]>=16' "
        "(or reinstall runio-stripe)."
    ) from exc

from pydantic import BaseModel

import runio
from runio.errors import ConfigurationError, IntegrationSettingError
from runio.integrations import (
    WebhookDelivery,
    WebhookRegistration,
    WebhookRequest,
    WebhookTrigger,
    retry_after_seconds,
)

from . import _webhooks
from ._errors import StripeAPIError
from .events import (
    ChargeRefunded,
    ChargeSucceeded,
    CheckoutSessionCompleted,
    CustomerCreated,
    CustomerDeleted,
    CustomerUpdated,
    InvoicePaid,
    InvoicePaymentFailed,
    PaymentIntentPaymentFailed,
    PaymentIntentSucceeded,
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionUpdated,
)

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_LIST_MAX_ITEMS = 100
_PAGE_SIZE = 100  # Stripe's largest page

# Raw card and bank details are never recorded with a task, at any depth of the parameters.
_PAYMENT_DETAILS = ("number", "cvc", "account_number")

_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


# -- wrappers --------------------------------------------------------------------------------------


def _money(amount: Any, currency: Any) -> str | None:
    """``2000, "usd"`` -> ``"20.00 USD"`` (Stripe amounts are in the currency's minor unit)."""
    if amount is None:
        return None
    code = str(currency or "").lower()
    try:
        value = int(amount)
    except (TypeError, ValueError):
        return f"{amount} {code.upper()}".strip()
    if code in _ZERO_DECIMAL:
        text = f"{value}"
    elif code in _THREE_DECIMAL:
        text = f"{value / 1000:.3f}"
    else:
        text = f"{value / 100:.2f}"
    return f"{text} {code.upper()}".strip()


def _props(p: dict[str, Any], *pairs: tuple[str, Any]) -> list[runio.Property]:
    """Properties from (label, value) pairs, plus the Connect account when one is given; a
    pair whose value is ``None`` (a parameter the call did not give) is left out."""
    pairs += (("Account", p.get("stripe_account")),)
    return [runio.Property(label, str(value)) for label, value in pairs if value is not None]


def _prices(items: Any) -> str | None:
    if not isinstance(items, list | tuple):
        return None
    prices = [str(i.get("price")) for i in items if isinstance(i, Mapping) and i.get("price")]
    return ", ".join(prices) or None


def as_json(value: Any) -> Any:
    """An SDK answer as plain JSON: the response's own decoded body when the SDK kept it, else
    the object converted (``to_dict``)."""
    response = getattr(value, "last_response", None)
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return data
    if isinstance(value, stripe.StripeObject):
        return value.to_dict(recursive=True, for_json=True)
    return value


def _headers(error: stripe.StripeError) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (error.headers or {}).items()}


# -- the SDK's HTTP client -------------------------------------------------------------------------


class HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the encoded form as ``content=``.

    ``stripe.HTTPXClient`` passes the already encoded body as ``data=``, which httpx 0.28
    deprecates for raw text: every write would raise a ``DeprecationWarning`` (an error under
    ``-W error``, as in runio's test suite). The request on the wire is the same.
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, str | bytes):
            kwargs["content"] = data
        elif data:
            kwargs["data"] = data
        return args, kwargs


# -- the integration -------------------------------------------------------------------------------

# The SDK's HTTP client of each StripeClient, closed with it.
_HTTP_CLIENTS: weakref.WeakKeyDictionary[stripe.StripeClient, HTTPXClient] = (
    weakref.WeakKeyDictionary()
)


Client = stripe.StripeClient
Task = runio.Task
JSON = dict[str, Any]
Account = str | None  # a Connect account (acct_...) for one call


class Stripe(runio.Integration[stripe.StripeClient]):
    """Stripe: ``await io.stripe.create_customer("create-customer", email="ada@example.com")``.

    Settings (each an argument, else its environment variable): ``api_key``
    (``STRIPE_API_KEY``, required, secret), ``base_url`` (``STRIPE_API_BASE``, default
    ``https://api.stripe.com``; point it at ``runio_stripe.testing.FakeStripe`` in tests),
    ``stripe_account`` (``STRIPE_ACCOUNT``: a Connect account every call acts on unless the call
    gives its own ``stripe_account``), ``stripe_version`` (pin an API version) and ``timeout``
    (seconds per request, default 80).

    Every wrapper takes Stripe's own parameters by keyword (``metadata={...}``,
    ``items=[{"price": ...}]``), plus ``stripe_account=`` for Connect, and returns the API
    object as JSON. Writes carry the task's idempotency key; errors are classified by Stripe's
    rules (``Stripe-Should-Retry``, then the status).
    """

    namespace = "stripe"
    name = "Stripe"
    icon = "stripe"
    package = "runio-stripe"
    idempotency = "key"
    sdk_loggers = ("stripe",)

    api_key: str = runio.setting(
        env="STRIPE_API_KEY", help="Stripe secret or restricted key (sk_... or rk_...)"
    )
    base_url: str = runio.setting(
        env="STRIPE_API_BASE",
        default=DEFAULT_API_BASE,
        secret=False,
        help="API base URL (a FakeStripe's url in tests)",
    )
    stripe_account: str | None = runio.setting(
        env="STRIPE_ACCOUNT",
        secret=False,
        required=False,
        help="Connect account (acct_...) every call acts on by default",
    )
    stripe_version: str | None = runio.setting(
        secret=False, required=False, help="API version to pin (default: the SDK's)"
    )
    timeout: float = runio.setting(default=80.0, secret=False, help="seconds per request")
    webhook_secret: str | None = runio.setting(
        env="STRIPE_WEBHOOK_SECRET",
        required=False,
        help="signing secret of the webhook endpoint (whsec_...), to verify deliveries",
    )
    webhook_tolerance: float = runio.setting(
        default=_webhooks.DEFAULT_TOLERANCE,
        secret=False,
        help="seconds a webhook signature stays valid (default 300, as Stripe's SDK)",
    )

    webhook_help = (
        "In the Stripe Dashboard, open Developers > Webhooks (Workbench), add a destination "
        "(an endpoint URL) with this URL, select the events listed here, then reveal the "
        "endpoint's signing secret (whsec_...) and give it to the app as STRIPE_WEBHOOK_SECRET "
        "(or Stripe(webhook_secret=...)). `runio webhooks --register URL` does the same through "
        "the API (Stripe shows the new secret only then). Locally, `stripe listen --forward-to "
        "URL` forwards test events and prints the secret it signs them with."
    )

    # -- the SDK client ------------------------------------------------------------------------
    def create_client(self) -> stripe.StripeClient:
        """A ``StripeClient`` on the configured base URL, over httpx (its ``*_async`` methods,
        and the sync ones for sync ``run_task`` functions), with the SDK's retries off."""
        http = HTTPXClient(timeout=self.timeout, allow_sync_methods=True)
        client = stripe.StripeClient(
            self.api_key,
            base_addresses={"api": self.base_url.rstrip("/")},
            stripe_account=self.stripe_account,
            stripe_version=self.stripe_version,
            max_network_retries=0,  # runio is the only retry layer, and its retries are durable
            http_client=http,
        )
        _HTTP_CLIENTS[client] = http
        return client

    async def close_client(self, client: stripe.StripeClient) -> None:
        http = _HTTP_CLIENTS.pop(client, None)
        if http is not None:
            closing: Any = http  # the SDK leaves these two untyped
            await closing.close_async()
            closing.close()

    # -- errors --------------------------------------------------------------------------------
    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        """Stripe's rules: ``Stripe-Should-Retry`` decides when Stripe sends it; otherwise 409,
        429 (rate limits, lock timeouts) and 5xx are transient, retried at ``Retry-After`` when
        given, else with the backoff; other 4xx (400, 401, 402, 403, 404) are permanent, and so
        is an idempotency error. Connection errors are transient."""
        if isinstance(error, StripeAPIError):
            error = error.stripe_error
        if isinstance(error, stripe.IdempotencyError):
            return runio.ErrorDecision.fail()
        if isinstance(error, stripe.APIConnectionError):
            return runio.ErrorDecision.retry() if error.should_retry else None
        if isinstance(error, stripe.StripeError):
            status = error.http_status
            headers = _headers(error)
            should_retry = headers.get("stripe-should-retry", "").strip().lower()
            if should_retry == "false":
                return runio.ErrorDecision.fail()
            if should_retry == "true" or (
                status is not None and (status in (409, 429) or status >= 500)
            ):
                wait = retry_after_seconds(headers.get("retry-after"))
                return runio.ErrorDecision.retry_at(wait) if wait else runio.ErrorDecision.retry()
            if status is None:
                return None  # raised by the SDK itself, not an answer from Stripe
            return runio.ErrorDecision.fail()
        if isinstance(error, OSError):
            return runio.ErrorDecision.retry()
        return None

    def translate_error(self, error: Exception, task: runio.Task) -> Exception:
        """An error Stripe answered becomes a ``StripeAPIError`` whose message carries Stripe's
        message, type, code and request id (an idempotency error a ``StripeIdempotencyError``
        that explains it, naming the task's cache key), for ``io.stripe.run_task`` too;
        connection errors stay the SDK's."""
        if isinstance(error, stripe.StripeError) and error.http_status is not None:
            return StripeAPIError.from_stripe(error, cache_key=task.cache_key, run_id=task.run_id)
        return error

    def is_outcome_unknown(self, error: Exception) -> bool:
        """A connection that dropped after the request went out (the write may have been
        applied); not an error Stripe answered, nor a connection that was never made."""
        for current in _chain(error):
            if isinstance(current, StripeAPIError):
                return False
            if isinstance(current, stripe.APIConnectionError):
                cause = current.__cause__
                if isinstance(cause, Exception):
                    return super().is_outcome_unknown(cause)
                return True
        return super().is_outcome_unknown(error)

    # -- webhooks ------------------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery:
        """Check the ``Stripe-Signature`` of a delivery with ``webhook_secret`` (the SDK's
        verifier) and its timestamp against ``webhook_tolerance``, compared with when the
        request arrived; return the event (``evt_...`` id, ``type``, the event as sent)."""
        return _webhooks.verify(request, secret=self._signing_secret(), tolerance=self._tolerance())

    def register_webhook(self, url: str, events: Sequence[str]) -> WebhookRegistration:
        """Create a Stripe webhook endpoint sending ``events`` (``["invoice.paid", ...]``, or
        ``["*"]`` for all) to ``url`` (``POST /v1/webhook_endpoints``, with this instance's API
        key and Connect account), rendered in the SDK's API version. Returns it with its signing
        secret, which Stripe shows only now: give it to the app as ``STRIPE_WEBHOOK_SECRET``."""
        wanted = list(dict.fromkeys(events)) if not isinstance(events, str) else [events]
        if not wanted or not all(isinstance(e, str) and e.strip() for e in wanted):
            raise ConfigurationError(
                f"Stripe.register_webhook needs the event types to send, e.g. ['invoice.paid'] "
                f"(or ['*'] for every event); got {events!r}."
            )
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"Stripe.register_webhook needs the endpoint's http(s) URL, got {url!r}."
            )
        client = self.create_client()
        try:
            endpoint = client.v1.webhook_endpoints.create(
                {
                    "url": url,
                    "enabled_events": wanted,  # type: ignore[typeddict-item]
                    "api_version": self.stripe_version or stripe.api_version,  # type: ignore[typeddict-item]
                }
            )
        except stripe.StripeError as error:
            if error.http_status is None:
                raise
            raise StripeAPIError.from_stripe(error) from error
        finally:
            http = _HTTP_CLIENTS.pop(client, None)
            if http is not None:
                closing: Any = http
                closing.close()
        data = as_json(endpoint)
        return WebhookRegistration(
            id=str(data["id"]),
            url=str(data.get("url") or url),
            events=tuple(data.get("enabled_events") or wanted),
            secret=data.get("secret"),
        )

    def _signing_secret(self) -> str:
        secret: str = self.require_setting("webhook_secret")
        return secret

    def _tolerance(self) -> float:
        tolerance = self.webhook_tolerance
        if not tolerance > 0:
            raise IntegrationSettingError(
                f"Stripe(webhook_tolerance=...) must be a positive number of seconds (Stripe's "
                f"default is 300), got {tolerance!r}.",
                integration=self.id,
                setting="webhook_tolerance",
            )
        return tolerance

    # -- triggers ------------------------------------------------------------------------------
    def on_event(
        self,
        event_type: str,
        *,
        schema: type[BaseModel] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """A job trigger: the job runs for each ``event_type`` event (``"invoice.paid"``) Stripe
        delivers to this instance's endpoint (``/api/v1/webhooks/<id>``) whose event matches
        ``filter`` (over the event's JSON: ``{"data": {"object": {"currency": ["eur"]}}}``).
        The job receives the event as sent (a dict), or parsed by ``schema``
        (``runio_stripe.StripeEvent[...]`` or a model of your own)."""
        self._tolerance()
        return self.webhook_trigger(event_type, schema=schema, filter=filter)

    def on_customer_created(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.created``: the job receives a ``runio_stripe.events.CustomerCreated``."""
        return self.on_event("customer.created", schema=CustomerCreated, filter=filter)

    def on_customer_updated(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.updated`` (``data.previous_attributes``: what changed): the job receives a
        ``runio_stripe.events.CustomerUpdated``."""
        return self.on_event("customer.updated", schema=CustomerUpdated, filter=filter)

    def on_customer_deleted(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.deleted``: the job receives a ``runio_stripe.events.CustomerDeleted``."""
        return self.on_event("customer.deleted", schema=CustomerDeleted, filter=filter)

    def on_charge_succeeded(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``charge.succeeded``: the job receives a ``runio_stripe.events.ChargeSucceeded``."""
        return self.on_event("charge.succeeded", schema=ChargeSucceeded, filter=filter)

    def on_charge_refunded(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``charge.refunded``: the job receives a ``runio_stripe.events.ChargeRefunded``."""
        return self.on_event("charge.refunded", schema=ChargeRefunded, filter=filter)

    def on_payment_intent_succeeded(
        self, *, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """``payment_intent.succeeded``: the job receives a
        ``runio_stripe.events.PaymentIntentSucceeded``."""
        return self.on_event(
            "payment_intent.succeeded", schema=PaymentIntentSucceeded, filter=filter
        )

    def on_payment_intent_payment_failed(
        self, *, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """``payment_intent.payment_failed`` (``last_payment_error`` says why): the job receives a
        ``runio_stripe.events.PaymentIntentPaymentFailed``."""
        return self.on_event(
            "payment_intent.payment_failed", schema=PaymentIntentPaymentFailed, filter=filter
        )

    def on_checkout_session_completed(
        self, *, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """``checkout.session.completed``: the job receives a
        ``runio_stripe.events.CheckoutSessionCompleted``."""
        return self.on_event(
            "checkout.session.completed", schema=CheckoutSessionCompleted, filter=filter
        )

    def on_invoice_paid(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``invoice.paid``: the job receives a ``runio_stripe.events.InvoicePaid``."""
        return self.on_event("invoice.paid", schema=InvoicePaid, filter=filter)

    def on_invoice_payment_failed(
        self, *, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """``invoice.payment_failed``: the job receives a
        ``runio_stripe.events.InvoicePaymentFailed``."""
        return self.on_event("invoice.payment_failed", schema=InvoicePaymentFailed, filter=filter)

    def on_subscription_created(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.subscription.created``: the job receives a
        ``runio_stripe.events.SubscriptionCreated``."""
        return self.on_event(
            "customer.subscription.created", schema=SubscriptionCreated, filter=filter
        )

    def on_subscription_updated(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.subscription.updated`` (``data.previous_attributes``: what changed): the job
        receives a ``runio_stripe.events.SubscriptionUpdated``."""
        return self.on_event(
            "customer.subscription.updated", schema=SubscriptionUpdated, filter=filter
        )

    def on_subscription_deleted(self, *, filter: Mapping[str, Any] | None = None) -> WebhookTrigger:
        """``customer.subscription.deleted`` (the subscription ended): the job receives a
        ``runio_stripe.events.SubscriptionDeleted``."""
        return self.on_event(
            "customer.subscription.deleted", schema=SubscriptionDeleted, filter=filter
        )

    # -- helpers for wrappers ------------------------------------------------------------------
    def request_options(
        self, task: runio.Task | None, stripe_account: str | None = None
    ) -> stripe.RequestOptions:
        """The SDK's per-request options: the task's idempotency key (writes; ``task=None``
        for reads) and the Connect account."""
        options: stripe.RequestOptions = {}
        if task is not None:
            options["idempotency_key"] = self.idempotency_key(task)
        if stripe_account:
            options["stripe_account"] = stripe_account
        return options

    async def _send(
        self,
        task: Task,
        method: Callable[..., Awaitable[Any]],
        params: dict[str, Any] | None,
        stripe_account: Account,
        *,
        id: str | None = None,
        write: bool = True,
        label: str | None = "ID",
    ) -> JSON:
        """Call one SDK method with the caller's parameters as they are (a parameter newer than
        the SDK's types still works), the task's idempotency key on a write, and the Connect
        account; return the API object as JSON, its id shown as an output property."""
        options = self.request_options(task if write else None, stripe_account)
        pending = method(params, options) if id is None else method(id, params, options)
        data = as_json(await pending)
        if label and isinstance(data, dict) and isinstance(data.get("id"), str):
            task.output_properties.append(runio.Property(label, data["id"]))
        return data  # type: ignore[no-any-return]

    async def _list(
        self,
        task: runio.Task,
        method: Callable[..., Awaitable[Any]],
        url: str,
        params: dict[str, Any],
        max_items: int,
        stripe_account: str | None,
    ) -> dict[str, Any]:
        """Follow Stripe's cursor (``starting_after``) until ``max_items`` objects or the end."""
        if not isinstance(max_items, int) or max_items < 1:
            raise runio.errors.ConfigurationError(
                f"max_items must be a positive integer, got {max_items!r}."
            )
        page_size = int(params.pop("limit", None) or min(_PAGE_SIZE, max_items))
        data: list[Any] = []
        has_more = True
        while has_more and len(data) < max_items:
            page = await self._send(
                task,
                method,
                {**params, "limit": min(page_size, max_items - len(data))},
                stripe_account,
                write=False,
                label=None,
            )
            items = list(page.get("data") or [])
            data.extend(items)
            has_more = bool(page.get("has_more")) and bool(items)
            if has_more:
                params["starting_after"] = items[-1]["id"]
        task.output_properties.append(runio.Property("Objects", str(len(data))))
        return {"object": "list", "data": data, "has_more": has_more, "url": url}

    # -- customers -----------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Customer",
        effect="write",
        properties=lambda p: _props(p, ("Email", p.get("email")), ("Name", p.get("name"))),
        secret_params=_PAYMENT_DETAILS,
    )
    async def create_customer(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a customer (``POST /v1/customers``): ``email``, ``name``, ``metadata``... as
        Stripe names them. Returns the customer."""
        return await self._send(task, client.v1.customers.create_async, params, stripe_account)

    @runio.integration_task(
        name="Update Customer",
        effect="write",
        properties=lambda p: _props(
            p, ("Customer", p.get("id")), ("Email", p.get("email")), ("Name", p.get("name"))
        ),
        secret_params=_PAYMENT_DETAILS,
    )
    async def update_customer(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Update customer ``id`` (``POST /v1/customers/{id}``) with Stripe's parameters
        (``email``, ``metadata``...). Returns the customer."""
        return await self._send(
            task, client.v1.customers.update_async, params, stripe_account, id=id
        )

    @runio.integration_task(
        name="Retrieve Customer",
        effect="read",
        properties=lambda p: _props(p, ("Customer", p.get("id"))),
    )
    async def retrieve_customer(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Retrieve customer ``id`` (``GET /v1/customers/{id}``; ``expand=[...]`` works).
        Returns the customer (a deleted one has ``"deleted": true``)."""
        return await self._send(
            task, client.v1.customers.retrieve_async, params, stripe_account, id=id, write=False
        )

    @runio.integration_task(
        name="List Customers",
        effect="read",
        properties=lambda p: _props(
            p,
            ("Email", p.get("email")),
            ("Max items", p.get("max_items", DEFAULT_LIST_MAX_ITEMS)),
        ),
    )
    async def list_customers(
        self,
        client: Client,
        task: Task,
        /,
        *,
        max_items: int = DEFAULT_LIST_MAX_ITEMS,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """List customers, newest first (``GET /v1/customers``; filters such as ``email``,
        ``created``), following Stripe's pages until ``max_items`` customers (default 100) or
        the last one. Returns a list object: ``data`` holds the customers, and ``has_more`` says
        whether more exist beyond ``max_items``. ``limit`` is Stripe's page size."""
        return await self._list(
            task,
            client.v1.customers.list_async,
            "/v1/customers",
            params,
            max_items,
            stripe_account,
        )

    # -- payments ------------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Charge",
        effect="write",
        properties=lambda p: _props(
            p,
            ("Amount", _money(p.get("amount"), p.get("currency"))),
            ("Customer", p.get("customer")),
            ("Description", p.get("description")),
        ),
        secret_params=_PAYMENT_DETAILS,
    )
    async def create_charge(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a charge (``POST /v1/charges``): ``amount`` (in the currency's minor unit),
        ``currency``, ``source`` or ``customer``... Returns the charge. A declined card fails
        the task at once (402 ``card_error``)."""
        return await self._send(task, client.v1.charges.create_async, params, stripe_account)

    @runio.integration_task(
        name="Create Payment Intent",
        effect="write",
        properties=lambda p: _props(
            p,
            ("Amount", _money(p.get("amount"), p.get("currency"))),
            ("Customer", p.get("customer")),
        ),
        secret_params=_PAYMENT_DETAILS,
        redact=["client_secret"],
    )
    async def create_payment_intent(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a payment intent (``POST /v1/payment_intents``): ``amount``, ``currency``,
        ``customer``, ``payment_method``, ``confirm``... Returns the payment intent."""
        return await self._send(
            task, client.v1.payment_intents.create_async, params, stripe_account
        )

    @runio.integration_task(
        name="Confirm Payment Intent",
        effect="write",
        properties=lambda p: _props(
            p, ("Payment intent", p.get("id")), ("Payment method", p.get("payment_method"))
        ),
        secret_params=_PAYMENT_DETAILS,
        redact=["client_secret"],
    )
    async def confirm_payment_intent(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Confirm payment intent ``id`` (``POST /v1/payment_intents/{id}/confirm``), e.g. with
        ``payment_method``. Returns the payment intent (``status`` ``succeeded``,
        ``requires_action``...); a declined card fails the task (402)."""
        result = await self._send(
            task, client.v1.payment_intents.confirm_async, params, stripe_account, id=id, label=None
        )
        task.output_properties.append(runio.Property("Status", str(result.get("status"))))
        return result

    @runio.integration_task(
        name="Create Refund",
        effect="write",
        properties=lambda p: _props(
            p,
            ("Charge", p.get("charge")),
            ("Payment intent", p.get("payment_intent")),
            ("Amount", p.get("amount")),
        ),
    )
    async def create_refund(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Refund a charge (``POST /v1/refunds``): ``charge`` or ``payment_intent``, and
        ``amount`` for a partial refund. Returns the refund."""
        return await self._send(task, client.v1.refunds.create_async, params, stripe_account)

    # -- billing -------------------------------------------------------------------------------
    @runio.integration_task(
        name="Create Subscription",
        effect="write",
        properties=lambda p: _props(
            p, ("Customer", p.get("customer")), ("Prices", _prices(p.get("items")))
        ),
    )
    async def create_subscription(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a subscription (``POST /v1/subscriptions``): ``customer`` and
        ``items=[{"price": "price_..."}]``, ``trial_period_days``... Returns the subscription."""
        return await self._send(task, client.v1.subscriptions.create_async, params, stripe_account)

    @runio.integration_task(
        name="Retrieve Subscription",
        effect="read",
        properties=lambda p: _props(p, ("Subscription", p.get("id"))),
    )
    async def retrieve_subscription(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Retrieve subscription ``id`` (``GET /v1/subscriptions/{id}``; ``expand=[...]``
        works). Returns the subscription."""
        return await self._send(
            task, client.v1.subscriptions.retrieve_async, params, stripe_account, id=id, write=False
        )

    @runio.integration_task(
        name="Update Subscription",
        effect="write",
        properties=lambda p: _props(
            p, ("Subscription", p.get("id")), ("Prices", _prices(p.get("items")))
        ),
    )
    async def update_subscription(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Update subscription ``id`` (``POST /v1/subscriptions/{id}``): ``items``,
        ``cancel_at_period_end``, ``metadata``... Returns the subscription."""
        return await self._send(
            task, client.v1.subscriptions.update_async, params, stripe_account, id=id
        )

    @runio.integration_task(
        name="Cancel Subscription",
        effect="write",
        properties=lambda p: _props(p, ("Subscription", p.get("id"))),
    )
    async def cancel_subscription(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Cancel subscription ``id`` now (``DELETE /v1/subscriptions/{id}``; ``prorate``,
        ``invoice_now``, ``cancellation_details``). Returns the canceled subscription. After an
        attempt of unknown outcome it first looks the subscription up, so one that is already
        canceled is returned rather than refused."""
        return await self._send(
            task, client.v1.subscriptions.cancel_async, params, stripe_account, id=id, label=None
        )

    @cancel_subscription.find_previous
    async def _find_canceled_subscription(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON | None:
        found = await self._send(
            task, client.v1.subscriptions.retrieve_async, None, stripe_account, id=id, write=False
        )
        return found if found.get("status") == "canceled" else None

    @runio.integration_task(
        name="Create Invoice",
        effect="write",
        properties=lambda p: _props(p, ("Customer", p.get("customer"))),
    )
    async def create_invoice(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a draft invoice (``POST /v1/invoices``): ``customer``, ``collection_method``,
        ``days_until_due``, ``auto_advance``... Returns the invoice."""
        return await self._send(task, client.v1.invoices.create_async, params, stripe_account)

    @runio.integration_task(
        name="Create Product",
        effect="write",
        properties=lambda p: _props(p, ("Name", p.get("name"))),
    )
    async def create_product(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a product (``POST /v1/products``): ``name``, ``description``,
        ``default_price_data``... Returns the product."""
        return await self._send(task, client.v1.products.create_async, params, stripe_account)

    @runio.integration_task(
        name="Create Price",
        effect="write",
        properties=lambda p: _props(
            p,
            ("Product", p.get("product")),
            ("Amount", _money(p.get("unit_amount"), p.get("currency"))),
            ("Interval", (p.get("recurring") or {}).get("interval")),
        ),
    )
    async def create_price(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a price (``POST /v1/prices``): ``product`` (or ``product_data``),
        ``unit_amount``, ``currency``, ``recurring={"interval": "month"}``... Returns the
        price."""
        return await self._send(task, client.v1.prices.create_async, params, stripe_account)

    @runio.integration_task(
        name="Create Checkout Session",
        effect="write",
        properties=lambda p: _props(
            p,
            ("Mode", p.get("mode")),
            ("Customer", p.get("customer") or p.get("customer_email")),
        ),
    )
    async def create_checkout_session(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a Checkout session (``POST /v1/checkout/sessions``): ``mode``,
        ``line_items=[{"price": ..., "quantity": 1}]``, ``success_url``, ``customer``...
        Returns the session (send the customer to its ``url``)."""
        return await self._send(
            task, client.v1.checkout.sessions.create_async, params, stripe_account
        )

    # -- webhook endpoints ---------------------------------------------------------------------
    @runio.integration_task(
        name="Create Webhook Endpoint",
        effect="write",
        properties=lambda p: _props(p, ("URL", p.get("url"))),
        redact=["secret"],
    )
    async def create_webhook_endpoint(
        self, client: Client, task: Task, /, *, stripe_account: Account = None, **params: Any
    ) -> JSON:
        """Create a webhook endpoint (``POST /v1/webhook_endpoints``): ``url`` and
        ``enabled_events=["charge.succeeded", ...]``. Returns the endpoint, whose ``secret``
        (the signing secret, shown only here) is kept out of the dashboard; the stored output
        still holds it, so store it elsewhere if you need it and treat the run's output as
        sensitive."""
        return await self._send(
            task, client.v1.webhook_endpoints.create_async, params, stripe_account
        )

    @runio.integration_task(
        name="Update Webhook Endpoint",
        effect="write",
        properties=lambda p: _props(p, ("Endpoint", p.get("id")), ("URL", p.get("url"))),
    )
    async def update_webhook_endpoint(
        self,
        client: Client,
        task: Task,
        /,
        *,
        id: str,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """Update webhook endpoint ``id`` (``POST /v1/webhook_endpoints/{id}``): ``url``,
        ``enabled_events``, ``disabled``... Returns the endpoint."""
        return await self._send(
            task, client.v1.webhook_endpoints.update_async, params, stripe_account, id=id
        )

    @runio.integration_task(
        name="List Webhook Endpoints",
        effect="read",
        properties=lambda p: _props(p, ("Max items", p.get("max_items", DEFAULT_LIST_MAX_ITEMS))),
    )
    async def list_webhook_endpoints(
        self,
        client: Client,
        task: Task,
        /,
        *,
        max_items: int = DEFAULT_LIST_MAX_ITEMS,
        stripe_account: Account = None,
        **params: Any,
    ) -> JSON:
        """List webhook endpoints (``GET /v1/webhook_endpoints``), following Stripe's pages
        until ``max_items`` (default 100) or the last one. Returns a list object (``data``,
        ``has_more``)."""
        return await self._list(
            task,
            client.v1.webhook_endpoints.list_async,
            "/v1/webhook_endpoints",
            params,
            max_items,
            stripe_account,
        )


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
