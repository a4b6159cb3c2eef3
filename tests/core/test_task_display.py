"""How a task describes itself, on both stores: ``run_task(description=, display_key=)`` is
stored and shown in the task tree (``runio runs show``, its JSON), and ``properties`` may be
given as Trigger.dev's docs write them (dicts with ``label`` and ``text`` or ``value``, and an
optional ``url``) beside ``runio.Property``; a malformed one is refused naming the task.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

import runio
from runio.cli import cli
from runio.errors import ConfigurationError


def _show(db_url: str, run_id: str, *options: str) -> str:
    runner = CliRunner(env={"RUNIO_DATABASE_URL": db_url, "RUNIO_APP": None, "COLUMNS": "250"})
    result = runner.invoke(cli, ["runs", "show", run_id, *options], prog_name="runio")
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_description_display_key_and_dict_properties_are_stored_and_shown(
    client: runio.Client, db_url: str
) -> None:
    @client.define_job(id="welcome", trigger=runio.event_trigger("user.created"))
    async def welcome(payload: Any, io: runio.IO) -> str:
        def fetch(task: runio.Task) -> str:
            task.output_properties.append({"label": "Plan", "value": "pro"})
            return "ada@example.com"

        await io.run_task(
            ["fetch-user", payload["user_id"]],
            fetch,
            name="Fetch user",
            description="Loads the user's profile from the accounts service",
            display_key=f"user {payload['user_id']}",
            properties=[
                {"label": "User ID", "text": payload["user_id"]},
                {"label": "Seats", "value": 3},
                {"label": "Trial", "value": False},
                {"label": "Profile", "text": "open", "url": "https://example.com/u/u_1"},
                runio.Property("Source", "signup form"),
            ],
        )
        return "welcomed"

    run_id = client.send_event("user.created", {"user_id": "u_1"}).run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED", run.error
    task = run.task(["fetch-user", "u_1"])
    assert task.description == "Loads the user's profile from the accounts service"
    assert task.display_key == "user u_1"
    assert task.properties == [
        {"label": "User ID", "text": "u_1"},
        {"label": "Seats", "text": "3"},
        {"label": "Trial", "text": "false"},
        {"label": "Profile", "text": "open", "url": "https://example.com/u/u_1"},
        {"label": "Source", "text": "signup form"},
    ]
    assert task.output_properties == [{"label": "Plan", "text": "pro"}]

    shown = _show(db_url, run_id)
    assert "Fetch user  [user u_1]" in shown  # the display key stands in for the cache key
    assert '["fetch-user", "u_1"]' not in shown
    assert "Loads the user's profile from the accounts service" in shown
    assert "Seats: 3" in shown and "Plan: pro" in shown

    as_json = json.loads(_show(db_url, run_id, "--json"))
    [shown_task] = as_json["tasks"]
    assert shown_task["display_key"] == "user u_1"
    assert shown_task["description"].startswith("Loads the user's profile")


def test_without_a_display_key_the_cache_key_is_shown(client: runio.Client, db_url: str) -> None:
    @client.define_job(id="plain", trigger=runio.event_trigger("plain"))
    async def plain(payload: Any, io: runio.IO) -> None:
        await io.run_task("step-1", lambda task: None, name="First step")

    run_id = client.send_event("plain").run_ids[0]
    client.run_worker(until_idle=True)
    task = client.get_run(run_id).task("step-1")
    assert (task.description, task.display_key) == (None, None)
    assert "First step  [step-1]" in _show(db_url, run_id)


@pytest.mark.parametrize(
    ("properties", "says"),
    [
        ([{"text": "u_1"}], "needs a 'label' that is a non-empty string"),
        ([{"label": "User"}], "needs exactly one of 'text' and 'value' (got neither)"),
        ([{"label": "User", "text": "a", "value": "b"}], "(got both)"),
        ([{"label": "User", "text": 1}], "'text' is a string (use 'value'"),
        ([{"label": "User", "value": {"id": 1}}], "a value is a string, a number or a boolean"),
        ([{"label": "User", "text": "a", "link": "x"}], "unknown key(s) link"),
        ([{"label": "User", "text": "a", "url": 5}], "has a 'url' of type int"),
        (["User: u_1"], "each property must be runio.Property(label, text), or a dict"),
        ({"label": "User", "text": "u_1"}, "properties must be a list"),
    ],
)
def test_a_malformed_property_is_refused_naming_the_task(
    client: runio.Client, properties: Any, says: str
) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="props", trigger=runio.event_trigger("props"))
    async def props(payload: Any, io: runio.IO) -> str:
        try:
            await io.run_task("tagged", lambda task: "x", properties=properties)
        except ConfigurationError as exc:
            caught.append(exc)
        return "checked"

    run_id = client.send_event("props").run_ids[0]
    client.run_worker(until_idle=True)
    assert client.get_run(run_id).output == "checked"
    [error] = caught
    assert "Task 'tagged'" in str(error) and says in str(error)
    assert client.get_run(run_id).tasks == []  # nothing was stored for the refused task


def test_a_malformed_output_property_fails_the_task_with_the_reason(
    client: runio.Client,
) -> None:
    @client.define_job(id="outprops", trigger=runio.event_trigger("outprops"))
    async def outprops(payload: Any, io: runio.IO) -> None:
        def fn(task: runio.Task) -> str:
            task.output_properties.append({"label": "Plan"})
            return "x"

        await io.run_task("tagged", fn)

    run_id = client.send_event("outprops").run_ids[0]
    client.run_worker(until_idle=True)
    run = client.get_run(run_id)
    assert run.status == "FAILED"
    task = run.task("tagged")
    assert task.status == "ERRORED"
    assert task.error is not None and "in task.output_properties" in task.error["message"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"description": 5}, "description must be a string"),
        ({"display_key": ""}, "display_key must not be empty"),
        ({"display_key": ["a"]}, "display_key must be a string"),
    ],
)
def test_bad_description_or_display_key_is_refused(
    client: runio.Client, options: dict[str, Any], says: str
) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="bad", trigger=runio.event_trigger("bad"))
    async def bad(payload: Any, io: runio.IO) -> None:
        try:
            await io.run_task("t", lambda task: None, **options)
        except ConfigurationError as exc:
            caught.append(exc)

    client.send_event("bad")
    client.run_worker(until_idle=True)
    [error] = caught
    assert "io.run_task('t')" in str(error) and says in str(error)
