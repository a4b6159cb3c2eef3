"""Cache keys and idempotency keys (DESIGN.md §4, "Cache keys and idempotency keys").

The expected idempotency keys are computed here from the documented formula, independently of
the engine's own implementation, and compared with what the engine stored and handed to ``fn``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

import runio
from runio.errors import DuplicateCacheKeyError, InvalidCacheKeyError
from runio.testing import TestClock


def parts_of(cache_key: Any) -> list[str]:
    if isinstance(cache_key, str):
        return [cache_key]
    parts: list[str] = []
    for item in cache_key:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, list | tuple):
            parts.extend(parts_of(item))
        else:
            parts.append(json.dumps(item, separators=(",", ":"), sort_keys=True))
    return parts


def expected_key(run_id: str, parent_key: str | None, cache_key: Any) -> str:
    joined = ":".join([run_id, parent_key or "", *parts_of(cache_key)])
    return hashlib.sha256(joined.encode()).hexdigest()


def test_idempotency_keys_follow_the_documented_formula(client: runio.Client) -> None:
    handed: dict[str, str] = {}

    @client.define_job(id="keys", trigger=runio.event_trigger("keys"))
    async def keys(payload: object, io: runio.IO) -> None:
        async def parent(task: runio.Task) -> None:
            handed["parent"] = task.idempotency_key

            def child(task: runio.Task) -> None:
                handed["child"] = task.idempotency_key

            await io.run_task("child", child)

        def top(task: runio.Task) -> None:
            handed["top"] = task.idempotency_key

        await io.run_task("top", top)
        await io.run_task("parent", parent)

    run_id = client.send_event("keys").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    top, parent = run.task("top"), run.task("parent")
    child = run.task("parent", "child")
    assert top.idempotency_key == expected_key(run_id, None, "top")
    assert parent.idempotency_key == expected_key(run_id, None, "parent")
    assert child.idempotency_key == expected_key(run_id, parent.idempotency_key, "child")
    assert child.parent_id == parent.id
    assert handed == {
        "top": top.idempotency_key,
        "parent": parent.idempotency_key,
        "child": child.idempotency_key,
    }


def test_sequence_keys_are_flattened_and_scalars_written_as_compact_json(
    client: runio.Client,
) -> None:
    sequence_key: list[Any] = ["send-email", 42, 1.5, True, None, ["nested", 7, ["deeper", False]]]

    @client.define_job(id="seq", trigger=runio.event_trigger("seq"))
    async def seq(payload: object, io: runio.IO) -> None:
        async def outer(task: runio.Task) -> None:
            await io.run_task(("inner", 3), lambda task: None)

        await io.run_task(sequence_key, lambda task: "sent")
        await io.run_task(["outer"], outer)

    run_id = client.send_event("seq").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert parts_of(sequence_key) == [
        "send-email",
        "42",
        "1.5",
        "true",
        "null",
        "nested",
        "7",
        "deeper",
        "false",
    ]
    sent = run.task(sequence_key)
    assert sent.output == "sent"
    assert sent.idempotency_key == expected_key(run_id, None, sequence_key)
    outer = run.task(["outer"])
    # ["outer"] and "outer" have the same parts, hence the same key.
    assert outer.idempotency_key == expected_key(run_id, None, "outer")
    inner = run.task(["outer"], ["inner", 3])
    assert inner.idempotency_key == expected_key(run_id, outer.idempotency_key, ["inner", 3])


def test_keys_are_stable_across_retries_and_replays(client: runio.Client, clock: TestClock) -> None:
    seen: list[tuple[int, str]] = []

    def flaky(task: runio.Task) -> str:
        seen.append((task.attempt, task.idempotency_key))
        if task.attempt < 3:
            raise RuntimeError("not yet")
        return "ok"

    @client.define_job(id="stable-keys", trigger=runio.event_trigger("stable-keys"))
    async def stable_keys(payload: object, io: runio.IO) -> str:
        options = runio.RetryOptions(limit=3, min_timeout=1, max_timeout=1, randomize=False)
        return await io.run_task("flaky", flaky, retry=options)

    run_id = client.send_event("stable-keys").run_ids[0]
    client.run_worker(until_idle=True)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)
    clock.advance(seconds=1)
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    key = expected_key(run_id, None, "flaky")
    assert seen == [(1, key), (2, key), (3, key)]
    assert run.task("flaky").idempotency_key == key


def test_the_same_child_key_under_two_parents_makes_two_tasks(client: runio.Client) -> None:
    @client.define_job(id="scoped", trigger=runio.event_trigger("scoped"))
    async def scoped(payload: object, io: runio.IO) -> list[str]:
        async def parent(task: runio.Task) -> str:
            return await io.run_task("fetch", lambda child: f"fetched for {task.cache_key}")

        return [await io.run_task("first", parent), await io.run_task("second", parent)]

    run_id = client.send_event("scoped").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == ["fetched for first", "fetched for second"]
    first, second = run.task("first", "fetch"), run.task("second", "fetch")
    assert first.id != second.id
    assert first.idempotency_key != second.idempotency_key
    assert first.idempotency_key == expected_key(run_id, run.task("first").idempotency_key, "fetch")
    assert second.idempotency_key == expected_key(
        run_id, run.task("second").idempotency_key, "fetch"
    )
    assert [t.cache_key for t in run.all_tasks()] == ["first", "fetch", "second", "fetch"]


def test_the_same_key_twice_in_one_scope_raises_naming_the_key_and_job(
    client: runio.Client,
) -> None:
    caught: list[DuplicateCacheKeyError] = []

    @client.define_job(id="dupes", trigger=runio.event_trigger("dupes"))
    async def dupes(payload: object, io: runio.IO) -> str:
        await io.run_task("charge-card", lambda task: 1)
        try:
            await io.run_task("charge-card", lambda task: 2)
        except DuplicateCacheKeyError as exc:
            caught.append(exc)
        return "went on"

    run_id = client.send_event("dupes").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    message = str(caught[0])
    assert "charge-card" in message
    assert "dupes" in message
    assert caught[0].cache_key == "charge-card"
    assert caught[0].job_id == "dupes"
    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert [t.cache_key for t in run.tasks] == ["charge-card"]
    assert run.task("charge-card").output == 1


def test_an_uncaught_duplicate_key_fails_the_run(client: runio.Client) -> None:
    called: list[str] = []

    @client.define_job(id="dupe-child", trigger=runio.event_trigger("dupe-child"))
    async def dupe_child(payload: object, io: runio.IO) -> None:
        async def parent(task: runio.Task) -> None:
            await io.run_task(["step", 1], lambda task: called.append("first"))
            await io.run_task(["step", 1], lambda task: called.append("second"))

        await io.run_task("parent", parent)

    run_id = client.send_event("dupe-child").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert called == ["first"]
    assert run.status == "FAILED"
    assert run.error is not None
    assert "step" in run.error["message"]
    assert "dupe-child" in run.error["message"]
    assert run.task("parent").status == "ERRORED"


def test_emoji_cache_keys(client: runio.Client) -> None:
    @client.define_job(id="emoji", trigger=runio.event_trigger("emoji"))
    async def emoji(payload: object, io: runio.IO) -> list[str]:
        async def mail(task: runio.Task) -> str:
            return await io.run_task("🫡", lambda task: "saluted")

        return [await io.run_task("📧", mail), await io.run_task(["🫡", "📧"], lambda t: "both")]

    run_id = client.send_event("emoji").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "COMPLETED"
    assert run.output == ["saluted", "both"]
    mail, salute = run.task("📧"), run.task("📧", "🫡")
    assert mail.cache_key == "📧"
    assert salute.cache_key == "🫡"
    assert mail.idempotency_key == expected_key(run_id, None, "📧")
    assert salute.idempotency_key == expected_key(run_id, mail.idempotency_key, "🫡")
    assert run.task(["🫡", "📧"]).idempotency_key == expected_key(run_id, None, ["🫡", "📧"])


@pytest.mark.parametrize(
    ("cache_key", "expected_words"),
    [
        ("", ["empty"]),
        ([], ["empty"]),
        (["user", {"id": 1}], ["dict"]),
        (["user", object()], ["object"]),
        (object(), ["object", "string or a sequence"]),
        (b"bytes", ["bytes"]),
    ],
    ids=["empty-string", "empty-list", "dict-part", "object-part", "object", "bytes"],
)
def test_invalid_cache_keys_are_rejected_with_a_clear_message(
    client: runio.Client, cache_key: Any, expected_words: list[str]
) -> None:
    caught: list[BaseException] = []
    called: list[bool] = []

    @client.define_job(id="bad-key", trigger=runio.event_trigger("bad-key"))
    async def bad_key(payload: object, io: runio.IO) -> None:
        try:
            await io.run_task(cache_key, lambda task: called.append(True))
        except Exception as exc:
            caught.append(exc)

    run_id = client.send_event("bad-key").run_ids[0]
    client.run_worker(until_idle=True)

    assert len(caught) == 1
    assert isinstance(caught[0], InvalidCacheKeyError)
    message = str(caught[0])
    for word in expected_words:
        assert word in message
    assert called == []
    assert client.get_run(run_id).tasks == []


def test_an_invalid_wait_key_is_rejected_too(client: runio.Client) -> None:
    @client.define_job(id="bad-wait", trigger=runio.event_trigger("bad-wait"))
    async def bad_wait(payload: object, io: runio.IO) -> None:
        await io.wait("", 5)

    run_id = client.send_event("bad-wait").run_ids[0]
    client.run_worker(until_idle=True)

    run = client.get_run(run_id)
    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error["type"] == "InvalidCacheKeyError"
    assert run.tasks == []


@pytest.mark.parametrize("parent", [None, "0" * 64], ids=["top-level", "in-a-task"])
def test_every_key_shape_hashes_the_text_the_formula_names(parent: str | None) -> None:
    # The engine hashes a short ASCII string key without building its list of parts: the
    # shortcut must give the very key stored runs hold, and each shape the same as before.
    from runio._keys import scope_prefix, task_key

    run_id = "run_0661981033d193e1baedda7417"
    shapes: list[Any] = ["t1", "with:colon", "ü", "🫡", ["a", 1, 2.5, None, True], ("b", ["c"])]
    for cache_key in shapes:
        assert task_key(scope_prefix(run_id, parent), cache_key) == expected_key(
            run_id, parent, cache_key
        )
    for bad in ["", [], "lone \ud800", ["ok", "\udfff"]]:
        with pytest.raises(InvalidCacheKeyError):
            task_key(scope_prefix(run_id, parent), bad)


def test_keys_hash_the_same_with_or_without_the_interpreters_own_sha256(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Keys hash with CPython's built-in SHA-256 where it has one (faster for short texts), else
    # with hashlib's: a stored run's keys must not depend on which one this interpreter has.
    import importlib

    from runio import _keys

    run_id = "run_0661981033d193e1baedda7417"
    texts: list[Any] = ["t1", "ü", ["a", 1, None]]
    found = [_keys.task_key(_keys.scope_prefix(run_id, None), key) for key in texts]
    assert found == [expected_key(run_id, None, key) for key in texts]

    class Refusing:  # as a FIPS build's built-in module may be: there, but refusing to hash
        @staticmethod
        def sha256(data: bytes) -> Any:
            raise ValueError("not available in FIPS mode")

    real_import = importlib.import_module
    for replacement in (ImportError("gone"), Refusing()):

        def fake_import(name: str, _replacement: Any = replacement) -> Any:
            if name in ("_sha2", "_sha256"):
                if isinstance(_replacement, Exception):
                    raise _replacement
                return _replacement
            return real_import(name)

        monkeypatch.setattr(importlib, "import_module", fake_import)
        assert _keys._fast_sha256() is hashlib.sha256
    monkeypatch.setattr(importlib, "import_module", real_import)
    monkeypatch.setattr(_keys, "_fips_mode", lambda: True)  # OpenSSL's policy stands
    assert _keys._fast_sha256() is hashlib.sha256

    monkeypatch.setattr(_keys, "_sha256", hashlib.sha256)
    fallback = [_keys.task_key(_keys.scope_prefix(run_id, None), key) for key in texts]
    assert fallback == found
