"""A worker killed with SIGKILL right after Stripe applied its write, before the answer came
back: a second worker finishes the run with the same idempotency key and exactly one customer
exists, whether the killed attempt's start had been stored (it is then recorded as interrupted)
or not. The worker is a real ``runio worker`` process; FakeStripe runs in the test process and
holds the write's answer until the test has killed the worker."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from procs import HOLD_STARTS_ENV, running, sender, settle_start_window, wait_for_status
from runio_stripe.testing import FakeStripe
from stripe_helpers import API_KEY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_APP = """
import os

import runio
from runio_stripe import Stripe

if os.environ.get("TEST_HOLD_STARTS"):  # how long a task's start may wait to be written
    from runio.storage import _deferred

    _deferred.HOLD_STARTS = float(os.environ["TEST_HOLD_STARTS"])

client = runio.Client(id="stripe-crash-app")


@client.define_job(
    id="signup",
    trigger=runio.event_trigger("signup"),
    integrations={"stripe": Stripe()},  # STRIPE_API_KEY and STRIPE_API_BASE from the environment
)
async def signup(payload: dict, io: runio.IO) -> str:
    customer = await io.stripe.create_customer("customer", email=payload["email"])
    return customer["id"]
"""


@pytest.mark.parametrize("start", ["stored", "lost"])
def test_a_customer_is_created_once_across_a_killed_worker(tmp_path: Path, start: str) -> None:
    """Stripe deduplicates on the key, so the attempt's start is not committed before the call:
    it is held as a plain task's (up to 20 ms) and written while the call waits. ``stored``
    kills the worker once it is written: the second worker sees an interrupted attempt.
    ``lost`` holds it for an hour (the app sets the hold), so the kill loses it: the second
    worker's attempt is the task's first, and Stripe still applies the write once."""
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP), encoding="utf-8")
    with (
        FakeStripe(api_key=API_KEY) as fake,
        running(tmp_path) as procs,
        sender(procs.database_url, "stripe-crash-app", {"signup": "signup"}) as client,
    ):
        env = {"STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": fake.url}
        if start == "lost":
            env[HOLD_STARTS_ENV] = "3600"
        hold = fake.hold_after_write(method="POST", path="/v1/customers")
        run_id = client.send_event("signup", {"email": "ada@example.com"}).run_ids[0]
        first = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="first", env=env
        )
        held = hold.wait_applied(timeout=30)
        assert len(fake.customers) == 1  # Stripe has done it; the worker has not heard back
        settle_start_window(start, client, run_id, "customer", procs)
        first.send(signal.SIGKILL)
        assert first.wait_exit(10) == -signal.SIGKILL
        hold.release()

        second = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="second", env=env
        )
        (run,) = wait_for_status(
            client, [run_id], {"COMPLETED", "FAILED"}, timeout=60, detail=procs.outputs
        )
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()

    assert run.status == "COMPLETED", (run.error, procs.outputs())
    (customer,) = fake.customers.values()  # exactly one, though the write was sent twice
    assert run.output == customer["id"]
    assert customer["email"] == "ada@example.com"
    task = run.task("customer")
    if start == "stored":
        assert [a.status for a in task.attempts] == ["ERRORED", "COMPLETED"]
        assert task.attempts[0].error["type"] == "AttemptInterrupted"
    else:  # the lost start leaves no trace: the task's one attempt is the second worker's
        assert [a.status for a in task.attempts] == ["COMPLETED"]
    writes = [r for r in fake.requests if r.method == "POST"]
    assert [r.header("Idempotency-Key") for r in writes] == [task.idempotency_key] * 2
    assert writes[0] is held
    assert writes[1].outcome == "replayed"
