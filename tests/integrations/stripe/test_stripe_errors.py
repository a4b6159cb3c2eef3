"""How Stripe's answers become runio's retries: ``Stripe-Should-Retry`` first, then 409/429/5xx
transient (at ``Retry-After`` when given, else the standard backoff), other 4xx permanent with
Stripe's message, code and request id; idempotency errors explained; writes of unknown outcome
applied once."""

from __future__ import annotations

import itertools
import socket
from typing import Any

import pytest
import stripe
from runio_stripe import Stripe, StripeAPIError
from stripe_helpers import API_KEY, World

import runio
from runio.errors import TaskFailedError


async def create_customer(io_stripe: Any) -> Any:
    return await io_stripe.create_customer("customer", email="ada@example.com")


def statuses(run: runio.Run, key: str = "customer") -> list[str]:
    return [a.status for a in run.task(key).attempts]


# -- retried at the right time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "rate_limit"), (429, "lock_timeout"), (409, None), (500, None), (503, None)],
)
def test_a_retry_after_is_honoured(world: World, status: int, code: str | None) -> None:
    world.fake.fail_next(
        world.fake.error_response(status, code=code, headers={"Retry-After": "42"})
    )
    run_id = world.start(create_customer)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING", run.error
    task = run.task("customer")
    assert task.retry_at is not None
    assert task.retry_at - world.clock.now() == pytest.approx(42, abs=1.5)
    world.clock.advance(seconds=30)
    world.work()
    assert world.client.get_run(run_id).status == "WAITING", "retried before Stripe's time"
    assert len(world.fake.requests) == 1
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"]
    assert len(world.fake.customers) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(429, "rate_limit"), (429, "lock_timeout"), (409, None), (500, None)]
)
def test_without_a_retry_after_the_standard_backoff_applies(
    world: World, status: int, code: str | None
) -> None:
    world.fake.fail_next(world.fake.error_response(status, code=code))
    run_id = world.start(create_customer)
    world.work()
    run = world.client.get_run(run_id)
    assert run.status == "WAITING", run.error
    delay = run.task("customer").retry_at - world.clock.now()  # type: ignore[operator]
    # standard_backoff's first delay: 0.5 s times a jitter in [1, 2)
    assert 0.5 <= delay < 1.0 + 1e-6, delay
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"]
    assert len(world.fake.customers) == 1
    assert run.task("customer").attempts[0].error["type"] == "StripeAPIError"


def test_stripe_should_retry_false_wins_over_a_5xx(world: World) -> None:
    world.fake.fail_next(500, headers={"Stripe-Should-Retry": "false"})
    run = world.run(create_customer)
    assert run.status == "FAILED"
    assert statuses(run) == ["ERRORED"]
    assert len(world.fake.requests) == 1


def test_stripe_should_retry_true_wins_over_a_4xx(world: World) -> None:
    world.fake.fail_next(400, headers={"Stripe-Should-Retry": "true", "Retry-After": "5"})
    run_id = world.start(create_customer)
    world.work()
    task = world.client.get_run(run_id).task("customer")
    assert task.retry_at - world.clock.now() == pytest.approx(5, abs=1.5)  # type: ignore[operator]
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    assert statuses(run) == ["ERRORED", "COMPLETED"]


def test_transient_errors_use_up_the_retry_limit(world: World) -> None:
    world.fake.fail_next(500, times=10)
    limited = Stripe(
        api_key=API_KEY,
        base_url=world.fake.url,
        retry=runio.RetryOptions(limit=3, factor=2, min_timeout=1, max_timeout=10),
    )
    run = world.run(create_customer, integration=limited)
    assert run.status == "FAILED"
    assert statuses(run) == ["ERRORED"] * 3
    assert world.fake.customers == {}


# -- failing at once ------------------------------------------------------------------------------


TASK = runio.Task(
    id="t",
    idempotency_key="0" * 64,
    attempt=1,
    cache_key="k",
    run_id="r",
    parent_id=None,
    params=None,
    name="k",
)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "parameter_invalid_integer", "Invalid integer: lots"),
        (401, "api_key_invalid", "Invalid API Key provided: sk_test_****abcd"),
        (402, "card_declined", "Your card was declined."),
        (403, "account_invalid", "The provided key does not have access to account 'acct_x'."),
        (404, "resource_missing", "No such customer: 'cus_missing'"),
    ],
)
def test_4xx_fails_at_once_with_message_code_and_request_id(
    world: World, status: int, code: str, message: str
) -> None:
    answer = world.fake.error_response(status, message, code=code, param="email")
    world.fake.fail_next(answer)
    run = world.run(create_customer)
    assert run.status == "FAILED"
    task = run.task("customer")
    assert statuses(run) == ["ERRORED"], "a permanent error was retried"
    assert len(world.fake.requests) == 1
    error = task.error
    assert error["type"] == "StripeAPIError"
    request_id = answer.headers["Request-Id"]
    assert error["message"] == (
        f"Stripe {status} {answer.json['error']['type']} ({code}, param email): {message} "
        f"[request {request_id}]"
    )
    assert run.error is not None and message in run.error["message"]


def test_a_declined_card_is_reported_with_its_decline_code(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        try:
            return await io_stripe.create_charge(
                "charge", amount=5000, currency="usd", source="tok_chargeDeclinedInsufficientFunds"
            )
        except TaskFailedError as exc:
            assert isinstance(exc.__cause__, StripeAPIError)
            assert isinstance(exc.__cause__.stripe_error, stripe.CardError)
            return {
                "status": exc.__cause__.http_status,
                "code": exc.__cause__.code,
                "decline_code": exc.__cause__.decline_code,
                "request_id": exc.__cause__.request_id,
                "message": exc.error_message,
            }

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    found = run.output
    assert (found["status"], found["code"], found["decline_code"]) == (
        402,
        "card_declined",
        "insufficient_funds",
    )
    assert found["request_id"] == world.fake.request_ids[-1]
    assert found["message"] == (
        "Stripe 402 card_error (card_declined, decline code insufficient_funds): Your card has "
        f"insufficient funds. [request {found['request_id']}]"
    )
    assert statuses(run, "charge") == ["ERRORED"]
    (failed,) = world.fake.charges.values()  # Stripe records the declined charge too
    assert failed["status"] == "failed"


def test_a_missing_object_fails_at_once(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        return await io_stripe.retrieve_subscription("subscription", id="sub_missing")

    run = world.run(body)
    assert run.status == "FAILED"
    assert statuses(run, "subscription") == ["ERRORED"]
    message = run.task("subscription").error["message"]
    assert message.startswith("Stripe 404 invalid_request_error (resource_missing, param id): ")
    assert "No such subscription: 'sub_missing'" in message


# -- idempotency ----------------------------------------------------------------------------------


def test_an_idempotency_error_fails_at_once_and_says_why(world: World) -> None:
    """Parameters that change between attempts (here a counter, standing for a clock or a random
    value) reuse the task's idempotency key with different parameters: Stripe refuses, and the
    task fails at once with an explanation instead of retrying."""
    executions = itertools.count()
    world.fake.drop_after_write()  # the first write is applied, its answer lost: a retry follows

    async def body(io_stripe: Any) -> Any:
        email = f"user{next(executions)}@example.com"  # differs on the second execution
        return await io_stripe.create_customer("signup-customer", email=email)

    run = world.run(body)
    assert run.status == "FAILED"
    task = run.task("signup-customer")
    assert statuses(run, "signup-customer") == ["ERRORED", "ERRORED"]
    error = task.error
    assert error["type"] == "StripeIdempotencyError"
    message = error["message"]
    assert "already used with different parameters" in message
    assert "cache key 'signup-customer'" in message
    assert run.id in message
    assert "give each request its own cache key" in message
    assert "Keys for idempotent requests can only be used with the same parameters" in message
    assert "[request req_" in message
    assert [c["email"] for c in world.fake.customers.values()] == ["user0@example.com"]
    second = world.fake.requests[-1]
    assert (second.status, second.header("Idempotency-Key")) == (400, task.idempotency_key)


def test_an_idempotency_error_from_run_task_fails_at_once(world: World) -> None:
    world.fake.drop_after_write()
    executions = itertools.count()

    async def body(io_stripe: Any) -> Any:
        n = next(executions)

        async def fn(client: stripe.StripeClient, task: runio.Task) -> Any:
            made = await client.v1.customers.create_async(
                {"email": f"user{n}@example.com"}, {"idempotency_key": task.idempotency_key}
            )
            return made.to_dict()

        return await io_stripe.run_task("raw", fn)

    run = world.run(body)
    assert run.status == "FAILED"
    assert statuses(run, "raw") == ["ERRORED", "ERRORED"]
    error = run.task("raw").error
    assert error["type"] == "StripeIdempotencyError"  # run_task errors are translated too
    assert "already used with different parameters" in error["message"]
    assert "IdempotencyError" in error["stack"]  # the SDK's error stays chained
    assert len(world.fake.customers) == 1


def test_run_task_errors_carry_stripes_message_code_and_request_id(world: World) -> None:
    async def body(io_stripe: Any) -> Any:
        async def fn(client: stripe.StripeClient, task: runio.Task) -> Any:
            return (await client.v1.customers.retrieve_async("cus_missing")).to_dict()

        return await io_stripe.run_task("raw-read", fn)

    run = world.run(body)
    assert run.status == "FAILED"
    assert statuses(run, "raw-read") == ["ERRORED"]
    error = run.task("raw-read").error
    assert error["type"] == "StripeAPIError"
    assert error["message"] == (
        "Stripe 404 invalid_request_error (resource_missing, param id): No such customer: "
        f"'cus_missing' [request {world.fake.request_ids[-1]}]"
    )


# -- unknown outcomes -----------------------------------------------------------------------------


@pytest.mark.parametrize("wrapper", ["create_customer", "create_charge"])
def test_a_write_whose_answer_was_lost_is_applied_once(world: World, wrapper: str) -> None:
    params: dict[str, Any] = (
        {"email": "ada@example.com"}
        if wrapper == "create_customer"
        else {"amount": 2500, "currency": "usd", "source": "tok_visa"}
    )
    world.fake.drop_after_write()

    async def body(io_stripe: Any) -> Any:
        return await getattr(io_stripe, wrapper)("write", **params)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    task = run.task("write")
    first, second = task.attempts
    assert (first.status, second.status) == ("ERRORED", "COMPLETED")
    assert first.error is not None and first.error.get("outcome_unknown") is True
    assert first.error["type"] == "APIConnectionError"
    store = world.fake.customers if wrapper == "create_customer" else world.fake.charges
    (only,) = store.values()  # exactly one object, though Stripe received the write twice
    assert run.output == only
    assert [(r.outcome, r.header("Idempotency-Key")) for r in world.fake.requests] == [
        ("dropped", task.idempotency_key),
        ("replayed", task.idempotency_key),
    ]


def test_a_refused_connection_is_retried_and_is_not_an_unknown_outcome(world: World) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Stripe(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{port}",
        retry=runio.RetryOptions(limit=2, factor=2, min_timeout=1, max_timeout=10),
    )
    run = world.run(create_customer, integration=unreachable)
    assert run.status == "FAILED"
    attempts = run.task("customer").attempts
    assert [a.status for a in attempts] == ["ERRORED", "ERRORED"]  # retried
    assert all(a.error is not None and "outcome_unknown" not in a.error for a in attempts)


def test_cancel_after_an_unknown_outcome_returns_the_canceled_subscription(
    world: World,
) -> None:
    async def setup(io_stripe: Any) -> Any:
        customer = await io_stripe.create_customer("c", email="ada@example.com")
        price = await io_stripe.create_price(
            "p",
            product_data={"name": "Plan"},
            unit_amount=500,
            currency="usd",
            recurring={"interval": "month"},
        )
        return await io_stripe.create_subscription(
            "s", customer=customer["id"], items=[{"price": price["id"]}], trial_period_days=7
        )

    subscription = world.run(setup).output
    world.fake.drop_after_write(method="DELETE")

    async def cancel(io_stripe: Any) -> Any:
        return await io_stripe.cancel_subscription("cancel", id=subscription["id"])

    run = world.run(cancel)
    assert run.status == "COMPLETED", run.error
    assert run.output["status"] == "canceled"
    assert statuses(run, "cancel") == ["ERRORED", "COMPLETED"]
    methods = [r.method for r in world.fake.requests if subscription["id"] in r.path]
    assert methods == ["DELETE", "GET"]  # looked it up instead of canceling again


# -- the classification itself --------------------------------------------------------------------


def _api_error(status: int, headers: dict[str, str], kind: type = stripe.APIError) -> Any:
    body = {"error": {"type": "api_error", "message": "x"}}
    if kind is stripe.APIError or kind is stripe.RateLimitError:
        return kind("x", None, status, body, headers)
    return kind("x", None, None, None, status, body, headers)


@pytest.mark.parametrize(
    ("status", "headers", "action", "when"),
    [
        (500, {}, "retry", None),
        (502, {"Retry-After": "3"}, "retry_at", 3.0),
        (409, {}, "retry", None),
        (429, {"retry-after": "12"}, "retry_at", 12.0),
        (429, {}, "retry", None),
        (500, {"Stripe-Should-Retry": "false"}, "fail", None),
        (400, {"Stripe-Should-Retry": "true"}, "retry", None),
        (400, {}, "fail", None),
        (401, {}, "fail", None),
        (402, {}, "fail", None),
        (403, {}, "fail", None),
        (404, {}, "fail", None),
    ],
)
def test_classify_error(status: int, headers: dict[str, str], action: str, when: Any) -> None:
    integration = Stripe(api_key=API_KEY)
    kind: type = stripe.APIError
    if status == 429:
        kind = stripe.RateLimitError
    elif status in (400, 404):
        kind = stripe.InvalidRequestError
    elif status == 402:
        kind = stripe.CardError
    error = _api_error(status, headers, kind)
    decision = integration.classify_error(error, TASK)
    assert decision is not None
    assert (decision.action, decision.when) == (action, when)
    wrapped = StripeAPIError.from_stripe(error)
    assert integration.classify_error(wrapped, TASK) == decision


def test_classify_error_on_connection_and_idempotency_errors() -> None:
    integration = Stripe(api_key=API_KEY)
    connection = integration.classify_error(
        stripe.APIConnectionError("down", should_retry=True), TASK
    )
    assert connection is not None and connection.action == "retry"
    idempotency = stripe.IdempotencyError(
        "Keys for idempotent requests...", None, 400, {"error": {"type": "idempotency_error"}}, {}
    )
    decision = integration.classify_error(idempotency, TASK)
    assert decision is not None and decision.action == "fail"
    assert integration.classify_error(ValueError("not Stripe's"), TASK) is None
