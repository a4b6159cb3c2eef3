"""Cache keys and the idempotency-key formula.

``idempotency_key = sha256_hex(":".join([run_id, parent_idempotency_key or "", *parts]))`` where a
string cache key is one part, and a sequence's items are its parts (nested sequences flattened,
non-strings written as compact JSON with sorted keys).
``task_key(scope_prefix(run_id, parent_idempotency_key), cache_key)`` computes it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from ._json import one_shot
from .errors import InvalidCacheKeyError

JsonScalar: TypeAlias = str | int | float | bool | None
CacheKey: TypeAlias = str | Sequence["JsonScalar | CacheKey"]


def cache_key_parts(cache_key: object) -> list[str]:
    """The string parts of a cache key, or a clear error saying what is wrong with it.

    One pass over the key: ASCII text is accepted without a scan; other text costs one encode
    (to refuse lone surrogates, which cannot be stored or hashed)."""
    if isinstance(cache_key, str):
        if not cache_key:
            raise InvalidCacheKeyError(
                "A cache key must not be empty: give each task a short name such as 'fetch-user'."
            )
        _check_text(cache_key, cache_key)
        return [cache_key]
    if isinstance(cache_key, list | tuple):
        parts: list[str] = []
        _flatten(cache_key, parts, cache_key)
        if not parts:
            raise InvalidCacheKeyError(
                "A cache key must not be an empty sequence: use e.g. ['send-email', user_id]."
            )
        return parts
    if isinstance(cache_key, Sequence) and not isinstance(cache_key, bytes | bytearray):
        raise InvalidCacheKeyError(
            f"A cache key that is a sequence must be a list or tuple (it is stored as a JSON "
            f"array), got {type(cache_key).__name__}: {cache_key!r}. Convert it, e.g. "
            f"list({cache_key!r})."
        )
    raise InvalidCacheKeyError(
        f"A cache key must be a string or a sequence of JSON scalars, got "
        f"{type(cache_key).__name__}: {cache_key!r}. Use e.g. 'fetch-user' or ['fetch-user', 42]."
    )


def _check_text(part: str, whole: object) -> None:
    if not part.isascii():
        try:
            part.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidCacheKeyError(
                f"Cache key {whole!r} holds a lone surrogate ({part[exc.start]!r} at position "
                f"{exc.start} of {part!r}), which is not text and cannot be stored. Decode "
                "bytes with errors='replace', or use an id."
            ) from None


def _flatten(items: list[object] | tuple[object, ...], out: list[str], whole: object) -> None:
    for item in items:
        if isinstance(item, str):
            _check_text(item, whole)
            out.append(item)
        elif item is None or isinstance(item, bool | int):
            try:
                out.append(json.dumps(item))
            except ValueError:  # more digits than Python converts to text
                raise InvalidCacheKeyError(
                    f"Cache key {whole!r} holds an integer too large to write as text; use a "
                    "shorter id."
                ) from None
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidCacheKeyError(
                    f"Cache key {whole!r} holds {item!r}, which is not a JSON number; its parts "
                    "must be strings, finite numbers, booleans or None."
                )
            out.append(json.dumps(item))
        elif isinstance(item, list | tuple):
            _flatten(item, out, whole)
        else:
            raise InvalidCacheKeyError(
                f"Cache key {whole!r} holds a {type(item).__name__} ({item!r}); its parts must be "
                "strings, numbers, booleans or None, in lists or tuples. Use an id, e.g. "
                "str(value)."
            )


_KEY_ENCODER = one_shot(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")))


def cache_key_json(cache_key: object) -> str:
    """The cache key as stored and displayed (JSON)."""
    return _KEY_ENCODER(cache_key)


def scope_prefix(run_id: str, parent_idempotency_key: str | None) -> str:
    """What every idempotency key of one scope (the run's top level, or one parent task) hashes
    before the cache key's parts."""
    return f"{run_id}:{parent_idempotency_key or ''}:"


def task_key(scope: str, cache_key: object) -> str:
    """The idempotency key (the formula above) of ``cache_key`` in the scope ``scope`` (from
    ``scope_prefix``), or a clear error for a bad key. A non-empty ASCII string key, the common
    case, costs one concatenation and one hash: no list of parts."""
    if type(cache_key) is str and cache_key and cache_key.isascii():
        text = scope + cache_key
    else:
        text = scope + ":".join(cache_key_parts(cache_key))
    return _sha256(text.encode("utf-8")).hexdigest()


def _fast_sha256() -> Callable[[bytes], hashlib._Hash]:
    """SHA-256 for the short texts keys are: CPython's own implementation (``_sha2`` since 3.12,
    ``_sha256`` before) where the interpreter has it, else ``hashlib``'s (OpenSSL's). The same
    digest; for a 40-byte text the built-in one is a third faster, OpenSSL's cost being in
    setting up and copying its context. ``hashlib``'s is kept where OpenSSL runs in FIPS mode
    (its policy stands, although keys are not secrets), on other interpreters (PyPy's built-in
    one is pure Python), and where the built-in one is missing or refuses to hash."""
    if sys.implementation.name != "cpython" or _fips_mode():
        return hashlib.sha256
    for module in ("_sha2", "_sha256"):
        try:
            sha256: Callable[[bytes], hashlib._Hash] = importlib.import_module(module).sha256
            if sha256(b"runio").hexdigest() == hashlib.sha256(b"runio").hexdigest():
                return sha256
        except Exception:  # missing, or refused when called (a FIPS build's may be)
            continue
    return hashlib.sha256


def _fips_mode() -> bool:
    """Whether the OpenSSL behind ``hashlib`` runs in FIPS mode."""
    try:
        return bool(importlib.import_module("_hashlib").get_fips_mode())
    except Exception:  # no OpenSSL, or a build without the call
        return False


_sha256 = _fast_sha256()
