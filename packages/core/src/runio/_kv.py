"""``io.store``: durable key-value items scoped to the run, the job or the app.

``io.store.run`` holds items only this run sees; ``io.store.job`` items every run of the job
shares; ``io.store.app`` items every job of the app (the ``Client`` id) shares. Each call is a
task with its own cache key, so a replay returns what the first execution read or wrote instead
of touching the database again: a run reads the same value on every replay, even if another run
changed the item meanwhile. Values are JSON (stored as the task outputs are); items live until
deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _json, _validate
from ._task import Task
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._execution import Execution, Frame

T = TypeVar("T")
Scope = Literal["run", "job", "app"]
_MISSING: Any = object()
_MAX_KEY_LENGTH = 1024


class KeyValueScope:
    """The items of one scope of ``io.store`` (``io.store.run``, ``.job`` or ``.app``)."""

    def __init__(
        self, execution: Execution, scope: Scope, parent: Callable[[], Frame | None]
    ) -> None:
        self._execution = execution
        self._scope: Scope = scope
        self._parent = parent
        ex = execution
        self._owner = {"run": ex.run_id, "job": ex.job_id, "app": ""}[scope]

    async def get(self, cache_key: str | Sequence[Any], key: str, default: Any = None) -> Any:
        """The item's value, or ``default`` when there is none."""
        key = self._check(cache_key, key, "get")
        ex = self._execution

        async def read(task: Task) -> dict[str, Any]:
            text = await ex.store.get_item(ex.claimed.app_id, self._scope, self._owner, key)
            return {"found": text is not None, "value": _json.decode(text) if text else None}

        result = await self._task(cache_key, "get", key, read)
        return result["value"] if result["found"] else default

    async def has(self, cache_key: str | Sequence[Any], key: str) -> bool:
        """Whether the item exists."""
        key = self._check(cache_key, key, "has")
        ex = self._execution

        async def read(task: Task) -> bool:
            text = await ex.store.get_item(ex.claimed.app_id, self._scope, self._owner, key)
            return text is not None

        return bool(await self._task(cache_key, "has", key, read))

    async def set(self, cache_key: str | Sequence[Any], key: str, value: Any) -> Any:
        """Store ``value`` (JSON: dicts, lists, str, numbers, pydantic models...) under ``key``,
        replacing what was there; returns the value as stored (a JSON round trip)."""
        key = self._check(cache_key, key, "set")
        ex = self._execution
        where = f"io.store.{self._scope}.set({cache_key!r}, {key!r}, value)"
        try:
            text = _json.encode(value)
        except _json.NotJsonError as exc:
            raise ConfigurationError(
                f"{where}: the value cannot be stored as JSON: {exc}. Store JSON-compatible "
                "data (dicts, lists, str, numbers, pydantic models, dataclasses, datetimes)."
            ) from None
        size = len(text.encode("utf-8"))
        if size > ex.limits.max_output_size:
            raise ConfigurationError(
                f"{where}: the value is {size:,} bytes of JSON, more than the "
                f"{ex.limits.max_output_size:,}-byte limit. Store large data elsewhere and keep "
                "a reference, or raise runio.Client(max_output_size=...)."
            )

        async def write(task: Task) -> Any:
            await ex.store.set_item(
                ex.claimed.app_id, self._scope, self._owner, key, text, now=ex.clock.now()
            )
            return _json.decode(text)

        return await self._task(cache_key, "set", key, write)

    async def delete(self, cache_key: str | Sequence[Any], key: str) -> bool:
        """Remove the item; whether there was one."""
        key = self._check(cache_key, key, "delete")
        ex = self._execution

        async def remove(task: Task) -> bool:
            return await ex.store.delete_item(ex.claimed.app_id, self._scope, self._owner, key)

        return bool(await self._task(cache_key, "delete", key, remove))

    def _check(self, cache_key: Any, key: object, verb: str) -> str:
        where = f"io.store.{self._scope}.{verb}({cache_key!r}, key)"
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"{where}: key must be a non-empty string, got {key!r}.")
        _validate.text(key, f"{where}: key")
        if len(key) > _MAX_KEY_LENGTH:
            raise ConfigurationError(
                f"{where}: key is {len(key):,} characters long; keep keys to "
                f"{_MAX_KEY_LENGTH} characters (store long data in the value)."
            )
        return key

    async def _task(
        self, cache_key: Any, verb: str, key: str, fn: Callable[[Task], Coroutine[Any, Any, T]]
    ) -> Any:
        return await self._execution.run_task(
            cache_key,
            fn,
            parent=self._parent(),
            name=f"store.{self._scope}.{verb} {key}",
            icon="database",
            params={"scope": self._scope, "key": key},
            kind="store",
        )


class KeyValueStore:
    """``io.store``: ``run``, ``job`` and ``app`` scopes of durable key-value items."""

    def __init__(self, execution: Execution, parent: Callable[[], Frame | None]) -> None:
        self.run = KeyValueScope(execution, "run", parent)
        """Items of this run only."""
        self.job = KeyValueScope(execution, "job", parent)
        """Items every run of this job shares."""
        self.app = KeyValueScope(execution, "app", parent)
        """Items every job of this app shares."""


class SyncKeyValueScope:
    """``KeyValueScope`` for synchronous code: each call blocks until its task is done."""

    def __init__(self, scope: KeyValueScope, call: Callable[[Callable[[], Any]], Any]) -> None:
        self._scope = scope
        self._call = call

    def get(self, cache_key: str | Sequence[Any], key: str, default: Any = None) -> Any:
        return self._call(lambda: self._scope.get(cache_key, key, default))

    def has(self, cache_key: str | Sequence[Any], key: str) -> bool:
        return bool(self._call(lambda: self._scope.has(cache_key, key)))

    def set(self, cache_key: str | Sequence[Any], key: str, value: Any) -> Any:
        return self._call(lambda: self._scope.set(cache_key, key, value))

    def delete(self, cache_key: str | Sequence[Any], key: str) -> bool:
        return bool(self._call(lambda: self._scope.delete(cache_key, key)))


class SyncKeyValueStore:
    """``io.store`` on ``runio.SyncIO``."""

    def __init__(self, store: KeyValueStore, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.run = SyncKeyValueScope(store.run, call)
        self.job = SyncKeyValueScope(store.job, call)
        self.app = SyncKeyValueScope(store.app, call)
