"""Turning task and job outputs into stored JSON and back.

Outputs are converted on the way in (pydantic models, dataclasses, datetimes, UUIDs, enums...),
checked against the size limit, and the first execution receives the JSON round-tripped value so
the first run and every replay see the same thing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError, to_jsonable_python

__all__ = ["decode", "encode", "parse_as"]

_PLAIN = (str, int, float, bool, type(None))


class NotJsonError(Exception):
    """Raised by ``encode`` with a message naming the offending type."""


def encode(value: Any) -> str:
    """JSON text for ``value``, or NotJsonError saying which type could not be converted."""
    if not isinstance(value, _PLAIN):
        try:
            value = to_jsonable_python(value)
        except PydanticSerializationError as exc:
            raise NotJsonError(_describe(exc)) from None
        except UnicodeDecodeError:
            raise NotJsonError(
                "bytes that are not UTF-8 text cannot be stored as JSON (encode them, e.g. base64)"
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise NotJsonError(f"{type(exc).__name__}: {exc}") from None
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise NotJsonError(str(exc)) from None


def _describe(exc: PydanticSerializationError) -> str:
    text = str(exc)
    marker = "Unable to serialize unknown type: "
    if marker in text:
        return "values of type " + text.split(marker, 1)[1].strip() + " cannot be stored as JSON"
    return text


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def parse_as(tp: Any, value: Any) -> Any:
    """Validate a stored JSON value into ``tp`` (a pydantic model, dataclass, or any type hint)."""
    return _adapter(tp).validate_python(value)
