"""A job's payload annotation is checked against what the job receives when it is defined, and a
property without a value is left out of what a task shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio.errors import JobDefinitionError
from runio.testing import TestClock


class NewUser(BaseModel):
    user_id: str


class Order(BaseModel):
    order_id: str


class Person(BaseModel):
    name: str


class Employee(Person):
    company: str


@pytest.fixture
def client(tmp_path: Path) -> Iterator[runio.Client]:
    with runio.Client(
        "typed-jobs", database_url=f"sqlite:///{tmp_path / 'db'}", clock=TestClock()
    ) as client:
        yield client


def test_a_dict_annotation_with_a_schema_names_both(client: runio.Client) -> None:
    with pytest.raises(JobDefinitionError) as raised:

        @client.define_job(id="j", trigger=runio.event_trigger("new.user", schema=NewUser))
        async def job(payload: dict[str, Any], io: runio.IO) -> None: ...

    message = str(raised.value)
    assert "'payload' is annotated dict" in message
    assert "schema is NewUser, so it receives a NewUser" in message
    assert "annotate it NewUser" in message
    assert "j" not in client.jobs


def test_another_model_than_the_schema_names_both(client: runio.Client) -> None:
    with pytest.raises(JobDefinitionError, match=r"annotated Order, but the trigger's schema is"):

        @client.define_job(id="j", trigger=runio.event_trigger("new.user", schema=NewUser))
        async def job(payload: Order, io: runio.IO) -> None: ...


def test_a_model_annotation_without_a_schema_says_to_pass_it(client: runio.Client) -> None:
    with pytest.raises(JobDefinitionError) as raised:

        @client.define_job(id="j", trigger=runio.event_trigger("new.user"))
        async def job(payload: NewUser, io: runio.IO) -> None: ...

    message = str(raised.value)
    assert "annotated NewUser" in message
    assert "the trigger has no schema, so it receives the JSON payload" in message
    assert "schema=NewUser" in message


def test_a_scheduled_job_receives_a_tick(client: runio.Client) -> None:
    with pytest.raises(JobDefinitionError, match=r"hands it a runio\.ScheduledTick"):

        @client.define_job(id="j", trigger=runio.interval_trigger(seconds=60))
        async def job(payload: NewUser, io: runio.IO) -> None: ...

    @client.define_job(id="tick", trigger=runio.interval_trigger(seconds=60))
    async def tick(payload: runio.ScheduledTick, io: runio.IO) -> None: ...


def test_annotations_that_fit_are_accepted(client: runio.Client) -> None:
    trigger = runio.event_trigger("person", schema=Employee)

    @client.define_job(id="exact", trigger=trigger)
    async def exact(payload: Employee, io: runio.IO) -> None: ...

    @client.define_job(id="base", trigger=trigger)
    async def base(payload: Person, io: runio.IO) -> None: ...

    @client.define_job(id="any-model", trigger=trigger)
    async def any_model(payload: BaseModel, io: runio.IO) -> None: ...

    @client.define_job(id="optional", trigger=trigger)
    async def optional(payload: Employee | None, io: runio.IO) -> None: ...

    @client.define_job(id="anything", trigger=trigger)
    def anything(payload: Any, io: runio.SyncIO) -> None: ...

    @client.define_job(id="bare", trigger=trigger)
    def bare(payload, io):  # type: ignore[no-untyped-def]
        return None

    @client.define_job(id="json", trigger=runio.event_trigger("raw"))
    async def json_payload(payload: dict[str, Any], io: runio.IO) -> None: ...

    assert set(client.jobs) == {
        "exact",
        "base",
        "any-model",
        "optional",
        "anything",
        "bare",
        "json",
    }


def test_an_annotation_that_cannot_be_resolved_is_left_to_the_type_checker(
    client: runio.Client,
) -> None:
    def job(payload: DefinedNowhere, io: runio.IO) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    client.define_job(id="later", trigger=runio.event_trigger("later", schema=NewUser))(job)
    assert "later" in client.jobs


def test_a_property_without_text_is_left_out(client: runio.Client) -> None:
    @client.define_job(id="props", trigger=runio.event_trigger("props"))
    async def props(payload: dict[str, Any], io: runio.IO) -> None:
        await io.run_task(
            "described",
            lambda task: None,
            properties=[
                runio.Property("Email", payload.get("email")),
                runio.Property("Plan", "pro"),
            ],
        )

    (run_id,) = client.send_event("props", {}).run_ids
    client.run_worker(until_idle=True)
    task = client.get_run(run_id).task("described")
    assert task.properties == [{"label": "Plan", "text": "pro"}]
    assert runio.Property("Email").text is None
