"""Test helpers for runio users: a clock you advance by hand, and a pytest plugin.

With ``TestClock``, waits and retry delays are tested without sleeping::

    clock = TestClock()
    client = runio.Client("app", database_url="sqlite://:memory:", clock=clock)
    client.send_event("new.user", {...})
    client.run_worker(until_idle=True)      # the run reaches its three-hour wait
    clock.advance(hours=3)
    client.run_worker(until_idle=True)      # ...and completes
"""

from __future__ import annotations

from ._clock import TestClock

__all__ = ["TestClock"]
