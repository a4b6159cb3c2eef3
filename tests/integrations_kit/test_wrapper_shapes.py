"""Wrapper shapes the kit must support as DESIGN shows them: ``**params`` wrappers, and SDK
errors translated into errors a user can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import runio


class SDKError(Exception):
    """What a vendor SDK raises."""

    def __init__(self, code: str) -> None:
        super().__init__(f"sdk failure {code}")
        self.code = code


class VendorProblem(Exception):
    """What the integration turns it into."""


class Vendor(runio.Integration[Any]):
    namespace = "vendor"
    name = "Vendor"
    icon = "vendor"
    idempotency = "key"
    token: str = runio.setting(default="tok_vendor_secret")

    def create_client(self) -> Any:
        return object()

    def translate_error(self, error: Exception, task: runio.Task) -> Exception:
        if isinstance(error, SDKError):
            return VendorProblem(
                f"The vendor refused the call (code {error.code}) in task {task.cache_key!r}; "
                "fix the input."
            )
        return error

    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        return runio.ErrorDecision.fail() if isinstance(error, SDKError) else None

    @runio.integration_task(
        name="Create Thing",
        effect="write",
        properties=lambda p: [runio.Property("Email", p.get("email"))],
    )
    async def create_thing(self, client: Any, task: runio.Task, /, **params: Any) -> dict[str, Any]:
        """Create a thing with whatever the vendor accepts."""
        return {"received": params}


def _run(make_client: Callable[..., runio.Client], body: Any) -> runio.Run:
    client = make_client()

    @client.define_job(id="j", trigger=runio.event_trigger("go"), integrations={"vendor": Vendor()})
    async def job(payload: object, io: runio.IO) -> Any:
        return await body(io)

    run_id = client.send_event("go").run_ids[0]
    client.run_worker(until_idle=True)
    return client.get_run(run_id)


def test_a_keyword_wrapper_receives_the_callers_parameters_flat(
    make_client: Callable[..., runio.Client],
) -> None:
    async def body(io: Any) -> Any:
        return await io.vendor.create_thing("thing", email="ada@example.com", plan="pro")

    run = _run(make_client, body)
    assert run.status == "COMPLETED", run.error
    assert run.output == {"received": {"email": "ada@example.com", "plan": "pro"}}
    task = run.task("thing")
    assert task.params == {"email": "ada@example.com", "plan": "pro"}
    assert task.properties == [{"label": "Email", "text": "ada@example.com"}]


def test_sdk_errors_are_recorded_as_the_integration_translates_them(
    make_client: Callable[..., runio.Client],
) -> None:
    calls: list[int] = []

    async def body(io: Any) -> Any:
        def call(client: Any, task: runio.Task) -> None:
            calls.append(task.attempt)
            raise SDKError("E42")

        return await io.vendor.run_task("raw-call", call)

    run = _run(make_client, body)
    assert run.status == "FAILED"
    task = run.task("raw-call")
    assert task.status == "ERRORED"
    assert task.error is not None and task.error["type"] == "VendorProblem"
    assert "code E42) in task 'raw-call'" in task.error["message"]
    assert "SDKError" in task.error["stack"], "the SDK's error stays chained"
    assert calls == [1], "classified on the SDK's own error: failed at once"
