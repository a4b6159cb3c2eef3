"""``io.<name>`` and ``io.use(...)`` inside a run: an integration instance bound to the run.

Every call here is one task of the run with the integration's defaults filled in (name, icon,
properties, retry options, error classification), its attempt stored before the vendor call
where a later attempt acts on ``task.outcome_unknown`` (``_start_first``), and its secrets kept
out of everything recorded: params, properties, output, errors. The SDK client is built lazily
inside the task's function, so a replay that reuses stored results never builds one. For a write
of unknown outcome at a vendor without idempotency keys, the wrapper's ``find_previous`` runs
first and its find becomes the task's output.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

from .. import _validate
from .._io import IO, SyncIO, _check_options, _parent
from .._task import Property, Task
from ..errors import ConfigurationError
from ..retry import RetryOptions
from ._base import CacheKey, ClientT, Integration, IntegrationTask, class_spec
from ._runtime import Runtime, runtime_of

if TYPE_CHECKING:
    from typing import Unpack

    from .._task import TaskOptions

I = TypeVar("I", bound=Integration[Any])  # noqa: E741 - the integration's type

_Fixed = tuple[str, Any, RetryOptions, list[str] | None, float | None, bool]
"""A wrapper's name, icon, retry options, redacted paths, timeout, and whether its start is
stored before the call (``_start_first``)."""

_calling: contextvars.ContextVar[IntegrationIO[Any] | None] = contextvars.ContextVar(
    "runio_integration_call", default=None
)


def _raise_recorded(runtime: Runtime, exc: Exception, task: Task) -> NoReturn:
    """Raise what the task records for ``exc``: the integration's translation of it, with any
    secret scrubbed from its text."""
    recorded, cause = runtime.recorded_error(exc, task)
    if recorded is exc:
        raise exc
    raise recorded from cause


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
        self._runtime = runtime_of(integration)
        self._io = io
        self._key = key
        self._options = options or {}
        self._fixed: dict[IntegrationTask[Any, Any, Any, Any], _Fixed] = {}
        """Per wrapper, the options its calls share (``_fix``)."""

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
        cache_key: CacheKey,
        fn: Callable[[ClientT, Task], Any],
        /,
        *,
        output_type: Any = None,
        **options: Unpack[TaskOptions],
    ) -> Any:
        """Run ``fn(client, task)`` as a task with the integration's authenticated SDK client:
        for any SDK call no wrapper covers. Options as for ``io.run_task``; the icon, retry
        options and error classification default to the integration's. A sync ``fn`` runs in
        the worker's thread pool, off the event loop. What ``fn`` returns is stored with the
        integration's secrets replaced."""
        if not callable(fn):
            raise ConfigurationError(
                f"io.{self._key}.run_task({cache_key!r}, fn): fn must be a function taking "
                f"(client, task), got {fn!r}."
            )
        _validate.on_error(options.get("on_error"), f"io.{self._key}.run_task({cache_key!r}, ...)")
        params = options.pop("params", None)
        return await self._run(
            cache_key,
            fn,
            inspect.iscoroutinefunction(fn),
            options,
            # fn is the job's own code: it may rely on task.outcome_unknown
            start_first=True,
            params=self._runtime.recorded(params) if params is not None else None,
            output_type=output_type,
        )

    async def _run(
        self,
        cache_key: Any,
        call: Callable[[ClientT, Task], Any],
        is_async: bool,
        options: TaskOptions,
        *,
        start_first: bool,
        params: Any,
        output_type: Any = None,
    ) -> Any:
        runtime = self._runtime
        runtime.check_configured()
        fn = self._task_fn(call, is_async)
        integration = self.integration
        retry = options.get("retry") or self._options.get("retry")
        timeout = options.get("timeout")
        return await self._io._run_task(
            cache_key,
            fn,
            record_start=start_first,
            integration=integration.id,
            scrub_output=runtime.scrub_output if runtime.secrets else None,
            name=options.get("name"),
            icon=options.get("icon") or type(integration).icon,
            properties=runtime.properties(options.get("properties")),
            params=params,
            retry=retry or integration.retry or type(integration).default_retry,
            on_error=runtime.on_error(options.get("on_error")),
            redact=options.get("redact"),
            style=options.get("style"),
            timeout=timeout if timeout is not None else self._options.get("timeout"),
            output_type=output_type,
            description=options.get("description"),
            display_key=options.get("display_key"),
        )

    def _task_fn(self, call: Callable[[Any, Task], Any], is_async: bool) -> Callable[[Task], Any]:
        """The task's function for ``call(client, task)``: it runs with the SDK client, the call
        marked as this namespace's (``_calling``), and the SDK's errors recorded as the
        integration translates and scrubs them."""
        runtime = self._runtime
        loop = asyncio.get_running_loop()
        if is_async:

            async def run_async(task: Task) -> Any:
                token = _calling.set(self)
                try:
                    return await call(runtime.client_for(loop), task)
                except Exception as exc:
                    _raise_recorded(runtime, exc, task)
                finally:
                    _calling.reset(token)

            return run_async

        def run_sync(task: Task) -> Any:
            token = _calling.set(self)
            try:
                result = call(runtime.client_for(loop), task)
            except Exception as exc:
                _raise_recorded(runtime, exc, task)
            finally:
                _calling.reset(token)
            if inspect.isawaitable(result):  # a sync lambda around an async SDK method
                return self._awaited(result, task)
            return result

        return run_sync

    async def _awaited(self, pending: Awaitable[Any], task: Task) -> Any:
        try:
            return await pending
        except Exception as exc:
            _raise_recorded(self._runtime, exc, task)

    async def _call_task(
        self, spec: IntegrationTask[Any, Any, Any, Any], cache_key: Any, params: dict[str, Any]
    ) -> Any:
        """One call of a wrapper: the task's function (the finder, then the wrapper:
        ``_task_fn``) handed to the execution with the wrapper's options (``_fixed``)."""
        integration, runtime = self.integration, self._runtime
        bound = spec.bind(params, lambda: f"io.{self._key}.{spec.attr}({cache_key!r}, ...)")
        properties = None
        if spec.properties is not None:
            try:
                properties = list(spec.properties(dict(bound)))
            except Exception as exc:
                raise ConfigurationError(
                    f"The properties of {type(integration).__name__}.{spec.attr} raised "
                    f"{type(exc).__name__}: {exc}."
                ) from exc
        recorded = runtime.recorded(bound, spec.secret_params)
        runtime.check_configured()
        fixed = self._fixed.get(spec)
        if fixed is None:
            fixed = self._fixed[spec] = self._fix(spec, cache_key)
        name, icon, retry, redact, timeout, start_first = fixed
        wrapper, finder = spec.fn, spec.finder
        call: Callable[[Any, Task], Any]
        if finder is None:  # the wrapper itself, called without a frame of its own
            call = functools.partial(wrapper, integration, **bound)
        elif spec.is_async:

            async def call_async(client: Any, task: Task) -> Any:
                if task.outcome_unknown:
                    found = await finder(integration, client, task, **bound)
                    if found is not None:
                        task.output_properties.append(_FOUND)
                        return found
                return await wrapper(integration, client, task, **bound)

            call = call_async
        else:

            def call_sync(client: Any, task: Task) -> Any:
                if task.outcome_unknown:
                    found = finder(integration, client, task, **bound)
                    if found is not None:
                        task.output_properties.append(_FOUND)
                        return found
                return wrapper(integration, client, task, **bound)

            call = call_sync
        fn = self._task_fn(call, spec.is_async)
        ex = self._io._execution
        return await ex.run_task(
            cache_key,
            fn,
            parent=_parent(ex),
            name=name,
            icon=icon,
            properties=runtime.properties(properties),
            params=recorded,
            retry=retry,
            on_error=runtime.on_error(None),
            redact=redact,
            timeout=timeout,
            record_start=start_first,
            scrub_output=runtime.scrub_output if runtime.secrets else None,
            integration=integration.id,
        )

    def _fix(self, spec: IntegrationTask[Any, Any, Any, Any], cache_key: Any) -> _Fixed:
        """The options every call of ``spec`` through this namespace shares, checked as
        ``io.run_task`` checks a call's options (once: the first call that fails the check
        raises, and so does every later one)."""
        integration, options = self.integration, self._options
        retry = (
            options.get("retry")
            or spec.retry
            or integration.retry
            or type(integration).default_retry
        )
        timeout = options.get("timeout", spec.timeout)
        icon = spec.icon or type(integration).icon
        _check_options(cache_key, retry, timeout, None, spec.redact, name=spec.name, icon=icon)
        return spec.name, icon, retry, spec.redact, timeout, _start_first(spec, integration)

    def __getattr__(self, attr: str) -> Any:
        tasks = class_spec(type(self.integration)).tasks
        spec = None if attr.startswith("_") else tasks.get(attr)
        if spec is None:
            offered = ", ".join(tasks) or "no task wrappers"
            raise AttributeError(
                f"io.{self._key} ({type(self.integration).__name__}) has no {attr!r}; it offers "
                f"{offered}, and run_task(cache_key, fn(client, task)) for any other SDK call."
            )

        def call_task(cache_key: CacheKey, /, **params: Any) -> Coroutine[Any, Any, Any]:
            # the call's coroutine itself: a frame fewer on every step of the vendor call
            return self._call_task(spec, cache_key, params)

        call_task.__name__ = attr
        call_task.__doc__ = spec.__doc__
        self.__dict__[attr] = call_task
        return call_task

    def blocking(self, sync_io: SyncIO) -> BlockingIntegrationIO:
        """The same calls, blocking: what ``io.<name>`` is in a synchronous job."""
        return BlockingIntegrationIO(self, sync_io)


def _start_first(spec: IntegrationTask[Any, Any, Any, Any], integration: Integration[Any]) -> bool:
    """Whether a wrapper's attempt must be stored before the vendor is called: whenever a later
    attempt may act on ``task.outcome_unknown``, which a start lost to a crash would leave
    false. That is a wrapper with a ``find_previous``, and any call but a read to a vendor that
    does not deduplicate on the idempotency key (``idempotency`` other than ``"key"``: such
    wrappers may read the flag themselves, as Slack's deleting a message does). Any other call
    (a read; a call to a vendor that deduplicates on the key) stores its start as a plain task
    does: held briefly, then written while the call waits for the vendor, or with the result
    for a call answered by then. A crash in that time loses only the record that the attempt
    began, and the retry, with the same idempotency key, is applied once by the vendor."""
    if spec.finder is not None:
        return True
    return spec.effect != "read" and integration.idempotency != "key"


_FOUND = Property("Found", "the earlier attempt's write (not repeated)")


class BlockingIntegrationIO:
    """``io.<name>`` for synchronous jobs and sync wrappers: each call blocks until its task is
    done."""

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
        self,
        cache_key: CacheKey,
        fn: Callable[[Any, Task], Any],
        /,
        *,
        output_type: Any = None,
        **options: Unpack[TaskOptions],
    ) -> Any:
        return self._sync._call(
            lambda: self._bound.run_task(cache_key, fn, output_type=output_type, **options)
        )

    def __getattr__(self, attr: str) -> Any:
        wrapper = getattr(self._bound, attr)

        def call_task(cache_key: CacheKey, /, **params: Any) -> Any:
            return self._sync._call(lambda: wrapper(cache_key, **params))

        call_task.__name__ = attr
        call_task.__doc__ = wrapper.__doc__
        return call_task


def use(integration: I) -> I:
    """Inside a task wrapper, ``integration`` (the wrapper's ``self``) bound to the run, for
    calling its other wrappers as subtasks of the wrapper's task::

        @runio.integration_task(name="Post Message", effect="write")
        async def post_message(self, client, task, /, *, channel, join_if_needed=False, **p):
            ...
            await runio.integrations.use(self).join_conversation("join", channel=channel)

    Typed as the integration, so the call is checked like ``io.use(...)``. In a plain ``def``
    wrapper it returns the blocking form (each call returns the wrapper's result)."""
    current = _calling.get()
    if current is None or current.integration is not integration:
        raise ConfigurationError(
            f"runio.integrations.use({integration!r}) works inside a task wrapper of that "
            "instance; in a job, use io.use(...) or io.<namespace>."
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a sync wrapper, in a worker thread
        return cast(I, current.blocking(current._io.sync))
    return cast(I, current)
