"""Billing in FakeStripe: subscriptions (items, trials, cancellation) and invoices, including the
first invoice a subscription creates and pays, with their events
(``customer.subscription.created``, ``.updated``, ``.deleted``, ``invoice.created``,
``invoice.finalized``, ``invoice.paid``, ``invoice.payment_succeeded``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from runio.testing import FakeError, FakeRequest, FakeResponse, route

from ._core import StripeCore
from ._params import (
    DAY,
    INTERVAL_SECONDS,
    array_param,
    bool_param,
    hash_param,
    int_param,
    metadata_param,
    missing,
    names,
    no_such,
    nulls,
    str_param,
)


class Billing(StripeCore):
    """``/v1/subscriptions`` and ``/v1/invoices``."""

    # -- subscriptions ----------------------------------------------------------------------

    def _recurring_price(self, request: FakeRequest, price_id: Any, param: str) -> dict[str, Any]:
        price = self._get(request, self.prices, "price", price_id, param=param)
        if price["type"] != "recurring":
            raise FakeError(
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
        period = INTERVAL_SECONDS[recurring["interval"]] * recurring["interval_count"]
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

    _SUBSCRIPTION_FIELDS = names(
        "add_invoice_items application_fee_percent automatic_tax billing_cycle_anchor "
        "billing_mode billing_thresholds cancel_at cancel_at_period_end "
        "collection_method days_until_due default_payment_method default_source "
        "default_tax_rates description discounts expand invoice_settings items metadata "
        "off_session on_behalf_of payment_behavior payment_settings "
        "pending_invoice_item_interval proration_behavior transfer_data trial_end "
        "trial_from_plan trial_settings"
    )

    @route("POST", "/v1/subscriptions")
    def create_subscription(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            self._SUBSCRIPTION_FIELDS
            | names(
                "backdate_start_date billing_cycle_anchor_config currency customer "
                "customer_account trial_period_days"
            ),
        )
        customer_id = str_param(params, "customer", required=True)
        customer = self._get(request, self.customers, "customer", customer_id, param="customer")
        wanted = array_param(params, "items")
        if not wanted:
            raise missing("items")
        now = self.now()
        subscription_id = self.stripe_id("sub")
        items = []
        for i, item in enumerate(wanted):
            if not isinstance(item, dict) or not item.get("price"):
                raise missing(f"items[{i}][price]")
            price = self._recurring_price(request, item["price"], f"items[{i}][price]")
            quantity = int_param(item, "quantity") or 1
            items.append(
                self._item(request, subscription_id, price, quantity, now, metadata_param(item))
            )
        currencies = {item["price"]["currency"] for item in items}
        if len(currencies) > 1:
            raise FakeError(
                400, "All prices on a subscription must have the same currency.", param="items"
            )
        trial_days = int_param(params, "trial_period_days")
        trial_end = int_param(params, "trial_end") if params.get("trial_end") != "now" else now
        if trial_end is None and trial_days:
            trial_end = now + trial_days * DAY
        default_method = params.get("default_payment_method")
        subscription: dict[str, Any] = {
            "id": subscription_id,
            "object": "subscription",
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": trial_end or now,
            "billing_mode": {"type": "classic"},
            "cancel_at": int_param(params, "cancel_at"),
            "cancel_at_period_end": bool_param(params, "cancel_at_period_end"),
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": str_param(params, "collection_method") or "charge_automatically",
            "created": now,
            "currency": currencies.pop(),
            "customer": customer_id,
            "days_until_due": int_param(params, "days_until_due"),
            "default_payment_method": (
                self._payment_method(default_method, "default_payment_method")
                if default_method
                else None
            ),
            "default_source": str_param(params, "default_source"),
            "default_tax_rates": [],
            "description": str_param(params, "description"),
            "discounts": [],
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "livemode": False,
            "metadata": metadata_param(params),
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "start_date": now,
            "status": "active",
            "trial_end": trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": now if trial_end else None,
            **nulls(
                "application application_fee_percent billing_cycle_anchor_config "
                "billing_thresholds canceled_at ended_at latest_invoice "
                "next_pending_invoice_item_invoice on_behalf_of pause_collection "
                "pending_invoice_item_interval pending_setup_intent pending_update schedule "
                "test_clock transfer_data"
            ),
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
            raise missing("days_until_due")
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
        self._emit(request, "customer.subscription.created", subscription)
        self._emit(request, "invoice.finalized", invoice)
        if invoice["status"] == "paid":
            self._emit(request, "invoice.paid", invoice)
            self._emit(request, "invoice.payment_succeeded", invoice)
        return self.reply(subscription)

    @route("GET", "/v1/subscriptions/{id}")
    def retrieve_subscription(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.subscriptions, "subscription")

    @route("POST", "/v1/subscriptions/{id}")
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
            raise FakeError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        before = copy.deepcopy(subscription)
        items = list(subscription["items"]["data"])
        for i, change in enumerate(array_param(params, "items")):
            if not isinstance(change, dict):
                raise FakeError(400, "Invalid items", param=f"items[{i}]")
            if change.get("id"):
                current = next((x for x in items if x["id"] == change["id"]), None)
                if current is None:
                    raise no_such(
                        "subscription_item", change["id"], param=f"items[{i}][id]", status=400
                    )
                if bool_param(change, "deleted"):
                    items.remove(current)
                    continue
                if change.get("price"):
                    price = self._recurring_price(request, change["price"], f"items[{i}][price]")
                    current["price"] = copy.deepcopy(price)
                if "quantity" in change:
                    current["quantity"] = int_param(change, "quantity")
                current["metadata"] = metadata_param(change, current["metadata"])
            elif change.get("price"):
                price = self._recurring_price(request, change["price"], f"items[{i}][price]")
                start = items[0]["current_period_start"] if items else self.now()
                items.append(
                    self._item(
                        request,
                        subscription["id"],
                        price,
                        int_param(change, "quantity") or 1,
                        start,
                        metadata_param(change),
                    )
                )
            else:
                raise missing(f"items[{i}][price]")
        if not items:
            raise FakeError(
                400, "A subscription must have at least one active plan.", param="items"
            )
        self._items_list(subscription, items)
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = bool_param(params, "cancel_at_period_end")
            subscription["cancel_at"] = (
                items[0]["current_period_end"] if subscription["cancel_at_period_end"] else None
            )
        if "cancel_at" in params:
            subscription["cancel_at"] = int_param(params, "cancel_at")
        for key in ("description", "default_source", "collection_method"):
            if key in params:
                subscription[key] = str_param(params, key)
        if "default_payment_method" in params:
            subscription["default_payment_method"] = (
                self._payment_method(params["default_payment_method"], "default_payment_method")
                if params["default_payment_method"]
                else None
            )
        if "days_until_due" in params:
            subscription["days_until_due"] = int_param(params, "days_until_due")
        details = hash_param(params, "cancellation_details")
        for key in ("comment", "feedback"):
            if key in details:
                subscription["cancellation_details"][key] = details[key] or None
        if "pause_collection" in params:
            pause = hash_param(params, "pause_collection")
            subscription["pause_collection"] = (
                {"behavior": pause.get("behavior"), "resumes_at": int_param(pause, "resumes_at")}
                if pause
                else None
            )
        subscription["metadata"] = metadata_param(params, subscription["metadata"])
        self._emit_update(request, "customer.subscription.updated", before, subscription)
        return self.reply(subscription)

    @route("DELETE", "/v1/subscriptions/{id}")
    def cancel_subscription(self, request: FakeRequest) -> FakeResponse:
        params = self._params(request, names("cancellation_details expand invoice_now prorate"))
        subscription = self._get(
            request, self.subscriptions, "subscription", request.path_params["id"]
        )
        if subscription["status"] == "canceled":
            raise FakeError(
                400,
                f"This subscription ({subscription['id']}) has already been canceled.",
                code="resource_missing",
            )
        now = self.now()
        subscription["status"] = "canceled"
        subscription["canceled_at"] = now
        subscription["ended_at"] = now
        details = hash_param(params, "cancellation_details")
        subscription["cancellation_details"] = {
            "comment": details.get("comment") or None,
            "feedback": details.get("feedback") or None,
            "reason": "cancellation_requested",
        }
        self._emit(request, "customer.subscription.deleted", subscription)
        return self.reply(subscription)

    @route("GET", "/v1/subscriptions")
    def list_subscriptions(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.subscriptions,
            "/v1/subscriptions",
            equal="customer",
            filters={
                "price": lambda o, v: any(i["price"]["id"] == v for i in o["items"]["data"]),
                "status": lambda o, v: v == "all" or o.get("status") == v,
            },
            default=lambda o: o.get("status") != "canceled",
        )

    # -- invoices ---------------------------------------------------------------------------

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
        collection = str_param(params, "collection_method") or "charge_automatically"
        if collection not in ("charge_automatically", "send_invoice"):
            raise FakeError(400, "Invalid collection_method", param="collection_method")
        days = int_param(params, "days_until_due")
        due = int_param(params, "due_date")
        if collection == "send_invoice" and days is None and due is None:
            raise missing("days_until_due")
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
            "amount_due": amount,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": amount,
            "amount_shipping": 0,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": bool_param(params, "auto_advance", subscription is not None),
            "automatic_tax": {
                "enabled": False,
                **nulls("liability provider status"),
            },
            "billing_reason": "subscription_create" if subscription is not None else "manual",
            "collection_method": collection,
            "created": now,
            "currency": currency
            or str_param(params, "currency")
            or customer.get("currency")
            or "usd",
            "customer": customer["id"],
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": customer.get("phone"),
            "customer_shipping": customer.get("shipping"),
            "customer_tax_exempt": customer.get("tax_exempt", "none"),
            "customer_tax_ids": [],
            "default_tax_rates": [],
            "description": str_param(params, "description"),
            "discounts": [],
            "due_date": (
                due if due is not None else (now + days * DAY if days is not None else None)
            ),
            "footer": str_param(params, "footer"),
            "issuer": {"type": "self"},
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": metadata_param(params),
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
                **nulls("default_mandate payment_method_options payment_method_types"),
            },
            "period_end": now,
            "period_start": now,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "starting_balance": 0,
            "statement_descriptor": str_param(params, "statement_descriptor"),
            "status": "draft",
            "status_transitions": {
                **nulls("finalized_at marked_uncollectible_at paid_at voided_at"),
            },
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "total": amount,
            "total_discount_amounts": [],
            "total_excluding_tax": amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            **nulls(
                "account_tax_ids application automatically_finalizes_at custom_fields "
                "default_payment_method default_source effective_at ending_balance from_invoice "
                "hosted_invoice_url invoice_pdf last_finalization_error latest_revision "
                "next_payment_attempt number on_behalf_of receipt_number rendering shipping_cost "
                "shipping_details test_clock webhooks_delivered_at"
            ),
        }
        self._add(request, self.invoices, invoice)
        self._emit(request, "invoice.created", invoice)
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

    @route("POST", "/v1/invoices")
    def create_invoice(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
                "account_tax_ids application_fee_amount auto_advance automatic_tax "
                "automatically_finalizes_at collection_method currency custom_fields customer "
                "customer_account days_until_due default_payment_method default_source "
                "default_tax_rates description discounts due_date effective_at expand footer "
                "from_invoice issuer metadata number on_behalf_of payment_settings "
                "pending_invoice_items_behavior rendering shipping_cost shipping_details "
                "statement_descriptor subscription transfer_data"
            ),
        )
        customer_id = str_param(params, "customer", required=True)
        customer = self._get(request, self.customers, "customer", customer_id, param="customer")
        invoice = self._new_invoice(request, customer, params=params)
        return self.reply(invoice)

    @route("GET", "/v1/invoices/{id}")
    def retrieve_invoice(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.invoices, "invoice")

    @route("GET", "/v1/invoices")
    def list_invoices(self, request: FakeRequest) -> FakeResponse:
        return self._list(
            request,
            self.invoices,
            "/v1/invoices",
            equal="customer status",
            filters={
                "subscription": lambda o, v: (
                    (o.get("parent") or {}).get("subscription_details", {}).get("subscription") == v
                ),
            },
        )
