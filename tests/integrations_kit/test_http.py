"""The built-in ``io.http`` on httpx: requests awaited on the worker's loop, connections reused,
timeouts retried as unknown outcomes, HTTP/2 only when it can be spoken, and the blocking form
for synchronous task functions. (Its conformance with the integration kit is proven by
``test_conformance.TestHTTPConformance``.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_conformance import FakeItems

import runio
from runio.integrations import HTTP, HTTPClient
from runio.integrations import _http as http_module
from runio.testing import FakeRequest, FakeResponse, route


class FakeSlowItems(FakeItems):
    """FakeItems that also records which server thread (one per connection) served each
    request, and holds ``/slow`` until released."""

    def __init__(self) -> None:
        super().__init__()
        self.served_by: list[str] = []
        self.release = threading.Event()

    def _dispatch(self, request: FakeRequest) -> FakeResponse | None:
        self.served_by.append(threading.current_thread().name)
        return super()._dispatch(request)

    @route("GET", "/slow")
    def slow(self, request: FakeRequest) -> FakeResponse:
        self.release.wait(30)
        return FakeResponse(200, json={"slow": True})


@pytest.fixture
def server() -> Iterator[FakeSlowItems]:
    with FakeSlowItems() as fake:
        try:
            yield fake
        finally:
            fake.release.set()


def run_job(client: runio.Client, body: Any, **integrations: Any) -> runio.Run:
    @client.define_job(id="calls", trigger=runio.event_trigger("calls"), integrations=integrations)
    async def calls(payload: Any, io: runio.IO) -> Any:
        return await body(io)

    run_id = client.send_event("calls", {}).run_ids[0]
    client.run_worker(until_idle=True)
    return client.get_run(run_id)


def test_requests_run_on_the_worker_loop_and_reuse_one_connection(
    client: runio.Client, server: FakeSlowItems
) -> None:
    threads: list[str] = []

    class Watched(HTTP):
        def create_client(self) -> HTTPClient:
            made = super().create_client()
            send = made.arequest

            async def arequest(*args: Any, **kwargs: Any) -> dict[str, Any]:
                threads.append(threading.current_thread().name)
                return await send(*args, **kwargs)

            made.arequest = arequest  # type: ignore[method-assign]
            return made

    async def body(io: Any) -> Any:
        threads.append(threading.current_thread().name)  # the job's own: the loop's thread
        made = [await io.api.request(f"create-{n}", method="POST", url="/items") for n in range(3)]
        got = await io.api.request("get", url=f"/items/{made[0]['body']['id']}")
        return got["status"]

    run = run_job(client, body, api=Watched(base_url=server.url))
    assert run.status == "COMPLETED", run.error
    loop_thread, *request_threads = threads
    assert request_threads == [loop_thread] * 4, "each request is awaited on the worker's loop"
    assert not loop_thread.startswith("runio-task")
    assert len(server.served_by) == 4
    assert len(set(server.served_by)) == 1, "one kept-alive connection served every request"


def test_a_request_past_its_timeout_is_retried_as_an_unknown_outcome(
    client: runio.Client, server: FakeSlowItems
) -> None:
    twice = runio.RetryOptions(limit=2, min_timeout=0, max_timeout=0, randomize=False)

    async def body(io: Any) -> Any:
        return await io.api.with_options(retry=twice).request("slow", url="/slow")

    run = run_job(client, body, api=HTTP(base_url=server.url, timeout=0.2))
    assert run.status == "FAILED"
    task = run.task("slow")
    assert [a.error["type"] for a in task.attempts if a.error] == ["ReadTimeout", "ReadTimeout"]
    assert all(a.error and a.error.get("outcome_unknown") for a in task.attempts)
    assert server.served_by, "the request reached the server"


def test_a_refused_connection_is_retried(client: runio.Client) -> None:
    with FakeItems() as gone:
        url = gone.url  # a port nothing listens on once the server stops
    twice = runio.RetryOptions(limit=2, min_timeout=0, max_timeout=0, randomize=False)

    async def body(io: Any) -> Any:
        return await io.api.with_options(retry=twice).request("c", method="POST", url="/items")

    run = run_job(client, body, api=HTTP(base_url=url))
    assert run.status == "FAILED"
    attempts = run.task("c").attempts
    assert [a.error["type"] for a in attempts if a.error] == ["ConnectError", "ConnectError"]
    assert not any(a.error and a.error.get("outcome_unknown") for a in attempts)


def test_a_synchronous_task_function_gets_a_blocking_request(
    client: runio.Client, server: FakeSlowItems
) -> None:
    async def body(io: Any) -> Any:
        made = await io.api.run_task(
            "raw",
            lambda http, task: http.request(
                "POST", "/items", json={"n": 1}, headers={"Idempotency-Key": task.idempotency_key}
            ),
        )
        return made["body"]["n"]

    run = run_job(client, body, api=HTTP(base_url=server.url, token="tok-123"))
    assert run.output == 1, run.error
    (request,) = server.requests
    assert request.header("Authorization") == "Bearer tok-123"
    assert request.header("Idempotency-Key") == run.task("raw").idempotency_key


def test_http2_without_h2_installed_is_a_clear_error(
    client: runio.Client, server: FakeSlowItems, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module, "_has_h2", lambda: False)

    async def body(io: Any) -> Any:
        return await io.api.request("get", url="/items/x")

    run = run_job(client, body, api=HTTP(base_url=server.url, http2=True))
    assert run.status == "FAILED"
    assert 'pip install "runio[http2]"' in str(run.error)
    assert server.requests == []


@pytest.mark.parametrize(("installed", "expected"), [(True, True), (False, False)])
def test_http2_is_used_when_h2_is_installed_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch, installed: bool, expected: bool
) -> None:
    monkeypatch.setattr(http_module, "_has_h2", lambda: installed)
    if installed:
        pytest.importorskip("h2")
    assert HTTP().create_client().http2 is expected
    assert HTTP(http2=False).create_client().http2 is False
