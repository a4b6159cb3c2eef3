"""``runio.otel``: OpenTelemetry spans for executions and task attempts, checked with the
OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import runio
from runio.integrations import HTTP
from runio.otel import OpenTelemetryPlugin, run_span_context
from runio.plugins import create_plugin_manager
from runio.testing import FakeRequest, FakeResponse, FakeVendorServer, TestClock, route

IMMEDIATE = runio.RetryOptions(limit=2, min_timeout=0, max_timeout=0, randomize=False)


class Traced:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span


@pytest.fixture
def traced() -> Traced:
    return Traced()


@pytest.fixture
def client(sqlite_url: str, clock: TestClock, traced: Traced) -> Iterator[runio.Client]:
    plugins = create_plugin_manager(
        plugins=[OpenTelemetryPlugin(tracer_provider=traced.provider)], entry_points=False
    )
    with runio.Client("traced", database_url=sqlite_url, clock=clock, plugins=plugins) as c:
        yield c


def run(client: runio.Client, event: str) -> runio.Run:
    run_id = client.send_event(event).run_ids[0]
    client.run_worker(until_idle=True)
    return client.get_run(run_id)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_an_execution_and_its_tasks_are_nested_spans(client: runio.Client, traced: Traced) -> None:
    tracer = traced.provider.get_tracer("app")

    @client.define_job(id="orders", version="2.0.0", trigger=runio.event_trigger("orders"))
    async def orders(payload: Any, io: runio.IO) -> int:
        async def fetch(task: runio.Task) -> int:
            async def page(task: runio.Task) -> int:
                return 2

            return await io.run_task(["page", 1], page, name="Fetch page")

        def save(task: runio.Task) -> int:  # in a worker thread
            with tracer.start_as_current_span("INSERT orders"):
                return 3

        return await io.run_task("fetch", fetch) + await io.run_task("save", save)

    done = run(client, "orders")
    assert done.status == "COMPLETED"
    execution = traced.one("run orders")
    fetch, page, save = (
        traced.one("task fetch"),
        traced.one("task Fetch page"),
        traced.one("task save"),
    )
    user = traced.one("INSERT orders")

    run_context = run_span_context(done.id)
    for span in (execution, fetch, page, save, user):
        assert span.context.trace_id == run_context.trace_id, span.name
    assert parent_of(execution) == run_context.span_id
    assert parent_of(fetch) == execution.context.span_id
    assert parent_of(page) == fetch.context.span_id
    assert parent_of(save) == execution.context.span_id
    assert parent_of(user) == save.context.span_id, "the task's span is current in its function"

    assert dict(execution.attributes or {}) == {
        "runio.run.id": done.id,
        "runio.app.id": "traced",
        "runio.job.id": "orders",
        "runio.job.version": "2.0.0",
        "runio.event.id": done.event_id,
        "runio.event.name": "orders",
        "runio.run.execution": 1,
        "runio.run.is_retry": False,
        "runio.run.status": "COMPLETED",
    }
    assert execution.status.status_code is StatusCode.OK
    page_task = done.task("fetch").children[0]
    assert dict(page.attributes or {}) == {
        "runio.run.id": done.id,
        "runio.job.id": "orders",
        "runio.task.id": page_task.id,
        "runio.task.name": "Fetch page",
        "runio.task.cache_key": json.dumps(["page", 1]),
        "runio.task.kind": "task",
        "runio.task.attempt": 1,
        "runio.task.idempotency_key": page_task.idempotency_key,
        "runio.task.outcome_unknown": False,
    }
    assert trace.get_current_span() is trace.INVALID_SPAN, "nothing stays current"


def test_a_retried_attempt_and_the_resumed_execution_share_the_run_trace(
    client: runio.Client, traced: Traced
) -> None:
    @client.define_job(id="flaky", trigger=runio.event_trigger("flaky"))
    async def flaky(payload: Any, io: runio.IO) -> str:
        def call(task: runio.Task) -> str:
            if task.attempt == 1:
                raise ConnectionError("refused")
            return "ok"

        return await io.run_task("call", call, retry=IMMEDIATE)

    done = run(client, "flaky")
    assert done.status == "COMPLETED" and done.execution_count == 2
    first, second = sorted(traced.named("run flaky"), key=lambda s: s.start_time or 0)
    assert first.attributes and first.attributes["runio.run.status"] == "WAITING"
    assert first.status.status_code is StatusCode.UNSET
    assert second.attributes and second.attributes["runio.run.execution"] == 2
    assert first.context.trace_id == second.context.trace_id == run_span_context(done.id).trace_id

    failed, succeeded = sorted(traced.named("task call"), key=lambda s: s.start_time or 0)
    assert parent_of(failed) == first.context.span_id
    assert parent_of(succeeded) == second.context.span_id
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes and failed.attributes["runio.task.attempt"] == 1
    assert failed.attributes["runio.task.retry_at"] == done.task("call").attempts[0].ended_at
    (event,) = failed.events
    assert event.name == "exception" and event.attributes
    assert event.attributes["exception.type"] == "ConnectionError"
    assert succeeded.attributes and succeeded.attributes["runio.task.attempt"] == 2
    assert succeeded.status.status_code is StatusCode.OK


def test_a_failed_run_records_its_error(client: runio.Client, traced: Traced) -> None:
    @client.define_job(id="broken", trigger=runio.event_trigger("broken"))
    async def broken(payload: Any, io: runio.IO) -> None:
        await io.run_task("bad", lambda task: 1 / 0)

    done = run(client, "broken")
    assert done.status == "FAILED"
    task, execution = traced.one("task bad"), traced.one("run broken")
    assert task.status.status_code is StatusCode.ERROR
    assert "ZeroDivisionError" in (task.status.description or "")
    assert execution.status.status_code is StatusCode.ERROR
    assert execution.attributes and execution.attributes["runio.run.status"] == "FAILED"
    assert [e.attributes["exception.type"] for e in execution.events if e.attributes] == [
        "runio.errors.TaskFailedError"
    ]


class FakeItems(FakeVendorServer):
    @route("POST", "/items")
    def create(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(201, json={"id": "item_1"})


def test_an_integration_call_names_its_integration(client: runio.Client, traced: Traced) -> None:
    with FakeItems() as server:

        @client.define_job(
            id="calls",
            trigger=runio.event_trigger("calls"),
            integrations={"items": HTTP(id="items-api", base_url=server.url)},
        )
        async def calls(payload: Any, io: runio.IO) -> Any:
            await io.run_task("plain", lambda task: 1)
            return await io.items.request("create", method="POST", url="/items")

        done = run(client, "calls")
    assert done.status == "COMPLETED", done.error
    create = traced.one("task HTTP request")
    assert create.attributes and create.attributes["runio.integration"] == "items-api"
    assert create.attributes["runio.task.cache_key"] == "create"
    plain = traced.one("task plain")
    assert plain.attributes is not None and "runio.integration" not in plain.attributes


def test_without_the_plugin_no_span_is_made(
    sqlite_url: str, clock: TestClock, traced: Traced
) -> None:
    plain = create_plugin_manager(entry_points=False)
    with runio.Client("untraced", database_url=sqlite_url, clock=clock, plugins=plain) as c:

        @c.define_job(id="j", trigger=runio.event_trigger("j"))
        async def j(payload: Any, io: runio.IO) -> int:
            return await io.run_task("t", lambda task: 1)

        assert run(c, "j").status == "COMPLETED"
    assert plain.lifecycle_impls() is None
    assert traced.spans() == []
