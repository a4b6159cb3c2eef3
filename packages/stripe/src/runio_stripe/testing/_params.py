"""Stripe's wire format in FakeStripe: form-encoded parameters parsed into nested values, and
the readers every endpoint checks its parameters with (raising Stripe's errors as
``FakeError``). Nothing here knows about any resource."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from runio.testing import FakeError


def names(text: str) -> frozenset[str]:
    """A set of parameter names from a space-separated list."""
    return frozenset(text.split())


def nulls(text: str) -> dict[str, None]:
    """Fields an object starts with as null, from a space-separated list: ``**nulls("a b")``
    in an object's literal (after the fields the fake sets)."""
    return dict.fromkeys(text.split())


ALNUM = string.ascii_letters + string.digits
DAY = 86_400
INTERVAL_SECONDS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}
LIST_PARAMS = names("created ending_before expand limit starting_after")
"""What every list endpoint accepts besides its own filters."""


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
                raise FakeError(400, f"Invalid array or hash: {key}", param=parts[0])
            node = child
    return {k: _listify(v) for k, v in root.items()}


def missing(param: str) -> FakeError:
    return FakeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: Any, *, param: str | None = None, status: int = 404) -> FakeError:
    return FakeError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param or "id"
    )


def int_param(params: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise missing(key)
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FakeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=key
        ) from None


def bool_param(params: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise FakeError(400, f"Invalid boolean: {value}", param=key)


def str_param(params: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise missing(key)
        return None
    if not isinstance(value, str):
        raise FakeError(400, f"Invalid string: {value!r}", param=key)
    return value


def hash_param(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise FakeError(400, f"Invalid object: {key} must be a hash", param=key)
    return value


def array_param(params: Mapping[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise FakeError(400, f"Invalid array: {key}", param=key)
    return value


def metadata_param(
    params: Mapping[str, Any], current: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Stripe's metadata update rules: keys merge, a key set to "" is removed, and
    ``metadata=""`` clears everything."""
    if params.get("metadata") == "":
        return {}
    merged = dict(current or {})
    for key, value in hash_param(params, "metadata").items():
        if not isinstance(value, str):
            raise FakeError(400, "Invalid metadata value", param=f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise FakeError(400, "Metadata can have up to 50 keys.", param="metadata")
    return merged


def check_known(params: Mapping[str, Any], known: Iterable[str]) -> None:
    allowed = set(known)
    for key in params:
        if key not in allowed:
            raise FakeError(
                400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key
            )


def address_of(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: data.get(key) or None
        for key in ("city", "country", "line1", "line2", "postal_code", "state")
    }


def amount_param(params: Mapping[str, Any], key: str) -> int:
    amount = int_param(params, key, required=True)
    assert amount is not None
    if amount < 1:
        raise FakeError(
            400,
            "Amount must be at least 1 (in the currency's smallest unit).",
            code="amount_too_small",
            param=key,
        )
    if amount > 99_999_999:
        raise FakeError(
            400, "Amount must be no more than $999,999.99", code="amount_too_large", param=key
        )
    return amount


def currency_param(params: Mapping[str, Any]) -> str:
    currency = str_param(params, "currency", required=True)
    assert currency is not None
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise FakeError(400, f"Invalid currency: {currency.lower()}.", param="currency")
    return currency.lower()


def display_amount(amount: int, currency: str) -> str:
    return f"${amount / 100:,.2f}" if currency == "usd" else f"{amount} {currency}"
