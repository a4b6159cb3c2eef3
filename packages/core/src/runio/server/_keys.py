"""API keys of the HTTP server: making them, checking them, listing and revoking them.

A key reads ``runio_<key id>_<secret>``. Only the SHA-256 hash of the secret is stored (the
secret has 256 bits of entropy, so a plain hash is enough: nothing is left to guess); the key
itself is shown once, when it is created. Checking a key reads its row by id and compares the
hashes in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .._ids import new_id
from .._records import ApiKeyRecord
from ..errors import ConfigurationError
from ..storage import Store

_KEY = re.compile(r"^runio_(key_[0-9a-f]{26})_([A-Za-z0-9_-]{43})$")
_NAME_MAX = 100


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


async def create_key(store: Store, name: str, *, now: float) -> tuple[ApiKeyRecord, str]:
    """Store a new key named ``name``; return its record and the key (shown only now)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise ConfigurationError(
            f"An API key needs a name of 1-{_NAME_MAX} printable characters saying who uses it "
            f"(e.g. 'billing-service'), got {name!r}."
        )
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(new_id("key"), name, _hash(secret), now)
    await store.create_api_key(record)
    return record, f"runio_{record.id}_{secret}"


async def check_key(store: Store, key: str) -> ApiKeyRecord | None:
    """The active key ``key`` is, or None (malformed, unknown, revoked or wrong secret)."""
    match = _KEY.match(key)
    if match is None:
        return None
    record = await store.get_api_key(match.group(1))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(_hash(match.group(2)), record.secret_hash):
        return None
    return record


async def any_active_key(store: Store) -> bool:
    return any(k.revoked_at is None for k in await store.list_api_keys())
