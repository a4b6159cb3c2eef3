"""Webhook endpoints in FakeStripe (registered with a signing secret; no event is ever sent)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runio.testing import FakeError, FakeRequest, FakeResponse, route

from ._core import StripeCore
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
        secret = "whsec_" + "".join(self._random.choice(ALNUM) for _ in range(32))
        self._endpoint_secrets[endpoint["id"]] = secret
        return self.reply({**endpoint, "secret": secret})

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
        return self.reply({"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})

    @route("GET", "/v1/webhook_endpoints")
    def list_webhook_endpoints(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.webhook_endpoints, "/v1/webhook_endpoints")
