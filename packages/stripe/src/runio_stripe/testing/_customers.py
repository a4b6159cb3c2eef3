"""Customers in FakeStripe: create, retrieve (deleted ones too), update, delete, list; each
write sends its event (``customer.created``, ``customer.updated``, ``customer.deleted``)."""

from __future__ import annotations

import copy
from typing import Any

from runio.testing import FakeRequest, FakeResponse, route

from ._core import StripeCore
from ._params import (
    address_of,
    array_param,
    hash_param,
    int_param,
    metadata_param,
    names,
    nulls,
    str_param,
)


class Customers(StripeCore):
    """``/v1/customers``."""

    _CUSTOMER_FIELDS = names(
        "address balance business_name cash_balance description email expand "
        "individual_name invoice_prefix invoice_settings metadata name "
        "next_invoice_sequence phone preferred_locales shipping source tax tax_exempt "
        "validate"
    )

    def _apply_customer(self, customer: dict[str, Any], params: dict[str, Any]) -> None:
        for key in names(
            "description email name phone invoice_prefix business_name individual_name"
        ):
            if key in params:
                customer[key] = str_param(params, key)
        if "address" in params:
            customer["address"] = (
                address_of(hash_param(params, "address")) if params["address"] else None
            )
        if "shipping" in params:
            shipping = hash_param(params, "shipping")
            customer["shipping"] = (
                {
                    "address": address_of(hash_param(shipping, "address")),
                    "name": shipping.get("name"),
                    "phone": shipping.get("phone"),
                }
                if shipping
                else None
            )
        if "balance" in params:
            customer["balance"] = int_param(params, "balance") or 0
        if "preferred_locales" in params:
            customer["preferred_locales"] = array_param(params, "preferred_locales")
        if "tax_exempt" in params:
            customer["tax_exempt"] = str_param(params, "tax_exempt") or "none"
        if "next_invoice_sequence" in params:
            customer["next_invoice_sequence"] = int_param(params, "next_invoice_sequence")
        settings = hash_param(params, "invoice_settings")
        if "default_payment_method" in settings:
            customer["invoice_settings"]["default_payment_method"] = (
                self._payment_method(settings["default_payment_method"])
                if settings["default_payment_method"]
                else None
            )
        if "footer" in settings:
            customer["invoice_settings"]["footer"] = settings["footer"] or None
        source = str_param(params, "source")
        if source is not None:
            self._card_for(source, param="source")
            customer["default_source"] = self.stripe_id("card")
        customer["metadata"] = metadata_param(params, customer["metadata"])

    @route("POST", "/v1/customers")
    def create_customer(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request, self._CUSTOMER_FIELDS | {"payment_method", "tax_id_data", "test_clock"}
        )
        customer: dict[str, Any] = {
            "id": self.stripe_id("cus", 14),
            "object": "customer",
            "balance": 0,
            "created": self.now(),
            "delinquent": False,
            "invoice_prefix": "".join(self._random.choice("0123456789ABCDEF") for _ in range(8)),
            "invoice_settings": {
                **nulls("custom_fields default_payment_method footer rendering_options"),
            },
            "livemode": False,
            "metadata": {},
            "next_invoice_sequence": 1,
            "preferred_locales": [],
            "tax_exempt": "none",
            **nulls(
                "address currency default_source description discount email name phone shipping "
                "test_clock"
            ),
        }
        self._apply_customer(customer, params)
        if params.get("payment_method"):
            pm = self._payment_method(params["payment_method"])
            self._saved_cards[pm] = self._card_for(
                str(params["payment_method"]), param="payment_method"
            )
            self._customer_methods[customer["id"]] = [pm]
        self._add(request, self.customers, customer)
        self._emit(request, "customer.created", customer)
        return self.reply(customer)

    @route("GET", "/v1/customers/{id}")
    def retrieve_customer(self, request: FakeRequest) -> FakeResponse:
        deleted = self._deleted.get(request.path_params["id"])
        if deleted is not None and self._owner.get(deleted["id"]) == self._account(request):
            return self.reply(deleted)
        params = self._params(request, {"expand"})
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        return self.reply(self._expanded(request, customer, array_param(params, "expand")))

    @route("POST", "/v1/customers/{id}")
    def update_customer(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, self._CUSTOMER_FIELDS | {"default_source"})
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        before = copy.deepcopy(customer)
        self._apply_customer(customer, params)
        if "default_source" in params:
            customer["default_source"] = str_param(params, "default_source")
        self._emit_update(request, "customer.updated", before, customer)
        return self.reply(customer)

    @route("DELETE", "/v1/customers/{id}")
    def delete_customer(self, request: FakeRequest) -> FakeResponse:
        self._params(request, set())
        customer = self._get(request, self.customers, "customer", request.path_params["id"])
        del self.customers[customer["id"]]
        self._emit(request, "customer.deleted", customer)
        gone = {"id": customer["id"], "object": "customer", "deleted": True}
        self._deleted[customer["id"]] = gone
        return self.reply(gone)

    @route("GET", "/v1/customers")
    def list_customers(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.customers,
            "/v1/customers",
            equal="email",
            filters={"test_clock": lambda o, v: True},  # accepted, and every object matches
        )
