"""Products and prices in FakeStripe (a product's default price, a price's inline product),
with their events (``product.created``, ``price.created``)."""

from __future__ import annotations

from typing import Any

from runio.testing import FakeError, FakeRequest, FakeResponse, route

from ._core import StripeCore
from ._params import (
    INTERVAL_SECONDS,
    array_param,
    bool_param,
    currency_param,
    hash_param,
    int_param,
    metadata_param,
    names,
    str_param,
)


class ProductsAndPrices(StripeCore):
    """``/v1/products`` and ``/v1/prices``."""

    # -- products ---------------------------------------------------------------------------

    def _new_product(self, request: FakeRequest, params: dict[str, Any]) -> dict[str, Any]:
        name = str_param(params, "name", required=True)
        product_id = str_param(params, "id") or self.stripe_id("prod", 14)
        if product_id in self.products:
            raise FakeError(
                400, "Product already exists.", code="resource_already_exists", param="id"
            )
        now = self.now()
        product: dict[str, Any] = {
            "id": product_id,
            "object": "product",
            "active": bool_param(params, "active", True),
            "created": now,
            "default_price": None,
            "description": str_param(params, "description"),
            "images": array_param(params, "images"),
            "livemode": False,
            "marketing_features": [
                {"name": f.get("name")}
                for f in array_param(params, "marketing_features")
                if isinstance(f, dict)
            ],
            "metadata": metadata_param(params),
            "name": name,
            "package_dimensions": None,
            "shippable": bool_param(params, "shippable") if "shippable" in params else None,
            "statement_descriptor": str_param(params, "statement_descriptor"),
            "tax_code": str_param(params, "tax_code"),
            "type": "service",
            "unit_label": str_param(params, "unit_label"),
            "updated": now,
            "url": str_param(params, "url"),
        }
        self._add(request, self.products, product)
        self._emit(request, "product.created", product)
        return product

    @route("POST", "/v1/products")
    def create_product(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
                "active default_price_data description expand id images marketing_features "
                "metadata name package_dimensions shippable statement_descriptor tax_code "
                "tax_details type unit_label url"
            ),
        )
        product = self._new_product(request, params)
        price_data = hash_param(params, "default_price_data")
        if price_data:
            price = self._new_price(request, {**price_data, "product": product["id"]})
            product["default_price"] = price["id"]
        return self.reply(product)

    @route("GET", "/v1/products/{id}")
    def retrieve_product(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.products, "product")

    @route("GET", "/v1/products")
    def list_products(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.products, "/v1/products", equal="active")

    # -- prices -----------------------------------------------------------------------------

    def _new_price(self, request: FakeRequest, params: dict[str, Any]) -> dict[str, Any]:
        currency = currency_param(params)
        product_data = hash_param(params, "product_data")
        if product_data:
            product_id = self._new_product(request, product_data)["id"]
        else:
            product_id = str_param(params, "product", required=True)
            self._get(request, self.products, "product", product_id, param="product")
        unit_amount = int_param(params, "unit_amount")
        decimal = str_param(params, "unit_amount_decimal")
        if unit_amount is None and decimal is not None:
            unit_amount = int(float(decimal))
        custom = hash_param(params, "custom_unit_amount")
        if unit_amount is None and not custom and "tiers" not in params:
            raise FakeError(
                400,
                "You must pass either `unit_amount`, `unit_amount_decimal`, `tiers` or "
                "`custom_unit_amount`.",
                code="parameter_missing",
                param="unit_amount",
            )
        if unit_amount is not None and unit_amount < 0:
            raise FakeError(400, "Invalid non-negative integer", param="unit_amount")
        recurring = hash_param(params, "recurring")
        if recurring:
            interval = recurring.get("interval")
            if interval not in INTERVAL_SECONDS:
                raise FakeError(
                    400,
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                    param="recurring[interval]",
                )
        price: dict[str, Any] = {
            "id": self.stripe_id("price"),
            "object": "price",
            "active": bool_param(params, "active", True),
            "billing_scheme": str_param(params, "billing_scheme") or "per_unit",
            "created": self.now(),
            "currency": currency,
            "custom_unit_amount": (
                {
                    "maximum": int_param(custom, "maximum"),
                    "minimum": int_param(custom, "minimum"),
                    "preset": int_param(custom, "preset"),
                }
                if custom
                else None
            ),
            "livemode": False,
            "lookup_key": str_param(params, "lookup_key"),
            "metadata": metadata_param(params),
            "nickname": str_param(params, "nickname"),
            "product": product_id,
            "recurring": (
                {
                    "interval": recurring["interval"],
                    "interval_count": int_param(recurring, "interval_count") or 1,
                    "meter": recurring.get("meter"),
                    "trial_period_days": int_param(recurring, "trial_period_days"),
                    "usage_type": recurring.get("usage_type") or "licensed",
                }
                if recurring
                else None
            ),
            "tax_behavior": str_param(params, "tax_behavior") or "unspecified",
            "tiers_mode": str_param(params, "tiers_mode"),
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        }
        self._add(request, self.prices, price)
        self._emit(request, "price.created", price)
        return price

    @route("POST", "/v1/prices")
    def create_price(self, request: FakeRequest) -> FakeResponse:
        params = self._params(
            request,
            names(
                "active billing_scheme currency currency_options custom_unit_amount expand "
                "lookup_key metadata nickname product product_data recurring tax_behavior tiers "
                "tiers_mode transfer_lookup_key transform_quantity unit_amount "
                "unit_amount_decimal"
            ),
        )
        return self.reply(self._new_price(request, params))

    @route("GET", "/v1/prices/{id}")
    def retrieve_price(self, request: FakeRequest) -> FakeResponse:
        return self._retrieve(request, self.prices, "price")

    @route("GET", "/v1/prices")
    def list_prices(self, request: FakeRequest) -> FakeResponse:
        return self._list(request, self.prices, "/v1/prices", equal="product active type")
