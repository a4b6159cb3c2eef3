"""Payments in FakeStripe: charges, payment intents (confirmation, manual capture, test cards
that decline or ask for authentication) and refunds, with their events (``charge.succeeded``,
``charge.failed``, ``charge.refunded``, ``refund.created``, ``payment_intent.created``,
``.succeeded``, ``.payment_failed``, ``.requires_action``, ``.amount_capturable_updated``)."""

from __future__ import annotations

import copy
import string
from typing import Any

from runio.testing import FakeError, FakeRequest, FakeResponse, route

from ._cards import VISA, Card
from ._core import StripeCore
from ._params import (
    ALNUM,
    address_of,
    amount_param,
    array_param,
    bool_param,
    currency_param,
    display_amount,
    hash_param,
    int_param,
    metadata_param,
    names,
    nulls,
    str_param,
)


class Payments(StripeCore):
    """``/v1/charges``, ``/v1/payment_intents`` and ``/v1/refunds``."""

    # -- charges ----------------------------------------------------------------------------

    def _new_charge(
        self,
        request: FakeRequest,
        *,
        amount: int,
        currency: str,
        card: Card,
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
            "balance_transaction": None if failed else self.stripe_id("txn"),
            "billing_details": {
                "address": address_of({}),
                **nulls("email name phone tax_id"),
            },
            "calculated_statement_descriptor": "RUNIO FAKESTRIPE",
            "captured": capture and not failed,
            "created": self.now(),
            "currency": currency,
            "customer": customer,
            "description": description,
            "disputed": False,
            "failure_code": card.decline[0] if card.decline else None,
            "failure_message": card.decline[2] if card.decline else None,
            "fraud_details": {},
            "livemode": False,
            "metadata": metadata or {},
            "outcome": {
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
                **nulls("advice_code network_advice_code network_decline_code"),
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
                    "fingerprint": "".join(self._random.choice(ALNUM) for _ in range(16)),
                    "funding": card.funding,
                    "last4": card.last4,
                    "network": card.brand,
                    **nulls("installments mandate three_d_secure wallet"),
                },
                "type": "card",
            },
            "receipt_email": receipt_email,
            "receipt_url": f"{self.url}/receipts/payment/{charge_id}",
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "status": "failed" if failed else ("succeeded" if capture else "pending"),
            **nulls(
                "application application_fee application_fee_amount failure_balance_transaction "
                "on_behalf_of receipt_number review shipping source_transfer statement_descriptor "
                "statement_descriptor_suffix transfer_data transfer_group"
            ),
        }
        if not capture and not failed:
            charge["status"] = "succeeded"  # authorised, to be captured: Stripe says succeeded
        self._add(request, self.charges, charge)
        self._emit(request, "charge.failed" if failed else "charge.succeeded", charge)
        return charge

    def _decline(self, card: Card, charge: dict[str, Any], **extra: Any) -> FakeError:
        assert card.decline is not None
        code, decline_code, message = card.decline
        return FakeError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            charge=charge["id"],
            **extra,
        )

    @route("POST", "/v1/charges")
    def create_charge(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
                "amount application_fee application_fee_amount capture currency customer "
                "description destination expand metadata on_behalf_of radar_options "
                "receipt_email shipping source statement_descriptor statement_descriptor_suffix "
                "transfer_data transfer_group"
            ),
        )
        amount = amount_param(params, "amount")
        currency = currency_param(params)
        customer_id = str_param(params, "customer")
        customer = (
            self._get(request, self.customers, "customer", customer_id, param="customer")
            if customer_id
            else None
        )
        source = str_param(params, "source")
        if source is not None:
            card, method = self._card_for(source, param="source"), self.stripe_id("card")
        elif customer is not None and self._has_payment_method(customer):
            method, card = self._customer_card(customer)
        elif customer is not None:
            raise FakeError(
                402,
                "Cannot charge a customer that has no active card",
                type="card_error",
                code="missing",
                param="card",
            )
        else:
            raise FakeError(
                400, "Must provide source or customer.", code="parameter_missing", param="source"
            )
        charge = self._new_charge(
            request,
            amount=amount,
            currency=currency,
            card=card,
            payment_method=method,
            customer=customer_id,
            description=str_param(params, "description"),
            metadata=metadata_param(params),
            capture=bool_param(params, "capture", True),
            receipt_email=str_param(params, "receipt_email"),
        )
        if card.decline:
            raise self._decline(card, charge)
        return self.reply(charge)

    @route("GET", "/v1/charges/{id}")
    def retrieve_charge(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.charges, "charge")

    @route("GET", "/v1/charges")
    def list_charges(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.charges, "/v1/charges", equal="customer payment_intent")

    # -- payment intents --------------------------------------------------------------------

    _CONFIRM_FIELDS = names(
        "amount_details capture_method confirmation_token error_on_requires_action "
        "excluded_payment_method_types expand hooks mandate mandate_data off_session "
        "payment_details payment_method payment_method_data payment_method_options "
        "payment_method_types radar_options receipt_email return_url setup_future_usage "
        "shipping use_stripe_sdk"
    )

    @route("POST", "/v1/payment_intents")
    def create_payment_intent(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            self._CONFIRM_FIELDS
            | names(
                "amount application_fee_amount automatic_payment_methods confirm "
                "confirmation_method currency customer customer_account description metadata "
                "on_behalf_of payment_method_configuration statement_descriptor "
                "statement_descriptor_suffix transfer_data transfer_group"
            ),
        )
        amount = amount_param(params, "amount")
        currency = currency_param(params)
        customer_id = str_param(params, "customer")
        if customer_id:
            self._get(request, self.customers, "customer", customer_id, param="customer")
        types = array_param(params, "payment_method_types")
        automatic = hash_param(params, "automatic_payment_methods")
        intent_id = self.stripe_id("pi")
        method = params.get("payment_method")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application_fee_amount": int_param(params, "application_fee_amount"),
            "automatic_payment_methods": (
                None
                if types
                else {
                    "allow_redirects": automatic.get("allow_redirects", "always"),
                    "enabled": bool_param(automatic, "enabled", True),
                }
            ),
            "capture_method": str_param(params, "capture_method") or "automatic_async",
            "client_secret": f"{intent_id}_secret_"
            + "".join(self._random.choice(ALNUM) for _ in range(25)),
            "confirmation_method": str_param(params, "confirmation_method") or "automatic",
            "created": self.now(),
            "currency": currency,
            "customer": customer_id,
            "description": str_param(params, "description"),
            "livemode": False,
            "metadata": metadata_param(params),
            "on_behalf_of": str_param(params, "on_behalf_of"),
            "payment_method_options": {
                "card": {
                    "request_three_d_secure": "automatic",
                    **nulls("installments mandate_options network"),
                }
            },
            "payment_method_types": types or ["card"],
            "receipt_email": str_param(params, "receipt_email"),
            "setup_future_usage": str_param(params, "setup_future_usage"),
            "statement_descriptor": str_param(params, "statement_descriptor"),
            "statement_descriptor_suffix": str_param(params, "statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_group": str_param(params, "transfer_group"),
            **nulls(
                "application canceled_at cancellation_reason last_payment_error latest_charge "
                "next_action payment_method payment_method_configuration_details processing review "
                "shipping source transfer_data"
            ),
        }
        if method:
            intent["payment_method"] = self._payment_method(method)
            self._saved_cards[intent["payment_method"]] = self._card_for(
                str(method), param="payment_method"
            )
            intent["status"] = "requires_confirmation"
        self._add(request, self.payment_intents, intent)
        self._emit(request, "payment_intent.created", intent)
        if bool_param(params, "confirm"):
            self._confirm(request, intent, {})
        return self.reply(intent)

    def _confirm(
        self, request: FakeRequest, intent: dict[str, Any], params: dict[str, Any]
    ) -> None:
        status = intent["status"]
        if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise FakeError(
                400,
                f"You cannot confirm this PaymentIntent because it has a status of {status}. "
                "Only a PaymentIntent with one of the following statuses may be confirmed: "
                "requires_confirmation, requires_payment_method, requires_action.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(intent),
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
            raise FakeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with cus_..., specify a payment method attached "
                "to this customer along with the customer ID.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(intent),
            )
        if "capture_method" in params:
            intent["capture_method"] = str_param(params, "capture_method")
        if "receipt_email" in params:
            intent["receipt_email"] = str_param(params, "receipt_email")
        card = self._saved_cards.get(intent["payment_method"], VISA)
        if card.authentication and status != "requires_action":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            self._emit(request, "payment_intent.requires_action", intent)
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
            self._emit(request, "payment_intent.payment_failed", intent)
            raise self._decline(card, charge, payment_intent=copy.deepcopy(intent))
        intent["last_payment_error"] = None
        if manual:
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._emit(request, "payment_intent.amount_capturable_updated", intent)
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            self._emit(request, "payment_intent.succeeded", intent)

    @route("POST", "/v1/payment_intents/{id}/confirm")
    def confirm_payment_intent(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, self._CONFIRM_FIELDS)
        intent = self._get(
            request, self.payment_intents, "payment_intent", request.path_params["id"]
        )
        self._confirm(request, intent, params)
        return self.reply(intent)

    @route("GET", "/v1/payment_intents/{id}")
    def retrieve_payment_intent(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.payment_intents, "payment_intent")

    @route("GET", "/v1/payment_intents")
    def list_payment_intents(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.payment_intents, "/v1/payment_intents", equal="customer")

    # -- refunds ----------------------------------------------------------------------------

    @route("POST", "/v1/refunds")
    def create_refund(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
                "amount charge currency customer expand instructions_email metadata origin "
                "payment_intent reason refund_application_fee reverse_transfer"
            ),
        )
        charge_id, intent_id = str_param(params, "charge"), str_param(params, "payment_intent")
        if intent_id:
            intent = self._get(
                request, self.payment_intents, "payment_intent", intent_id, param="payment_intent"
            )
            if intent["latest_charge"] is None or intent["status"] != "succeeded":
                raise FakeError(
                    400,
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge_id = intent["latest_charge"]
        if not charge_id:
            raise FakeError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        charge = self._get(request, self.charges, "charge", charge_id, param="charge")
        if charge["status"] == "failed":
            raise FakeError(
                400,
                f"Charge {charge_id} has failed and cannot be refunded.",
                code="charge_not_refundable",
                param="charge",
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise FakeError(
                400,
                f"Charge {charge_id} has already been refunded.",
                code="charge_already_refunded",
                param="charge",
            )
        amount = int_param(params, "amount")
        amount = remaining if amount is None else amount
        if amount <= 0:
            raise FakeError(400, "Invalid positive integer", param="amount")
        if amount > remaining:
            raise FakeError(
                400,
                f"Refund amount ({display_amount(amount, charge['currency'])}) is greater than "
                f"unrefunded amount on charge ({display_amount(remaining, charge['currency'])})",
                param="amount",
            )
        reason = str_param(params, "reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise FakeError(
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
            "metadata": metadata_param(params),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
            **nulls("receipt_number source_transfer_reversal transfer_reversal"),
        }
        self._add(request, self.refunds, refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        charge["refunds"]["total_count"] += 1
        self._emit(request, "refund.created", refund)
        self._emit(request, "charge.refunded", charge)
        return self.reply(refund)

    @route("GET", "/v1/refunds/{id}")
    def retrieve_refund(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.refunds, "refund")

    @route("GET", "/v1/refunds")
    def list_refunds(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.refunds, "/v1/refunds", equal="charge payment_intent")
