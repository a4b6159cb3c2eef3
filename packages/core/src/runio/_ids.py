"""Identifiers: a prefix, then time-ordered hex, so ids sort by creation.

The random tail comes from a generator seeded from the OS once per process (and again in a
forked child), not from a system call per id: ids are created on the hot path of every task.
"""

from __future__ import annotations

import os
import random
import time

_rng = random.Random(os.urandom(16))


def _reseed() -> None:
    _rng.seed(os.urandom(16))


os.register_at_fork(after_in_child=_reseed)


def new_id(prefix: str) -> str:
    # 14 hex digits of microseconds, then 12 random ones: the 13 bytes of one integer, written
    # in hex by ``bytes.hex`` (faster than formatting two padded integers)
    return f"{prefix}_{((time.time_ns() // 1000) << 48 | _rng.getrandbits(48)).to_bytes(13).hex()}"
