"""``runio.Integration``, the one base class of integrations, and what it is made of.

An integration package subclasses ``Integration`` once per vendor: metadata (namespace, name,
icon), its settings (constructor arguments or environment variables; secrets held in memory
only), how to build the authenticated SDK client, how to classify the SDK's errors, how the
task's idempotency key reaches the vendor, and task wrappers declared with
``@runio.integration_task``. Calling those inside a run is ``_bound.py``'s business; finding an
instance for ``io.<name>`` is ``_resolve.py``'s. This module never imports a vendor SDK.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import keyword
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from .. import _json
from .._task import Property, Task
from ..errors import (
    ConfigurationError,
    IntegrationSettingError,
    RunioError,
    VendorError,
)
from ..retry import SKIP_RETRYING, RetryAt, RetryOptions, standard_backoff

log = logging.getLogger("runio.integrations")

ClientT = TypeVar("ClientT")
REDACTED = "[redacted]"
_MIN_SECRET = 4  # shorter values are not searched for in text (they would match by chance)


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One setting of an integration: a constructor argument, else an environment variable,
    else ``default``. ``settings = {"api_key": "STRIPE_API_KEY"}`` is short for
    ``{"api_key": Setting(env="STRIPE_API_KEY")}`` (a required secret)."""

    env: str | None = None
    """The environment variable read when the argument is not given."""
    secret: bool = True
    """Held in memory only: never recorded with a task, logged, or shown in a repr or error."""
    required: bool = True
    """The integration cannot build its client without it (unless ``default`` is set)."""
    default: Any = None
    """Used when neither the argument nor the environment variable gives a value."""
    help: str = ""
    """One line for ``runio integrations list`` and error messages."""


@dataclass(frozen=True, slots=True)
class ErrorDecision:
    """What to do about an error the vendor's SDK raised: ``classify_error``'s answer."""

    action: Literal["retry", "retry_at", "fail"]
    when: datetime | float | None = None
    """For ``retry_at``: an aware datetime, or seconds from now."""

    @staticmethod
    def retry() -> ErrorDecision:
        """Transient: retry now, that is as soon as the task's backoff allows (it counts
        against the retry limit)."""
        return ErrorDecision("retry")

    @staticmethod
    def retry_at(when: datetime | float) -> ErrorDecision:
        """The vendor said when to come back (``Retry-After``, a rate-limit reset): the task is
        retried durably at that time (an aware datetime, or seconds from now)."""
        RetryAt(when)  # validates
        return ErrorDecision("retry_at", when)

    @staticmethod
    def fail() -> ErrorDecision:
        """Permanent (bad request, bad credentials, not found): fail the task now."""
        return ErrorDecision("fail")


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (delta-seconds or an HTTP date);
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- task wrappers -------------------------------------------------------------------------------


def _title(attr: str) -> str:
    return " ".join(part.capitalize() for part in attr.split("_") if part)


class IntegrationTask:
    """A task wrapper declared with ``@runio.integration_task``: calling
    ``io.<ns>.<wrapper>(cache_key, **params)`` runs it as a task of the run.

    On the class it is this object (for introspection: ``Stripe.create_customer.name``); inside a
    run it is reached through ``io.<ns>``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None,
        properties: Callable[[dict[str, Any]], Sequence[Property]] | None,
        secret_params: Collection[str],
        icon: str | None,
        redact: Sequence[str] | None,
        retry: RetryOptions | None,
        timeout: float | None,
    ) -> None:
        parameters = list(inspect.signature(fn).parameters.values())
        if len(parameters) < 3 or any(
            p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters[:3]
        ):
            raise ConfigurationError(
                f"@runio.integration_task {fn.__qualname__} must take (self, client, task, ...): "
                "the integration, its SDK client and the runio.Task, then the wrapper's own "
                "keyword parameters."
            )
        if retry is not None and not isinstance(retry, RetryOptions):
            raise ConfigurationError(
                f"@runio.integration_task {fn.__qualname__}: retry must be runio.RetryOptions."
            )
        self.fn = fn
        self.attr = fn.__name__
        self.name = name or _title(fn.__name__)
        self.properties = properties
        self.secret_params = frozenset(secret_params)
        self.icon = icon
        self.redact = list(redact) if redact else None
        self.retry = retry
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.Signature(parameters[3:])
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return _Unbound(self, type(instance).__name__)

    def bind(self, params: dict[str, Any], where: str) -> dict[str, Any]:
        """The call's keyword parameters, checked against the wrapper's signature."""
        parameters = self.signature.parameters.values()
        unknown = sorted(set(params) - {p.name for p in parameters})
        try:
            if unknown and not any(p.kind == p.VAR_KEYWORD for p in parameters):
                raise TypeError(f"unexpected parameter(s) {', '.join(map(repr, unknown))}")
            bound = self.signature.bind(**params)
        except TypeError as exc:
            raise ConfigurationError(
                f"{where}: {exc}. It takes {self.signature}; pass parameters by keyword after "
                "the cache key."
            ) from None
        arguments = dict(bound.arguments)
        for p in parameters:  # a ``**params`` wrapper gets the caller's keywords, flat
            if p.kind == p.VAR_KEYWORD:
                arguments.update(arguments.pop(p.name, {}))
        return arguments

    def __repr__(self) -> str:
        return f"<integration task {self.attr} {self.name!r}>"


class _Unbound:
    def __init__(self, spec: IntegrationTask, owner: str) -> None:
        self._spec = spec
        self._owner = owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError(
            f"{self._owner}.{self._spec.attr} is an integration task: call it inside a job, "
            f"through io, e.g. `await io.<namespace>.{self._spec.attr}(cache_key, ...)`."
        )


F = TypeVar("F", bound=Callable[..., Any])


@overload
def integration_task(name: F) -> IntegrationTask: ...


@overload
def integration_task(
    name: str | None = None,
    *,
    properties: Callable[[dict[str, Any]], Sequence[Property]] | None = None,
    secret_params: Collection[str] = (),
    icon: str | None = None,
    redact: Sequence[str] | None = None,
    retry: RetryOptions | None = None,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], IntegrationTask]: ...


def integration_task(
    name: Any = None,
    *,
    properties: Callable[[dict[str, Any]], Sequence[Property]] | None = None,
    secret_params: Collection[str] = (),
    icon: str | None = None,
    redact: Sequence[str] | None = None,
    retry: RetryOptions | None = None,
    timeout: float | None = None,
) -> Any:
    """Declare a task wrapper on a ``runio.Integration`` subclass::

        @runio.integration_task(
            name="Create Customer",
            properties=lambda p: [runio.Property("Email", p.get("email"))],
        )
        async def create_customer(self, client, task, **params):
            return await client.v1.customers.create_async(
                params, {"idempotency_key": self.idempotency_key(task)})

    A job calls it as ``await io.stripe.create_customer("create-customer", email=...)``: one
    task of the run, named ``name`` (default: from the method name), with the integration's
    icon, ``properties`` computed from the call's parameters, and the parameters recorded as the
    task's params (``secret_params`` and the integration's secrets redacted). ``redact`` lists
    output paths hidden in the dashboard; ``retry`` and ``timeout`` override the integration's
    defaults. A sync method runs in the worker's thread pool, off the event loop.
    """

    def decorate(fn: Callable[..., Any]) -> IntegrationTask:
        return IntegrationTask(
            fn,
            name=name if isinstance(name, str) else None,
            properties=properties,
            secret_params=secret_params,
            icon=icon,
            redact=redact,
            retry=retry,
            timeout=timeout,
        )

    if callable(name):
        return decorate(name)
    return decorate


# -- the base class --------------------------------------------------------------------------


def _reserved_names() -> frozenset[str]:
    from .._io import IO

    return frozenset(n for n in dir(IO) if not n.startswith("_")) | {"logger"}


def integration_class_problem(cls: Any) -> str | None:
    """Why ``cls`` cannot be registered as an integration, or None."""
    if not (isinstance(cls, type) and issubclass(cls, Integration)) or cls is Integration:
        return "it is not a runio.Integration subclass"
    namespace = getattr(cls, "namespace", None)
    if (
        not isinstance(namespace, str)
        or not namespace.isidentifier()
        or namespace.startswith("_")
        or keyword.iskeyword(namespace)
    ):
        return (
            f"its namespace {namespace!r} cannot be an attribute of io; use a lowercase Python "
            "identifier such as 'stripe'"
        )
    if namespace in _reserved_names():
        return f"its namespace {namespace!r} is already an attribute of io; choose another"
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        return "it has no display name (set name = 'Stripe')"
    return None


_OUTCOME_UNKNOWN_NAMES = (
    "RemoteDisconnected",
    "RemoteProtocolError",
    "IncompleteRead",
    "ReadError",
    "ReadTimeout",
    "WriteTimeout",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ClientPayloadError",
    "ChunkedEncodingError",
    "ProtocolError",
    "APIConnectionError",
)
_OUTCOME_KNOWN_NAMES = (
    "ConnectError",
    "ConnectTimeout",
    "ClientConnectorError",
    "NewConnectionError",
)


class Integration(Generic[ClientT]):
    """The base class of every integration (``runio-stripe``'s ``Stripe``, a third party's
    ``Linear``...). Subclass it once per vendor::

        class Stripe(runio.Integration[stripe.StripeClient]):
            namespace, name, icon = "stripe", "Stripe", "stripe"
            settings = {"api_key": "STRIPE_API_KEY"}
            idempotency = "key"

            def create_client(self) -> stripe.StripeClient: ...
            def classify_error(self, error: Exception) -> runio.ErrorDecision | None: ...

            @runio.integration_task(name="Create Customer")
            async def create_customer(self, client, task, **params): ...

    An instance is one configured account: ``Stripe(api_key=...)``, or ``Stripe()`` reading
    ``STRIPE_API_KEY``. Declare instances per job with ``define_job(integrations={"stripe":
    Stripe()})`` (several under different keys work side by side), or let ``io.stripe`` build a
    default one when the package is installed and the environment configures it.
    """

    namespace: ClassVar[str]
    """Its default attribute on ``io`` (``io.stripe``), and the key a default instance has."""
    name: ClassVar[str]
    """Display name ("Stripe")."""
    icon: ClassVar[str | None] = None
    """Icon of its tasks in the dashboard (an icon name such as "stripe")."""
    package: ClassVar[str | None] = None
    """The distribution that provides it ("runio-stripe"), for error messages; defaults to the
    installed plugin's package."""
    settings: ClassVar[Mapping[str, str | Setting]] = {}
    """Setting name -> environment variable (a required secret) or a ``runio.Setting``."""
    default_retry: ClassVar[RetryOptions] = standard_backoff
    """Retry options of its tasks, refined per error by ``classify_error``."""
    idempotency: ClassVar[Literal["key", "marker", "none"]] = "none"
    """How repeated writes are made harmless: ``key`` (the vendor deduplicates on
    ``idempotency_key(task)``, e.g. Stripe, Resend), ``marker`` (the wrapper marks each write
    and, when ``task.outcome_unknown``, looks for its marker first, e.g. Slack, GitHub), or
    ``none``."""

    _setting_specs: ClassVar[dict[str, Setting]] = {}
    _task_specs: ClassVar[dict[str, IntegrationTask]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, Setting] = {}
        declared: dict[str, Any] = dict(cls.settings)
        for key, value in declared.items():
            if not isinstance(key, str) or not key.isidentifier() or key in ("id", "retry"):
                raise ConfigurationError(
                    f"{cls.__name__}.settings: {key!r} cannot be a setting name (use an "
                    "identifier other than 'id' and 'retry')."
                )
            if isinstance(value, str):
                value = Setting(env=value)
            elif value is None:
                value = Setting()
            if not isinstance(value, Setting):
                raise ConfigurationError(
                    f"{cls.__name__}.settings[{key!r}] must be an environment variable name or "
                    f"runio.Setting(...), got {value!r}."
                )
            specs[key] = value
        cls._setting_specs = specs
        tasks: dict[str, IntegrationTask] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, IntegrationTask):
                    tasks[attr] = value
                elif attr in tasks:
                    del tasks[attr]  # overridden by a plain attribute
        cls._task_specs = tasks

    def __init__(
        self, id: str | None = None, *, retry: RetryOptions | None = None, **settings: Any
    ) -> None:
        """``id`` names this instance in errors and logs (default: the namespace). ``retry``
        replaces ``default_retry`` for this instance. Each setting comes from its keyword
        argument, else its environment variable, else its default."""
        cls = type(self)
        if not isinstance(getattr(cls, "namespace", None), str):
            raise ConfigurationError(
                f"{cls.__name__} has no namespace: set namespace = '...' on the class."
            )
        if id is not None and (not isinstance(id, str) or not id):
            raise ConfigurationError(f"{cls.__name__}(id=...) must be a non-empty string.")
        if retry is not None and not isinstance(retry, RetryOptions):
            raise ConfigurationError(
                f"{cls.__name__}(retry=...) must be runio.RetryOptions, got {retry!r}."
            )
        self.id: str = id or cls.namespace
        self.retry: RetryOptions | None = retry
        unknown = sorted(set(settings) - set(cls._setting_specs))
        if unknown:
            known = ", ".join(cls._setting_specs) or "none"
            raise IntegrationSettingError(
                f"{cls.__name__}() got unknown setting(s) {', '.join(unknown)}; its settings "
                f"are: {known}.",
                integration=self.id,
                setting=unknown[0],
            )
        self._values: dict[str, Any] = {}
        for key, spec in cls._setting_specs.items():
            value = settings.get(key)
            if value is None and spec.env:
                value = os.environ.get(spec.env) or None
            if value is None:
                value = spec.default
            self._values[key] = value
        self._client_lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientT] = (
            weakref.WeakKeyDictionary()
        )

    # -- what a subclass provides ----------------------------------------------------------
    def create_client(self) -> ClientT:
        """Build the vendor's authenticated SDK client from ``self.setting(...)``, with the
        SDK's own retries turned off (runio is the only retry layer). Called once per event
        loop of a worker, the first time a task of this instance runs there."""
        raise NotImplementedError(
            f"{type(self).__name__}.create_client() must return the vendor's SDK client."
        )

    async def close_client(self, client: ClientT) -> None:
        """Release a client's connections; called when the worker that used it stops. The
        default calls its ``aclose()`` or ``close()`` if it has one."""
        for method in ("aclose", "close"):
            fn = getattr(client, method, None)
            if callable(fn):
                result = fn()
                if inspect.isawaitable(result):
                    await result
                return

    def classify_error(self, error: Exception) -> ErrorDecision | None:
        """Classify an error raised by a task of this integration: ``ErrorDecision.retry()``
        (transient), ``.retry_at(when)`` (the vendor said when), ``.fail()`` (permanent), or
        None to let the task's retry options decide. The default returns None."""
        return None

    def translate_error(self, error: Exception) -> Exception:
        """The error a task of this integration records for ``error`` raised by the SDK, e.g.
        one that carries the vendor's message, code and request id in words a user can act on.
        Applied to wrappers and ``io.<ns>.run_task`` alike, before ``classify_error`` sees it
        (the original stays chained as ``__cause__``). The default returns ``error``."""
        return error

    def _translated(self, error: Exception) -> Exception:
        try:
            translated = self.translate_error(error)
        except Exception:
            log.exception("%s.translate_error raised; recording the original error", self.name)
            return error
        return translated if isinstance(translated, Exception) else error

    def is_outcome_unknown(self, error: Exception) -> bool:
        """Whether the write may have been applied although the call failed (the connection
        dropped or timed out after the request was sent). The next attempt then sees
        ``task.outcome_unknown``. The default recognises the connection errors of the standard
        library, httpx, requests, aiohttp and urllib3 anywhere in the error's chain."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            names = {k.__name__ for k in type(current).__mro__}
            if isinstance(current, ConnectionRefusedError) or names & set(_OUTCOME_KNOWN_NAMES):
                return False
            if isinstance(current, ConnectionError | TimeoutError) or names & set(
                _OUTCOME_UNKNOWN_NAMES
            ):
                return True
            current = current.__cause__ or current.__context__
        return False

    def idempotency_key(self, task: Task) -> str:
        """The key the vendor deduplicates this task's write on. The default is the task's own
        idempotency key (64 hex characters, stable across retries, replays and crashes);
        override to fit a vendor's format."""
        return task.idempotency_key

    def marker(self, task: Task) -> str:
        """A string that identifies this task's write, for vendors without idempotency keys:
        put it in the write (message metadata, a hidden comment) and, when
        ``task.outcome_unknown``, look for it before writing again."""
        return f"runio-{task.idempotency_key}"

    # -- settings --------------------------------------------------------------------------
    def setting(self, key: str) -> Any:
        """The value of setting ``key``; raises ``IntegrationSettingError`` naming the argument
        and environment variable when a required one has no value."""
        spec = type(self)._setting_specs.get(key)
        if spec is None:
            raise IntegrationSettingError(
                f"{type(self).__name__} has no setting {key!r}; its settings are: "
                f"{', '.join(type(self)._setting_specs) or 'none'}.",
                integration=self.id,
                setting=key,
            )
        value = self._values.get(key)
        if value is None and spec.required:
            raise self._missing_error([key])
        return value

    def missing_settings(self) -> list[str]:
        """The required settings this instance has no value for."""
        return [
            key
            for key, spec in type(self)._setting_specs.items()
            if spec.required and self._values.get(key) is None
        ]

    @classmethod
    def missing_from_environment(cls, environ: Mapping[str, str] | None = None) -> list[str]:
        """What a default instance (``cls()``) would lack: the environment variables to set
        (or ``<setting>`` for a required setting no variable provides)."""
        env = os.environ if environ is None else environ
        missing = []
        for key, spec in cls._setting_specs.items():
            if not spec.required or spec.default is not None:
                continue
            if spec.env is None:
                missing.append(f"<{key}>")
            elif not env.get(spec.env):
                missing.append(spec.env)
        return missing

    @classmethod
    def is_configured(cls, environ: Mapping[str, str] | None = None) -> bool:
        """Whether the environment configures a default instance."""
        return not cls.missing_from_environment(environ)

    def check_configured(self) -> None:
        """Raise ``IntegrationSettingError`` if a required setting has no value."""
        missing = self.missing_settings()
        if missing:
            raise self._missing_error(missing)

    def _missing_error(self, keys: list[str]) -> IntegrationSettingError:
        cls = type(self)
        ways = []
        for key in keys:
            spec = cls._setting_specs[key]
            how = f"{cls.__name__}({key}=...)"
            ways.append(f"{key} (pass {how} or set {spec.env})" if spec.env else f"{key} ({how})")
        first = cls._setting_specs[keys[0]]
        return IntegrationSettingError(
            f"{cls.name} integration {self.id!r} needs {', '.join(ways)}.",
            integration=self.id,
            setting=keys[0],
            env=first.env,
        )

    def __repr__(self) -> str:
        parts = [f"id={self.id!r}"]
        for key, spec in type(self)._setting_specs.items():
            value = self._values.get(key)
            shown = "'***'" if spec.secret and value is not None else repr(value)
            parts.append(f"{key}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- used by the kit -------------------------------------------------------------------
    def _secret_values(self) -> list[str]:
        out = []
        for key, spec in type(self)._setting_specs.items():
            value = self._values.get(key)
            if spec.secret and value is not None and len(str(value)) >= _MIN_SECRET:
                out.append(str(value))
        return sorted(out, key=len, reverse=True)

    def _redact_text(self, text: str, secrets: list[str] | None = None) -> str:
        for secret in self._secret_values() if secrets is None else secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _recorded(self, value: Any, secret_params: Collection[str] = ()) -> Any:
        """``value`` as it may be recorded: JSON-compatible, secrets replaced."""
        secrets = self._secret_values()

        def clean(item: Any) -> Any:
            if isinstance(item, str):
                return self._redact_text(item, secrets)
            if item is None or isinstance(item, bool | int | float):
                return item
            if isinstance(item, Mapping):
                return {
                    str(k): REDACTED if k in secret_params else clean(v) for k, v in item.items()
                }
            if isinstance(item, list | tuple | set | frozenset):
                return [clean(v) for v in item]
            if isinstance(item, bytes | bytearray):
                return f"<{len(item)} bytes>"
            try:
                return clean(_json.decode(_json.encode(item)))
            except _json.NotJsonError:
                return self._redact_text(repr(item), secrets)[:500]

        return clean(value)

    def _properties(self, properties: Sequence[Property] | None) -> list[Property] | None:
        if not properties:
            return None
        out = []
        for p in properties:
            if not isinstance(p, Property):
                raise ConfigurationError(
                    f"{type(self).__name__}: properties must be runio.Property items, got {p!r}."
                )
            text: Any = p.text
            if text is None:  # a parameter the call did not give
                continue
            out.append(
                Property(
                    p.label, self._redact_text(str(p.text)), p.url and self._redact_text(p.url)
                )
            )
        return out or None

    def _scrubbed(self, error: Exception) -> Exception:
        """``error``, or a ``VendorError`` with the same text minus secrets if its text (or any
        error chained to it) contains one of this instance's secrets."""
        secrets = self._secret_values()
        if not secrets:
            return error
        try:
            text = "".join(traceback.format_exception(error))
        except Exception:
            text = repr(error)
        if not any(s in text for s in secrets):
            return error
        replacement = VendorError(
            f"{type(error).__name__}: {self._redact_text(str(error), secrets)}",
            integration=self.id,
            error_type=type(error).__name__,
        )
        replacement.vendor_error = error
        return replacement

    def _client_for(self, loop: asyncio.AbstractEventLoop) -> ClientT:
        with self._client_lock:
            client = self._clients.get(loop)
            if client is None:
                self.check_configured()
                client = self.create_client()
                self._clients[loop] = client
            return client

    async def _close_clients(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._client_lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            try:
                await self.close_client(client)
            except Exception:
                log.warning("closing the %s client of %r failed", self.name, self.id, exc_info=True)

    def _on_error(
        self, user_on_error: Callable[[Exception, Task], Any] | None
    ) -> Callable[[Exception, Task], Any]:
        """The ``on_error`` of this integration's tasks: the caller's own first, then the
        integration's classification turned into the engine's retry verdicts."""

        async def on_error(error: Exception, task: Task) -> Any:
            original = error
            if isinstance(error, VendorError) and isinstance(error.vendor_error, Exception):
                original = error.vendor_error
            try:
                if self.is_outcome_unknown(original):
                    error.outcome_unknown = True  # type: ignore[attr-defined]
            except Exception:
                log.debug("could not mark %r as of unknown outcome", error, exc_info=True)
            if user_on_error is not None:
                verdict = user_on_error(error, task)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if verdict is not None:
                    return verdict
            if isinstance(original, ConfigurationError) and isinstance(original, RunioError):
                return SKIP_RETRYING
            try:
                decision = self.classify_error(original)
            except Exception:
                log.exception("%s.classify_error raised; using the retry options", self.name)
                decision = None
            if decision is None or decision.action == "retry":
                return None
            if decision.action == "fail":
                return SKIP_RETRYING
            assert decision.when is not None
            return RetryAt(decision.when)

        return on_error
