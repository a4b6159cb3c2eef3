"""The API key reaches Stripe and nowhere else: not the database (every text column of every
table, and the files on disk), not the logs (runio's and the stripe SDK's own), not a repr."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from integration_world import text_columns
from stripe_helpers import API_KEY, World

import runio


def test_the_api_key_never_reaches_the_store_or_the_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the stripe SDK logs requests, errors and bodies at DEBUG
    fake = world.fake
    fake.fail_next(
        fake.error_response(401, f"Invalid API Key provided: {API_KEY}"), path="/v1/charges"
    )
    fake.drop_after_write(path="/v1/products")

    async def body(io_stripe: Any) -> Any:
        customer = await io_stripe.create_customer(
            "customer", email="ada@example.com", description=f"notes mentioning {API_KEY}"
        )
        await io_stripe.create_product("product", name="Plan")  # dropped, then replayed
        outcomes = []
        try:
            await io_stripe.create_charge("charge", amount=100, currency="usd", source="tok_visa")
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)

        def leaky(client: Any, task: runio.Task) -> Any:
            raise RuntimeError(f"the vendor echoed the key {API_KEY}")

        try:
            await io_stripe.run_task("leaky", leaky, params={"api_key": API_KEY})
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)
        io_stripe_key_in_output = {"customer": customer["id"]}
        return {"outcomes": outcomes, **io_stripe_key_in_output}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(run.output["outcomes"]) == 2
    assert all("[redacted]" in message for message in run.output["outcomes"])

    # It did reach Stripe, with every request.
    assert all(r.header("Authorization") == f"Bearer {API_KEY}" for r in fake.requests)
    # ...and the fake echoed it back in one answer, which the SDK logged.
    assert any("[redacted]" in r.getMessage() for r in caplog.records if r.name == "stripe")

    rows = text_columns(world.database)
    assert rows, "the database has no rows to scan"
    leaks = [(table, column) for table, column, value in rows if API_KEY in value]
    assert leaks == [], f"the API key is stored in {leaks}"
    task = run.task("customer")
    assert task.params["description"] == "notes mentioning [redacted]"
    for path in world.database.parent.glob(world.database.name + "*"):
        assert API_KEY.encode() not in path.read_bytes(), f"the API key is in {path.name}"

    formatter = logging.Formatter("%(name)s %(message)s %(exc_info)s")
    for record in caplog.records:
        assert API_KEY not in formatter.format(record), f"the API key was logged: {record}"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(world.stripe)
    assert API_KEY not in str(world.stripe.__dict__.get("_http"))
