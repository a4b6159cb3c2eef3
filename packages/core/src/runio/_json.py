"""Turning task and job outputs into stored JSON and back.

Outputs are converted on the way in (pydantic models, dataclasses, datetimes, UUIDs, enums...),
checked against the size limit, and the first execution receives the JSON round-tripped value so
the first run and every replay see the same thing.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from json.scanner import make_scanner
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError, to_jsonable_python

__all__ = ["decode", "encode", "one_shot", "parse_as"]

_SHORT_INT = 10**18
"""Integers shorter than this are written by ``encode`` directly (far below Python's limit on
the digits an integer is written with)."""

_PLAIN = (str, int, float, bool, type(None))
_SCALARS = frozenset(_PLAIN)
"""Exact types a value's leaves may have to be encoded as they are."""
_WALK_BUDGET = 10_000
"""Containers ``_json_types_only`` looks into before leaving a value to the full conversion
(which also names one that contains itself)."""


def _json_types_only(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether ``value`` holds only dicts with ``str`` keys, lists and ``_SCALARS``, by exact
    type, all the way down: then JSON writes it as it is, and reads it back equal. An
    ``OrderedDict`` counts as a dict (JSON writes its items in its order, and reads back a dict
    equal to it): vendor SDKs decode their answers into them (Stripe's does). Anything else (a
    tuple, another subclass, a model, a non-string key, more than ``_WALK_BUDGET`` containers)
    is False, for the conversion and its checks."""
    stack = [value]
    pop, push = stack.pop, stack.append
    scalars = _SCALARS
    budget = _WALK_BUDGET
    while stack:
        item = pop()
        children: Any = item
        if type(item) is dict or type(item) is OrderedDict:
            for key in item:
                if type(key) is not str:
                    return False
            children = item.values()
        for child in children:
            kind = type(child)
            if kind not in scalars:
                if kind is not dict and kind is not list and kind is not OrderedDict:
                    return False
                budget -= 1
                if budget < 0:
                    return False
                push(child)
    return True


def one_shot(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, without the C encoder object ``JSONEncoder.encode`` builds for each
    value: one is built here, once, from the same settings (``json.encoder.c_make_encoder``,
    which ``JSONEncoder`` itself uses). Where that is missing, takes other arguments in this
    Python, or writes other text (an indenting encoder): ``encoder.encode`` itself. It does not
    track containers to name a circular one: nesting that deep fails with a RecursionError."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    escape = (
        json.encoder.encode_basestring_ascii
        if encoder.ensure_ascii
        else json.encoder.encode_basestring
    )
    try:
        scan = make(
            None,
            encoder.default,
            escape,
            None,
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
        sample: Any = {"a": [1, 2.5, None, True, "é\n"], "b": {}}
        if "".join(scan(sample, 0)) != encoder.encode(sample):  # e.g. an indenting encoder
            return encoder.encode
    except Exception:
        return encoder.encode
    join = "".join

    def encode(value: Any) -> str:
        if type(value) is str:
            return escape(value)
        return join(scan(value, 0))

    return encode


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_encode = one_shot(_ENCODER)
"""What ``encode`` writes with (``json.dumps`` with options would build an encoder per call)."""


class NotJsonError(Exception):
    """Raised by ``encode`` with a message naming the offending type."""


def encode(value: Any) -> str:
    """JSON text for ``value``, or NotJsonError saying what could not be stored.

    Refused rather than silently changed: NaN and infinity, two keys of one mapping that JSON
    would merge (``{1: "a", "1": "b"}``), and text holding a lone surrogate (not UTF-8)."""
    kind = type(value)
    if kind is int and -_SHORT_INT < value < _SHORT_INT:
        return int.__repr__(value)  # what JSON writes for it
    if (kind is dict or kind is list or kind is OrderedDict) and _json_types_only(value):
        pass  # JSON's own types all the way down (most params, API answers): nothing to convert
    elif not isinstance(value, _PLAIN):
        try:
            converted = to_jsonable_python(value)
        except PydanticSerializationError as exc:
            raise NotJsonError(_describe(exc)) from None
        except UnicodeDecodeError:
            raise NotJsonError(
                "bytes that are not UTF-8 text cannot be stored as JSON (encode them, e.g. base64)"
            ) from None
        except UnicodeEncodeError as exc:
            raise NotJsonError(_surrogate(exc.object, exc.start)) from None
        except (ValueError, TypeError, RecursionError) as exc:
            raise NotJsonError(_plain(exc)) from None
        check_keys(value)  # after the conversion, which refuses a value that contains itself
        value = converted
    try:
        text = _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise NotJsonError(_plain(exc)) from None
    if not text.isascii():  # CPython knows this without a scan
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise NotJsonError(_surrogate(exc.object, exc.start)) from None
    return text


def _plain(exc: BaseException) -> str:
    text = str(exc)
    if "integer string conversion" in text:
        return "an integer with more digits than Python writes as text (4300); store it as a string"
    if "Out of range float" in text:
        return "NaN and infinity are not JSON numbers; store None or a string instead"
    if isinstance(exc, RecursionError) or "depth exceeded" in text or "Circular" in text:
        return "the value is nested too deeply or contains itself (a circular reference)"
    return f"{type(exc).__name__}: {text}"


def _surrogate(text: str, at: int) -> str:
    around = text[max(0, at - 20) : at + 20]
    return (
        f"text holding a lone surrogate ({text[at]!r}, in {around!r}) is not UTF-8 and cannot be "
        "stored; it usually comes from decoding bytes with errors='surrogateescape' (decode "
        "them with errors='replace')"
    )


def check_keys(value: Any) -> None:
    """Refuse a mapping whose keys JSON would merge: ``{1: "a", "1": "b"}`` would keep one.

    Only dicts, lists and tuples are walked (what pydantic converts is checked by pydantic);
    only a dict with a non-string key pays for converting its keys. Written for speed: every
    task output passes here, so no generators and exact type tests first."""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict or (kind is not list and kind is not tuple and isinstance(item, dict)):
            checked = False
            for key, child in item.items():
                if not checked and type(key) is not str:
                    _check_dict_keys(item)
                    checked = True
                child_kind = type(child)
                if child_kind not in _PLAIN_TYPES and (
                    child_kind in _EXACT_CONTAINERS or isinstance(child, _CONTAINERS)
                ):
                    push(child)
        elif kind is list or kind is tuple or isinstance(item, list | tuple):
            for child in item:
                child_kind = type(child)
                if child_kind not in _PLAIN_TYPES and (
                    child_kind in _EXACT_CONTAINERS or isinstance(child, _CONTAINERS)
                ):
                    push(child)


_CONTAINERS = (dict, list, tuple)
_EXACT_CONTAINERS = frozenset(_CONTAINERS)
_PLAIN_TYPES = frozenset(_PLAIN)


def _check_dict_keys(item: dict[Any, Any]) -> None:
    try:
        converted = to_jsonable_python(dict.fromkeys(item))
    except Exception:  # the conversion of the whole value reports it
        return
    if isinstance(converted, dict) and len(converted) == len(item):
        return
    seen: dict[str, Any] = {}
    for key in item:
        try:
            name = next(iter(to_jsonable_python({key: None})))
        except Exception:
            continue
        if name in seen:
            raise NotJsonError(
                f"the keys {seen[name]!r} and {key!r} of one mapping both become {name!r} in "
                "JSON, so one value would be lost; make the keys distinct strings"
            )
        seen[name] = key


def _describe(exc: PydanticSerializationError) -> str:
    text = str(exc)
    marker = "Unable to serialize unknown type: "
    if marker in text:
        return "values of type " + text.split(marker, 1)[1].strip() + " cannot be stored as JSON"
    return text


def decode(text: str | None) -> Any:
    """The value of stored JSON text (None for none), exactly as ``json.loads`` gives it.

    Stored text is compact (this module wrote it), so the scanner reads it from its first
    character without ``json.loads``'s whitespace handling; any other text (surrounding
    whitespace, a byte-order mark, an error) takes ``json.loads`` itself, for its result or its
    error."""
    if text is None:
        return None
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


# What json.loads scans with (C when available); typeshed types its argument as a scanner, while
# json itself passes a JSONDecoder, as here.
_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


@lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def parse_as(tp: Any, value: Any) -> Any:
    """Validate a stored JSON value into ``tp`` (a pydantic model, dataclass, or any type hint)."""
    return _adapter(tp).validate_python(value)
