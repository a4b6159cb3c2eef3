"""``io.<name>`` inside a run: an integration instance bound to the run's ``IO``.

Every call here is an ``io.run_task`` with the integration's defaults filled in (name, icon,
properties, retry options, error classification) and its secrets kept out of what is recorded.
The SDK client is built lazily inside the task's function, so a replay that reuses stored
results never builds one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NoReturn

from .._task import Property, Task
from ..retry import RetryOptions
from ._base import ClientT, Integration, IntegrationTask

if TYPE_CHECKING:
    from .._io import IO, SyncIO


async def _scrubbing(integration: Integration[Any], pending: Awaitable[Any]) -> Any:
    try:
        return await pending
    except Exception as exc:
        _reraise(integration, exc)


def _reraise(integration: Integration[Any], exc: Exception) -> NoReturn:
    """Raise what the task records for ``exc``: the integration's translation of it, with any
    secret scrubbed from its text."""
    translated = integration._translated(exc)
    replacement = integration._scrubbed(translated)
    if replacement is exc:
        raise exc
    if replacement is translated:
        raise translated from exc
    raise replacement from None


class IntegrationIO(Generic[ClientT]):
    """What ``io.<name>`` is: the integration's task wrappers, and ``run_task`` for any other
    SDK call, each recorded as a task of this run."""

    def __init__(
        self,
        integration: Integration[ClientT],
        io: IO,
        key: str,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.integration = integration
        self._io = io
        self._key = key
        self._options = options or {}

    def __repr__(self) -> str:
        return f"<io.{self._key}: {self.integration!r}>"

    def with_options(
        self, *, retry: RetryOptions | None = None, timeout: float | None = None
    ) -> IntegrationIO[ClientT]:
        """The same namespace with other defaults for the calls made through it, e.g.
        ``io.stripe.with_options(retry=runio.retry.exponential_backoff).create_customer(...)``
        (wrapper parameters are the vendor's, so run options cannot share their keywords)."""
        options = dict(self._options)
        if retry is not None:
            options["retry"] = retry
        if timeout is not None:
            options["timeout"] = timeout
        return IntegrationIO(self.integration, self._io, self._key, options)

    async def run_task(
        self,
        cache_key: str | Sequence[Any],
        fn: Callable[[ClientT, Task], Any],
        *,
        name: str | None = None,
        icon: str | None = None,
        properties: list[Property] | None = None,
        params: Any = None,
        retry: RetryOptions | None = None,
        on_error: Callable[[Exception, Task], Any] | None = None,
        redact: list[str] | None = None,
        style: str | None = None,
        timeout: float | None = None,
        output_type: Any = None,
    ) -> Any:
        """Run ``fn(client, task)`` as a task with the integration's authenticated SDK client:
        for any SDK call no wrapper covers. Options as for ``io.run_task``; the icon, retry
        options and error classification default to the integration's. A sync ``fn`` runs in
        the worker's thread pool, off the event loop."""
        return await self._run(
            cache_key,
            fn,
            inspect.iscoroutinefunction(fn),
            name=name,
            icon=icon,
            properties=properties,
            params=self.integration._recorded(params) if params is not None else None,
            retry=retry,
            on_error=on_error,
            redact=redact,
            style=style,
            timeout=timeout,
            output_type=output_type,
        )

    async def _run(
        self,
        cache_key: Any,
        call: Callable[[ClientT, Task], Any],
        is_async: bool,
        *,
        name: str | None,
        icon: str | None,
        properties: Sequence[Property] | None,
        params: Any,
        retry: RetryOptions | None,
        on_error: Callable[[Exception, Task], Any] | None,
        redact: list[str] | None,
        style: str | None = None,
        timeout: float | None,
        output_type: Any = None,
    ) -> Any:
        integration = self.integration
        integration.check_configured()
        loop = asyncio.get_running_loop()
        fn: Callable[[Task], Any]
        if is_async:

            async def run_async(task: Task) -> Any:
                client = integration._client_for(loop)
                return await _scrubbing(integration, call(client, task))

            fn = run_async
        else:

            def run_sync(task: Task) -> Any:
                try:
                    result = call(integration._client_for(loop), task)
                except Exception as exc:
                    _reraise(integration, exc)
                if inspect.isawaitable(result):  # a sync lambda around an async SDK method
                    return _scrubbing(integration, result)
                return result

            fn = run_sync
        return await self._io._run_task(
            cache_key,
            fn,
            # A vendor call is a side effect outside the database: its attempt is stored before
            # the call, so a crash during the call loses no attempt, and without an idempotency
            # key a later attempt always knows the outcome is unknown.
            record_start=True,
            integration=integration.id,
            name=name,
            icon=icon or integration.icon,
            properties=integration._properties(properties),
            params=params,
            retry=retry
            or self._options.get("retry")
            or integration.retry
            or type(integration).default_retry,
            on_error=integration._on_error(on_error),
            redact=redact,
            style=style,
            timeout=timeout if timeout is not None else self._options.get("timeout"),
            output_type=output_type,
        )

    async def _call_task(
        self, spec: IntegrationTask, cache_key: Any, params: dict[str, Any]
    ) -> Any:
        integration = self.integration
        bound = spec.bind(params, f"io.{self._key}.{spec.attr}({cache_key!r}, ...)")
        properties = None
        if spec.properties is not None:
            try:
                properties = list(spec.properties(dict(bound)))
            except Exception as exc:
                from ..errors import ConfigurationError

                raise ConfigurationError(
                    f"The properties of {type(integration).__name__}.{spec.attr} raised "
                    f"{type(exc).__name__}: {exc}."
                ) from exc
        fn = spec.fn

        def call(client: Any, task: Task) -> Any:
            return fn(integration, client, task, **bound)

        return await self._run(
            cache_key,
            call,
            spec.is_async,
            name=spec.name,
            icon=spec.icon,
            properties=properties,
            params=integration._recorded(bound, spec.secret_params),
            retry=self._options.get("retry") or spec.retry,
            on_error=None,
            redact=spec.redact,
            timeout=self._options.get("timeout", spec.timeout),
        )

    def __getattr__(self, attr: str) -> Any:
        spec = None if attr.startswith("_") else type(self.integration)._task_specs.get(attr)
        if spec is None:
            offered = ", ".join(type(self.integration)._task_specs) or "no task wrappers"
            raise AttributeError(
                f"io.{self._key} ({type(self.integration).__name__}) has no {attr!r}; it offers "
                f"{offered}, and run_task(cache_key, fn(client, task)) for any other SDK call."
            )

        async def call_task(cache_key: str | Sequence[Any], /, **params: Any) -> Any:
            return await self._call_task(spec, cache_key, params)

        call_task.__name__ = attr
        call_task.__doc__ = spec.__doc__
        self.__dict__[attr] = call_task
        return call_task

    def blocking(self, sync_io: SyncIO) -> BlockingIntegrationIO:
        """The same calls, blocking: what ``io.<name>`` is in a synchronous job."""
        return BlockingIntegrationIO(self, sync_io)


class BlockingIntegrationIO:
    """``io.<name>`` for synchronous jobs: each call blocks until its task is done."""

    def __init__(self, bound: IntegrationIO[Any], sync_io: SyncIO) -> None:
        self._bound = bound
        self._sync = sync_io
        self.integration = bound.integration

    def __repr__(self) -> str:
        return repr(self._bound)

    def with_options(
        self, *, retry: RetryOptions | None = None, timeout: float | None = None
    ) -> BlockingIntegrationIO:
        return BlockingIntegrationIO(
            self._bound.with_options(retry=retry, timeout=timeout), self._sync
        )

    def run_task(
        self, cache_key: str | Sequence[Any], fn: Callable[[Any, Task], Any], **options: Any
    ) -> Any:
        return self._sync._call(lambda: self._bound.run_task(cache_key, fn, **options))

    def __getattr__(self, attr: str) -> Any:
        wrapper = getattr(self._bound, attr)

        def call_task(cache_key: str | Sequence[Any], /, **params: Any) -> Any:
            return self._sync._call(lambda: wrapper(cache_key, **params))

        call_task.__name__ = attr
        call_task.__doc__ = wrapper.__doc__
        return call_task
