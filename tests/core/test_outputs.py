"""Task outputs are stored as JSON; first run and replay see the same value (DESIGN.md §4)."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

import runio
from runio import _json
from runio.errors import OutputError
from runio.testing import TestClock


class User(BaseModel):
    id: int
    email: str
    joined: datetime


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Plan(enum.Enum):
    PRO = "pro"


JOINED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def run_through_a_wait(
    client: runio.Client, clock: TestClock, make_value: Callable[[], Any], **options: Any
) -> tuple[runio.Run, list[Any]]:
    """Run a job that returns ``make_value()`` from a task, then waits and replays.

    Returns the finished run and what ``io.run_task`` returned in each execution.
    """
    seen: list[Any] = []

    @client.define_job(id="out", trigger=runio.event_trigger("out"))
    async def out(payload: object, io: runio.IO) -> Any:
        value = await io.run_task("value", lambda task: make_value(), **options)
        seen.append(value)
        await io.wait("pause", 1)
        return value

    run_id = client.send_event("out").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    return client.get_run(run_id), seen


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, None, 2.5], "c": {"nested": "yes"}},
        [1, "two", 3.0, None, False, {"k": []}],
        "plain text with ünïcode 📧",
        "",
        42,
        0,
        10**18 - 1,
        -(10**18),
        10**40,
        -7.25,
        True,
        None,
    ],
    ids=[
        "dict",
        "list",
        "str",
        "empty-str",
        "int",
        "zero",
        "int-short",
        "int-long",
        "int-huge",
        "float",
        "bool",
        "none",
    ],
)
def test_json_values_round_trip(client: runio.Client, clock: TestClock, value: Any) -> None:
    run, seen = run_through_a_wait(client, clock, lambda: value)

    assert run.status == "COMPLETED"
    assert seen == [value, value]
    assert [type(v) for v in seen] == [type(value), type(value)]
    assert run.task("value").output == value
    assert run.output == value


@pytest.mark.parametrize(
    ("make_value", "expected"),
    [
        (
            lambda: User(id=1, email="ada@example.com", joined=JOINED),
            {"id": 1, "email": "ada@example.com", "joined": "2024-01-02T03:04:05Z"},
        ),
        (lambda: Point(x=1, y=2.5), {"x": 1, "y": 2.5}),
        (lambda: JOINED, "2024-01-02T03:04:05Z"),
        (lambda: (1, "a", (2, 3)), [1, "a", [2, 3]]),
        (lambda: {1: "one", 2: "two"}, {"1": "one", "2": "two"}),
        (lambda: Plan.PRO, "pro"),
        (
            lambda: uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "12345678-1234-5678-1234-567812345678",
        ),
        (lambda: [Point(x=0, y=0.5), {"when": JOINED}], [{"x": 0, "y": 0.5}, {"when": JOINED}]),
    ],
    ids=["pydantic", "dataclass", "datetime", "tuple", "int-keys", "enum", "uuid", "mixed"],
)
def test_converted_values_come_back_as_json_on_the_first_execution_too(
    client: runio.Client, clock: TestClock, make_value: Callable[[], Any], expected: Any
) -> None:
    run, seen = run_through_a_wait(client, clock, make_value)

    assert run.status == "COMPLETED"
    first, replayed = seen
    assert first == replayed
    assert type(first) is type(replayed)
    assert run.task("value").output == replayed
    if isinstance(expected, list) and isinstance(expected[-1], dict) and "when" in expected[-1]:
        # datetimes are text in JSON; the exact ISO spelling is pydantic's
        assert first[0] == expected[0]
        assert isinstance(first[1]["when"], str)
        assert datetime.fromisoformat(first[1]["when"]) == JOINED
    elif isinstance(expected, str) and expected.startswith("2024-"):
        assert isinstance(first, str)
        assert datetime.fromisoformat(first) == JOINED
    elif isinstance(expected, dict) and "joined" in expected:
        assert {k: v for k, v in first.items() if k != "joined"} == {
            "id": 1,
            "email": "ada@example.com",
        }
        assert datetime.fromisoformat(first["joined"]) == JOINED
    else:
        assert first == expected


def test_output_type_parses_the_json_back_on_first_run_and_replay(
    client: runio.Client, clock: TestClock
) -> None:
    user = User(id=7, email="grace@example.com", joined=JOINED)
    run, seen = run_through_a_wait(client, clock, lambda: user, output_type=User)

    assert run.status == "COMPLETED"
    assert seen == [user, user]
    assert all(isinstance(v, User) for v in seen)
    assert seen[0] is not user  # parsed from the stored JSON, not the object fn returned
    assert run.task("value").output["email"] == "grace@example.com"


def test_output_type_accepts_any_type_hint(client: runio.Client, clock: TestClock) -> None:
    run, seen = run_through_a_wait(
        client, clock, lambda: [Point(x=1, y=2.0)], output_type=list[Point]
    )

    assert run.status == "COMPLETED"
    assert seen == [[Point(x=1, y=2.0)], [Point(x=1, y=2.0)]]


def test_an_output_that_does_not_fit_output_type_is_an_output_error(
    client: runio.Client,
) -> None:
    caught: list[BaseException] = []

    @client.define_job(id="misfit", trigger=runio.event_trigger("misfit"))
    async def misfit(payload: object, io: runio.IO) -> None:
        try:
            await io.run_task("user", lambda task: {"id": "not a number"}, output_type=User)
        except Exception as exc:
            caught.append(exc)

    client.send_event("misfit")
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    assert isinstance(caught[0], OutputError)
    assert "user" in str(caught[0])
    assert "User" in str(caught[0])


def circular() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def assert_failed_for_good(run: runio.Run, cache_key: str) -> dict[str, Any]:
    """Nothing silently dropped: the run FAILED, the task ERRORED with one recorded attempt."""
    assert run.status == "FAILED"
    task = run.task(cache_key)
    assert task.status == "ERRORED"
    assert task.output is None
    assert len(task.attempts) == 1
    attempt = task.attempts[0]
    assert attempt.status == "ERRORED"
    assert attempt.started_at is not None
    assert attempt.ended_at is not None
    assert attempt.error is not None
    assert task.error is not None
    assert task.error["type"] == "OutputError"
    assert attempt.error["message"] == task.error["message"]
    assert run.error is not None
    assert cache_key in run.error["message"]
    return task.error


@pytest.mark.parametrize(
    ("make_value", "type_name"),
    [
        (lambda: object(), "object"),
        (lambda: {object(), object()}, "object"),
        (lambda: {"nested": [1, Plan]}, "EnumType"),
        (lambda: {"data": b"\xff\xfe"}, "bytes"),
        (circular, "ircular"),
    ],
    ids=["object", "set-of-objects", "nested-class", "invalid-bytes", "circular"],
)
def test_a_value_that_cannot_be_json_fails_the_task_naming_it_and_the_type(
    client: runio.Client, make_value: Callable[[], Any], type_name: str
) -> None:
    @client.define_job(id="unstorable", trigger=runio.event_trigger("unstorable"))
    async def unstorable(payload: object, io: runio.IO) -> None:
        await io.run_task("make-thing", lambda task: make_value())

    run_id = client.send_event("unstorable").run_ids[0]
    client.run_worker(until_idle=True)

    error = assert_failed_for_good(client.get_run(run_id), "make-thing")
    assert "make-thing" in error["message"]
    assert type_name in error["message"]


def test_a_non_finite_float_fails_the_task(client: runio.Client) -> None:
    @client.define_job(id="nan", trigger=runio.event_trigger("nan"))
    async def nan(payload: object, io: runio.IO) -> None:
        await io.run_task("ratio", lambda task: {"ratio": float("nan")})

    run_id = client.send_event("nan").run_ids[0]
    client.run_worker(until_idle=True)

    error = assert_failed_for_good(client.get_run(run_id), "ratio")
    assert "ratio" in error["message"]


def test_the_output_error_reaches_the_job_as_task_failed(client: runio.Client) -> None:
    caught: list[runio.errors.TaskFailedError] = []

    @client.define_job(id="catch", trigger=runio.event_trigger("catch"))
    async def catch(payload: object, io: runio.IO) -> str:
        try:
            await io.run_task("thing", lambda task: object())
        except runio.errors.TaskFailedError as exc:
            caught.append(exc)
        return "handled"

    run_id = client.send_event("catch").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    assert caught[0].error_type == "OutputError"
    assert caught[0].cache_key == "thing"
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.task("thing").status == "ERRORED"


def test_an_oversized_output_fails_naming_the_size_and_the_limit(
    make_client: Callable[..., runio.Client],
) -> None:
    client = make_client(max_output_size=100)

    @client.define_job(id="big", trigger=runio.event_trigger("big"))
    async def big(payload: object, io: runio.IO) -> None:
        await io.run_task("small", lambda task: "x" * 98)  # 100 bytes of JSON: at the limit
        await io.run_task("report", lambda task: "x" * 198)  # 200 bytes of JSON

    run_id = client.send_event("big").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.task("small").status == "COMPLETED"
    error = assert_failed_for_good(run, "report")
    assert "report" in error["message"]
    assert "200" in error["message"]
    assert "100" in error["message"]
    assert "max_output_size" in error["message"]


def test_the_size_limit_counts_utf8_bytes(make_client: Callable[..., runio.Client]) -> None:
    client = make_client(max_output_size=100)

    @client.define_job(id="wide", trigger=runio.event_trigger("wide"))
    async def wide(payload: object, io: runio.IO) -> None:
        await io.run_task("emoji", lambda task: "📧" * 30)  # 30 characters, 122 bytes

    run_id = client.send_event("wide").run_ids[0]
    client.run_worker(until_idle=True)

    error = assert_failed_for_good(client.get_run(run_id), "emoji")
    assert "122" in error["message"]


def test_a_job_output_that_cannot_be_json_fails_the_run(client: runio.Client) -> None:
    @client.define_job(id="bad-result", trigger=runio.event_trigger("bad-result"))
    async def bad_result(payload: object, io: runio.IO) -> object:
        return object()

    run_id = client.send_event("bad-result").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.output is None
    assert run.error is not None
    assert run.error["type"] == "OutputError"
    assert "bad-result" in run.error["message"]
    assert "object" in run.error["message"]


def test_an_oversized_job_output_fails_the_run(make_client: Callable[..., runio.Client]) -> None:
    client = make_client(max_output_size=50)

    @client.define_job(id="big-result", trigger=runio.event_trigger("big-result"))
    async def big_result(payload: object, io: runio.IO) -> str:
        return "y" * 100

    run_id = client.send_event("big-result").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error["type"] == "OutputError"
    assert "50" in run.error["message"]


@pytest.mark.parametrize(
    "encoder",
    [
        json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")),
        json.JSONEncoder(ensure_ascii=False),
        json.JSONEncoder(sort_keys=True),
    ],
    ids=["outputs", "properties", "ascii-sorted"],
)
def test_the_one_shot_encoder_writes_what_its_json_encoder_writes(
    encoder: json.JSONEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    values: list[Any] = [
        {"b": [1, 2.5, -0.0, 1e300, None, True, False], "a": {"é": '📧\n"\u0000'}},
        [],
        {},
        "plain",
        "ünï\tcode",
        3,
        10**50,
        2.5,
        None,
        [[[[{"deep": ["er"]}]]]],
    ]
    assert [_json.one_shot(encoder)(v) for v in values] == [encoder.encode(v) for v in values]
    if encoder.allow_nan:
        assert _json.one_shot(encoder)([float("nan")]) == "[NaN]"
    else:
        with pytest.raises(ValueError):  # refused as the encoder refuses it
            _json.one_shot(encoder)([float("nan")])
    # A Python without the C encoder (or with another one) gets the encoder's own method
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert _json.one_shot(encoder) == encoder.encode


def test_values_of_json_types_only_are_written_without_conversion_and_others_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dict or list of JSON's own types (exact types, string keys; an OrderedDict counts as a
    dict, in its own order) is written as it is; one holding anything else anywhere (a tuple, a
    str subclass, a non-string key, an enum, another dict subclass) is converted first, and a
    value with more containers than the walk looks into is converted too. Either way the text
    is what the conversion would give."""
    converted: list[Any] = []
    real = _json.to_jsonable_python

    def counting(value: Any) -> Any:
        converted.append(value)
        return real(value)

    monkeypatch.setattr(_json, "to_jsonable_python", counting)
    moved = OrderedDict([("a", 1), ("b", 2)])
    moved.move_to_end("a")  # an OrderedDict's own order, not its insertion order, is written
    answer = OrderedDict([("id", "cus_1"), ("metadata", OrderedDict()), ("m", [moved])])
    plain: list[Any] = [
        {"id": "cus_1", "n": 2, "f": 2.5, "ok": True, "no": None, "deep": {"l": [[{"k": ""}]]}},
        [1, [2, [3, {"a": []}]], {}],
        answer,  # as Stripe's SDK decodes its answers
    ]
    for value in plain:
        assert _json.encode(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert converted == []
    assert _json.encode(answer) == '{"id":"cus_1","metadata":{},"m":[{"b":2,"a":1}]}'
    assert _json.decode(_json.encode(answer)) == answer
    others: list[tuple[Any, str]] = [
        ({"a": {"b": (1, 2)}}, '{"a":{"b":[1,2]}}'),
        (OrderedDict([(1, "one")]), '{"1":"one"}'),
        (defaultdict(list, {"a": [1]}), '{"a":[1]}'),
        ([{"s": Plan.PRO}], '[{"s":"pro"}]'),
        ({"a": [{1: "one"}]}, '{"a":[{"1":"one"}]}'),
        ([True, {"d": JOINED}], '[true,{"d":"2024-01-02T03:04:05Z"}]'),
    ]
    for value, text in others:
        assert _json.encode(value) == text
    assert all(any(c is value for c in converted) for value, _ in others)
    monkeypatch.setattr(_json, "_WALK_BUDGET", 3)
    wide = [[i] for i in range(5)]
    assert _json.encode(wide) == "[[0],[1],[2],[3],[4]]"
    assert converted[-1] is wide
    with pytest.raises(_json.NotJsonError, match="ircular"):
        _json.encode(circular())
