"""A worker killed with SIGKILL in the middle of a send, after Resend accepted the email and
before the answer came back: a second worker finishes the run with the same idempotency key,
and exactly one email exists, whether the killed attempt's start had been stored (it is then
recorded as interrupted) or not. The workers are real ``runio worker`` processes; FakeResend runs
in the test process and holds the send's answer until the test has killed the first worker,
answering the second worker's send with 409 ``concurrent_idempotent_requests`` while it still
holds it, as Resend does while the first request is in progress."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from procs import HOLD_STARTS_ENV, running, sender, settle_start_window, wait_for_status
from resend_helpers import API_KEY
from runio_resend.testing import FakeResend

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_APP = """
import os

import runio
from runio_resend import Resend

if os.environ.get("TEST_HOLD_STARTS"):  # how long a task's start may wait to be written
    from runio.storage import _deferred

    _deferred.HOLD_STARTS = float(os.environ["TEST_HOLD_STARTS"])

client = runio.Client(id="resend-crash-app")


@client.define_job(
    id="welcome",
    trigger=runio.event_trigger("signup"),
    integrations={"resend": Resend()},  # RESEND_API_KEY and RESEND_API_BASE from the environment
)
async def welcome(payload: dict, io: runio.IO) -> str:
    sent = await io.resend.send_email(
        "welcome-email",
        from_="Acme <hello@acme.dev>",
        to=payload["email"],
        subject="Welcome!",
        html="<p>Your account is ready.</p>",
    )
    return sent["id"]
"""


@pytest.mark.parametrize("start", ["stored", "lost"])
def test_an_email_is_sent_once_across_a_killed_worker(tmp_path: Path, start: str) -> None:
    """Resend deduplicates on the key, so the attempt's start is held as a plain task's (up to
    20 ms) and written while the send waits. ``stored`` kills the worker once it is written:
    the second worker sees an interrupted attempt. ``lost`` holds it for an hour (the app sets
    the hold), so the kill loses it: the second worker's attempts are the task's only ones,
    and the email is still sent once."""
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP), encoding="utf-8")
    with (
        FakeResend(api_key=API_KEY) as fake,
        running(tmp_path) as procs,
        sender(procs.database_url, "resend-crash-app", {"welcome": "signup"}) as client,
    ):
        env = {"RESEND_API_KEY": API_KEY, "RESEND_API_BASE": fake.url}
        if start == "lost":
            env[HOLD_STARTS_ENV] = "3600"
        hold = fake.hold_after_write(method="POST", path="/emails")
        run_id = client.send_event("signup", {"email": "ada@example.com"}).run_ids[0]
        first = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="first", env=env
        )
        held = hold.wait_applied(timeout=30)
        assert len(fake.emails) == 1  # Resend has it; the worker has not heard back
        settle_start_window(start, client, run_id, "welcome-email", procs)
        first.send(signal.SIGKILL)
        assert first.wait_exit(10) == -signal.SIGKILL

        second = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="second", env=env
        )
        # While the first request is still held, the second worker's send is refused as
        # concurrent (and retried); let the held one finish once that has happened.
        wait_for_status(client, [run_id], {"WAITING", "COMPLETED", "FAILED"}, timeout=60)
        hold.release()
        (run,) = wait_for_status(
            client, [run_id], {"COMPLETED", "FAILED"}, timeout=60, detail=procs.outputs
        )
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()

    assert run.status == "COMPLETED", (run.error, procs.outputs())
    (email,) = fake.emails.values()  # exactly one, though it was sent more than once
    assert run.output == email["id"]
    assert email["to"] == ["ada@example.com"]
    task = run.task("welcome-email")
    statuses = [a.status for a in task.attempts]
    assert statuses[-1] == "COMPLETED" and set(statuses[:-1]) <= {"ERRORED"}
    errors = [a.error["type"] for a in task.attempts[:-1]]
    if start == "stored":  # the killed attempt, then the second worker's refused sends
        assert errors[0] == "AttemptInterrupted" and "AttemptInterrupted" not in errors[1:]
    else:  # the lost start leaves no trace: every attempt is the second worker's
        assert "AttemptInterrupted" not in errors
    sends = [r for r in fake.requests if r.method == "POST" and r.path == "/emails"]
    assert {r.header("Idempotency-Key") for r in sends} == {task.idempotency_key}
    assert sends[0] is held
    refused = sends[1:-1]  # the second worker's sends while the first was still in progress
    assert refused and all(r.status == 409 for r in refused)
    assert sends[-1].outcome == "replayed" and sends[-1].status == 200
