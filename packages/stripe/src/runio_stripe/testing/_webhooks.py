"""Webhook endpoints and events in FakeStripe: ``/v1/webhook_endpoints`` (each with its
``whsec_`` signing secret), ``/v1/events``, and the test methods that send events to a URL
(``send_event``, ``resend_event``, ``replay_delivery``), register an endpoint with a chosen
secret (``add_webhook_endpoint``), send an event to the registered endpoints as Stripe would
(``emit_event``), complete a Checkout session, and wait for the deliveries in flight."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from runio.testing import FakeError, FakeRequest, FakeResponse, WebhookSent, route

from ._core import StripeCore
from ._events import EventDelivery, Signature, event_body, signed_headers
from ._params import (
    ALNUM,
    array_param,
    bool_param,
    metadata_param,
    missing,
    names,
    str_param,
)


class WebhookEndpoints(StripeCore):
    """``/v1/webhook_endpoints``."""

    def _events(self, params: Mapping[str, Any], required: bool) -> list[str] | None:
        events = array_param(params, "enabled_events")
        if not events:
            if required:
                raise missing("enabled_events")
            return None
        for i, name in enumerate(events):
            if not isinstance(name, str) or not re.fullmatch(r"\*|[a-z_]+(\.[a-z_]+)+", name):
                raise FakeError(400, f"Invalid event type: {name}", param=f"enabled_events[{i}]")
        return events

    @staticmethod
    def _url(params: Mapping[str, Any], required: bool) -> str | None:
        url = str_param(params, "url", required=required)
        if url is not None and not re.match(r"https?://[^/\s]+", url):
            raise FakeError(
                400,
                "Invalid URL: URL must be a valid http or https URL",
                param="url",
                code="url_invalid",
            )
        return url

    @route("POST", "/v1/webhook_endpoints")
    def create_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names("api_version connect description enabled_events expand metadata url"),
        )
        endpoint: dict[str, Any] = {
            "id": self.stripe_id("we"),
            "object": "webhook_endpoint",
            "api_version": str_param(params, "api_version"),
            "application": None,
            "created": self.now(),
            "description": str_param(params, "description"),
            "enabled_events": self._events(params, required=True),
            "livemode": False,
            "metadata": metadata_param(params),
            "status": "enabled",
            "url": self._url(params, required=True),
        }
        self._add(request, self.webhook_endpoints, endpoint)
        secret = self._new_secret()
        self._endpoint_secrets[endpoint["id"]] = secret
        return self.reply({**endpoint, "secret": secret})

    def _new_secret(self) -> str:
        return "whsec_" + "".join(self._random.choice(ALNUM) for _ in range(32))

    @route("GET", "/v1/webhook_endpoints/{id}")
    def retrieve_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        self._params(request, {"expand"})
        endpoint = self._get(
            request, self.webhook_endpoints, "webhook_endpoint", request.path_params["id"]
        )
        return self.reply(endpoint)

    @route("POST", "/v1/webhook_endpoints/{id}")
    def update_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request, names("description disabled enabled_events expand metadata url")
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
            endpoint["description"] = str_param(params, "description")
        if "disabled" in params:
            endpoint["status"] = "disabled" if bool_param(params, "disabled") else "enabled"
        endpoint["metadata"] = metadata_param(params, endpoint["metadata"])
        return self.reply(endpoint)

    @route("DELETE", "/v1/webhook_endpoints/{id}")
    def delete_webhook_endpoint(self, request: FakeRequest) -> FakeResponse:
        self._params(request, set())
        endpoint = self._get(
            request, self.webhook_endpoints, "webhook_endpoint", request.path_params["id"]
        )
        del self.webhook_endpoints[endpoint["id"]]
        self._endpoint_secrets.pop(endpoint["id"], None)
        return self.reply({"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})

    @route("GET", "/v1/webhook_endpoints")
    def list_webhook_endpoints(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.webhook_endpoints, "/v1/webhook_endpoints")

    # -- events -------------------------------------------------------------------------------
    @route("GET", "/v1/events/{id}")
    def retrieve_event(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.events, "event")

    @route("GET", "/v1/events")
    def list_events(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.events,
            "/v1/events",
            equal="type",
            filters={
                "types": lambda o, v: o["type"] in (v if isinstance(v, list) else [v]),
                "delivery_success": lambda o, v: True,  # accepted; every event matches
            },
        )

    # -- for tests ----------------------------------------------------------------------------
    def add_webhook_endpoint(
        self,
        url: str,
        events: Iterable[str] = ("*",),
        *,
        secret: str | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:
        """Register a webhook endpoint, as ``POST /v1/webhook_endpoints`` does, with ``secret``
        as its signing secret (default: a new ``whsec_...``), for ``account`` (a Connect
        account; default the platform). Returns the endpoint with its ``secret``."""
        enabled = list(events)
        with self.lock:
            endpoint: dict[str, Any] = {
                "id": self.stripe_id("we"),
                "object": "webhook_endpoint",
                "api_version": None,
                "application": None,
                "created": self.now(),
                "description": None,
                "enabled_events": enabled,
                "livemode": False,
                "metadata": {},
                "status": "enabled",
                "url": url,
            }
            self.webhook_endpoints[endpoint["id"]] = endpoint
            self._owner[endpoint["id"]] = account
            self._sequence += 1
            self._order[endpoint["id"]] = self._sequence
            self._endpoint_secrets[endpoint["id"]] = secret or self._new_secret()
            return {**copy.deepcopy(endpoint), "secret": self._endpoint_secrets[endpoint["id"]]}

    def endpoint_secret(self, endpoint_id: str) -> str:
        """The signing secret of a registered webhook endpoint."""
        with self.lock:
            return self._endpoint_secrets[endpoint_id]

    def make_event(
        self,
        type: str,
        data_object: Mapping[str, Any],
        *,
        previous_attributes: Mapping[str, Any] | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:
        """Make and store (in ``events``, and ``/v1/events``) an event of ``type`` about
        ``data_object``, in Stripe's envelope, without sending it anywhere."""
        with self.lock:
            event = self._emit(
                None,
                type,
                data_object,
                previous=previous_attributes,
                account=account,
                deliver=False,
            )
            return copy.deepcopy(event)

    def emit_event(
        self,
        type: str,
        data_object: Mapping[str, Any],
        *,
        previous_attributes: Mapping[str, Any] | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:
        """Make an event as Stripe does when something happens outside the API (``stripe
        trigger``, a payment settling): stored, and sent to the registered endpoints that
        listen to it, in the background (``wait_for_webhooks``). Returns the event."""
        with self.lock:
            event = self._emit(
                None, type, data_object, previous=previous_attributes, account=account
            )
            return copy.deepcopy(event)

    def signed_event(
        self,
        type: str,
        data_object: Mapping[str, Any],
        *,
        secret: str,
        previous_attributes: Mapping[str, Any] | None = None,
        account: str | None = None,
        signature: Signature = "valid",
        signed_at: float | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Make an event (as ``make_event``) and return the body and headers of its delivery,
        signed as ``send_event`` signs, without sending it: for a test that posts it itself
        (``runio.testing.JobTester.deliver_webhook("stripe", body, headers)``)."""
        event = self.make_event(
            type, data_object, previous_attributes=previous_attributes, account=account
        )
        return self.sign(event_body(event), secret=secret, signed_at=signed_at, signature=signature)

    def send_event(
        self,
        url: str,
        type: str,
        data_object: Mapping[str, Any],
        *,
        secret: str,
        previous_attributes: Mapping[str, Any] | None = None,
        account: str | None = None,
        signature: Signature = "valid",
        signed_at: float | None = None,
    ) -> httpx.Response:
        """Make an event of ``type`` about ``data_object`` (stored in ``events``) and POST it to
        ``url`` now, signed with ``secret`` as Stripe signs (``Stripe-Signature:
        t=...,v1=...``), or as ``signature`` says: ``wrong_secret``, ``tampered``, ``stale``,
        ``missing``, ``malformed``. ``signed_at`` (Unix seconds) dates the signature (default:
        the fake's clock). Returns the endpoint's answer; raises ``httpx.HTTPError`` when the
        request fails."""
        event = self.make_event(
            type, data_object, previous_attributes=previous_attributes, account=account
        )
        return self._send_now(event, url, secret, signature=signature, signed_at=signed_at)

    def resend_event(
        self,
        event_id: str,
        url: str,
        *,
        secret: str | None = None,
        signature: Signature = "valid",
        signed_at: float | None = None,
    ) -> httpx.Response:
        """Deliver a past event again (same id), newly signed, as Stripe does when it retries
        a delivery or when you resend it from the Dashboard. ``secret`` defaults to the one of
        the endpoint registered with ``url``."""
        with self.lock:
            if event_id not in self.events:
                raise KeyError(f"FakeStripe has no event {event_id!r}")
            event = copy.deepcopy(self.events[event_id])
            if secret is None:
                secret = next(
                    (
                        self._endpoint_secrets[e["id"]]
                        for e in self.webhook_endpoints.values()
                        if e["url"] == url
                    ),
                    None,
                )
        if secret is None:
            raise KeyError(f"no webhook endpoint of FakeStripe has the URL {url!r}: pass secret=")
        return self._send_now(event, url, secret, signature=signature, signed_at=signed_at)

    def sign(
        self,
        body: bytes,
        *,
        secret: str,
        signed_at: float | None = None,
        signature: Signature = "valid",
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a delivery of ``body`` (any bytes) signed as Stripe signs,
        or as ``signature`` says; send them with ``deliver_webhook(url, body, headers)``."""
        timestamp = int(self.clock() if signed_at is None else signed_at)
        return signed_headers(body, secret, timestamp, signature)

    def replay_delivery(self, sent: WebhookSent) -> httpx.Response:
        """POST a past delivery (from ``webhook_deliveries``) again byte for byte, with its
        old signature: what someone who captured it could send."""
        return self.deliver_webhook(sent.url, sent.body, sent.headers)

    def wait_for_webhooks(self, timeout: float = 30.0) -> list[EventDelivery]:
        """Wait until every event the fake's API made has been delivered to the registered
        endpoints; return every delivery so far (``event_deliveries``)."""
        if not self._outbox.wait(timeout):
            raise TimeoutError(f"FakeStripe's webhook deliveries did not finish in {timeout:g} s")
        with self.lock:
            return list(self.event_deliveries)

    def complete_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Complete an open Checkout session as a customer paying it would (payment mode:
        ``payment_status`` ``paid``; setup: ``no_payment_required``), and send
        ``checkout.session.completed``. Returns the session."""
        with self.lock:
            session = self.checkout_sessions.get(session_id)
            if session is None:
                raise KeyError(f"FakeStripe has no Checkout session {session_id!r}")
            if session["status"] != "open":
                raise ValueError(f"Checkout session {session_id} is {session['status']}, not open")
            session["status"] = "complete"
            setup = session["mode"] == "setup"
            session["payment_status"] = "no_payment_required" if setup else "paid"
            session["url"] = None
            self._emit(
                None, "checkout.session.completed", session, account=self._owner.get(session_id)
            )
            return copy.deepcopy(session)

    def _send_now(
        self,
        event: dict[str, Any],
        url: str,
        secret: str,
        *,
        signature: Signature,
        signed_at: float | None,
    ) -> httpx.Response:
        response = self._deliver_event(
            event, url, secret, signature=signature, signed_at=signed_at, raise_errors=True
        )
        assert response is not None
        return response
