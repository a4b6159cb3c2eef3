"""Checkout sessions in FakeStripe (created open; nobody pays them)."""

from __future__ import annotations

from typing import Any

from runio.testing import FakeError, FakeRequest, FakeResponse, route

from ._core import StripeCore
from ._params import (
    ALNUM,
    DAY,
    array_param,
    bool_param,
    int_param,
    metadata_param,
    missing,
    names,
    nulls,
    str_param,
)


class Checkout(StripeCore):
    """``/v1/checkout/sessions``."""

    @route("POST", "/v1/checkout/sessions")
    def create_checkout_session(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
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
        mode = str_param(params, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise FakeError(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        customer_id = str_param(params, "customer")
        customer = (
            self._get(request, self.customers, "customer", customer_id, param="customer")
            if customer_id
            else None
        )
        if customer_id and params.get("customer_email"):
            raise FakeError(
                400,
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        line_items = array_param(params, "line_items")
        if mode != "setup" and not line_items:
            raise FakeError(
                400,
                f"`line_items` is required in `{mode}` mode.",
                code="parameter_missing",
                param="line_items",
            )
        subtotal, currency = 0, str_param(params, "currency")
        for i, line in enumerate(line_items):
            if not isinstance(line, dict) or not line.get("price"):
                raise missing(f"line_items[{i}][price]")
            price = self._get(
                request, self.prices, "price", line["price"], param=f"line_items[{i}][price]"
            )
            if mode == "payment" and price["type"] == "recurring":
                raise FakeError(
                    400,
                    "You specified `payment` mode but passed a recurring price. Either switch to "
                    "`subscription` mode or use only one-time prices.",
                    param=f"line_items[{i}][price]",
                )
            if mode == "subscription" and price["type"] != "recurring":
                pass  # one-time prices are added to the first invoice
            quantity = int_param(line, "quantity")
            if quantity is None:
                raise missing(f"line_items[{i}][quantity]")
            subtotal += (price["unit_amount"] or 0) * quantity
            currency = currency or price["currency"]
        now = self.now()
        session_id = "cs_test_" + "".join(self._random.choice(ALNUM) for _ in range(58))
        email = str_param(params, "customer_email")
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "adaptive_pricing": {"enabled": False},
            "allow_promotion_codes": (
                bool_param(params, "allow_promotion_codes")
                if "allow_promotion_codes" in params
                else None
            ),
            "amount_subtotal": subtotal if mode != "setup" else None,
            "amount_total": subtotal if mode != "setup" else None,
            "automatic_tax": {
                "enabled": False,
                **nulls("liability provider status"),
            },
            "billing_address_collection": str_param(params, "billing_address_collection"),
            "cancel_url": str_param(params, "cancel_url"),
            "client_reference_id": str_param(params, "client_reference_id"),
            "created": now,
            "currency": currency,
            "custom_fields": [],
            "custom_text": {
                **nulls("after_submit shipping_address submit terms_of_service_acceptance"),
            },
            "customer": customer_id,
            "customer_creation": None if customer else "if_required",
            "customer_details": (
                {
                    "email": email or (customer or {}).get("email"),
                    "tax_exempt": "none",
                    **nulls("address name phone tax_ids"),
                }
                if (email or customer)
                else None
            ),
            "customer_email": email,
            "discounts": [],
            "expires_at": int_param(params, "expires_at") or now + DAY,
            "invoice_creation": (
                {"enabled": False, "invoice_data": None} if mode == "payment" else None
            ),
            "livemode": False,
            "locale": str_param(params, "locale"),
            "metadata": metadata_param(params),
            "mode": mode,
            "payment_method_collection": "always" if mode != "payment" else "if_required",
            "payment_method_options": {},
            "payment_method_types": array_param(params, "payment_method_types") or ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "phone_number_collection": {"enabled": False},
            "shipping_options": [],
            "status": "open",
            "submit_type": str_param(params, "submit_type"),
            "success_url": str_param(params, "success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": str_param(params, "ui_mode") or "hosted",
            "url": f"{self.url}/c/pay/{session_id}",
            **nulls(
                "after_expiration client_secret collected_information consent consent_collection "
                "currency_conversion invoice payment_intent payment_link "
                "payment_method_configuration_details recovered_from saved_payment_method_options "
                "setup_intent shipping_address_collection shipping_cost subscription "
                "wallet_options"
            ),
        }
        self._add(request, self.checkout_sessions, session)
        return self.reply(session)

    @route("GET", "/v1/checkout/sessions/{id}")
    def retrieve_checkout_session(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.checkout_sessions, "checkout.session")

    @route("GET", "/v1/checkout/sessions")
    def list_checkout_sessions(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request, self.checkout_sessions, "/v1/checkout/sessions", equal="customer status"
        )
