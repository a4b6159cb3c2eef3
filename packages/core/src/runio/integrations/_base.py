"""``runio.Integration``, the one base class of integrations, and its task wrappers.

An integration package subclasses ``Integration`` once per vendor and provides four things:
its settings (``runio.setting``), how to build the authenticated SDK client
(``create_client``), how to read the SDK's errors (``classify_error``, ``translate_error``), and
task wrappers declared with ``@runio.integration_task``. Everything else — redacting secrets
from params, outputs, errors and the SDK's log records, storing an attempt before the vendor
call where a later one needs to know it began, finding an earlier write of unknown outcome,
durable retries — is the kit's, kept off the
subclass (``_runtime.py``, ``_bound.py``) so that no method a vendor package defines can replace
it.

This module never imports a vendor SDK, nor the engine: it is the kit's vocabulary.
"""

from __future__ import annotations

import email.utils
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    dataclass_transform,
    overload,
)

from pydantic import BaseModel

from .._task import Property, Task
from ..errors import ConfigurationError
from ..retry import RetryAt, RetryOptions, standard_backoff
from ._runtime import Runtime
from ._settings import Setting, kind_of
from ._webhooks import (
    WebhookDelivery,
    WebhookRegistration,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
    make_trigger,
)

if TYPE_CHECKING:
    from typing import Unpack

    from .._task import TaskOptions

ClientT = TypeVar("ClientT")
I = TypeVar("I", bound="Integration[Any]")  # noqa: E741 - the integration's type
C = TypeVar("C")
P = ParamSpec("P")
R = TypeVar("R")
CacheKey = str | Sequence[Any]
Effect = Literal["read", "write", "idempotent"]
_EFFECTS = ("read", "write", "idempotent")


@dataclass(frozen=True, slots=True)
class ErrorDecision:
    """What to do about an error the vendor's SDK raised: ``classify_error``'s answer."""

    action: Literal["retry", "retry_at", "fail"]
    when: datetime | float | None = None
    """For ``retry_at``: an aware datetime, or seconds from now."""

    @staticmethod
    def retry() -> ErrorDecision:
        """Transient: retry as soon as the task's backoff allows (it counts against the retry
        limit)."""
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
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
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


class IntegrationTask(Generic[I, C, P, R]):
    """A task wrapper declared with ``@runio.integration_task``.

    On the class it is this object (``Stripe.create_customer.name``, ``.effect``); inside a run
    ``io.use(stripe).create_customer(cache_key, **params)`` (or ``io.stripe...``) runs it as a
    task. For mypy, reading it from an instance gives that call's signature: the cache key, then
    the wrapper's own keyword parameters.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None,
        effect: Effect,
        properties: Callable[[dict[str, Any]], Sequence[Property]] | None,
        secret_params: Collection[str],
        icon: str | None,
        redact: Sequence[str] | None,
        retry: RetryOptions | None,
        timeout: float | None,
        at_least_once: bool = False,
    ) -> None:
        where = f"@runio.integration_task {getattr(fn, '__qualname__', fn)!r}"
        if not callable(fn):
            raise ConfigurationError(f"{where} decorates a function, got {fn!r}.")
        parameters = list(inspect.signature(fn).parameters.values())
        if len(parameters) < 3 or any(p.kind != p.POSITIONAL_ONLY for p in parameters[:3]):
            raise ConfigurationError(
                f"{where} must take (self, client, task, /, *, ...): the integration, its SDK "
                "client and the runio.Task, positional-only, then the wrapper's own keyword "
                "parameters."
            )
        if any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters[3:]):
            raise ConfigurationError(
                f"{where}: the wrapper's own parameters must be keyword-only (put them after "
                "`/, *`): a job passes them by keyword after the cache key."
            )
        if effect not in _EFFECTS:
            raise ConfigurationError(
                f"{where}: effect must be 'read', 'write' (a side effect the vendor must apply "
                "once) or 'idempotent' (safe to repeat), got {effect!r}."
            )
        if retry is not None and not isinstance(retry, RetryOptions):
            raise ConfigurationError(f"{where}: retry must be runio.RetryOptions.")
        if at_least_once and effect != "write":
            raise ConfigurationError(
                f"{where}: at_least_once=True describes a write; a {effect} is repeated safely."
            )
        if properties is not None and not callable(properties):
            raise ConfigurationError(f"{where}: properties must be a function of the params.")
        self.fn = fn
        self.attr = fn.__name__
        self.name = name or _title(fn.__name__)
        self.effect: Effect = effect
        self.at_least_once = at_least_once
        self.properties = properties
        self.secret_params = frozenset(secret_params)
        self.icon = icon
        self.redact = list(redact) if redact else None
        self.retry = retry
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.Signature(parameters[3:])
        given = parameters[3:]
        keyword_only = [p for p in given if p.kind == p.KEYWORD_ONLY]
        # A signature of keyword-only parameters (and **params) is bound without inspect:
        self._keywords: tuple[str, ...] | None = None
        """its keyword-only names, in order; None: other kinds of parameters, bound by inspect"""
        self._required = frozenset(p.name for p in keyword_only if p.default is p.empty)
        self._open = any(p.kind == p.VAR_KEYWORD for p in given)
        if all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in given):
            self._keywords = tuple(p.name for p in keyword_only)
        self.finder: Callable[..., Any] | None = None
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> IntegrationTask[I, C, P, R]: ...

    @overload
    def __get__(
        self, instance: I, owner: type[Any]
    ) -> Callable[Concatenate[CacheKey, P], Awaitable[R]]: ...

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return _Unbound(self, type(instance).__name__)

    def find_previous(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Declare how this write finds its own earlier effect, for vendors without idempotency
        keys (``idempotency = "marker"``)::

            @post_message.find_previous
            async def _find_posted(self, client, task, /, *, channel, **params):
                ...  # look for self.marker(task) since task.started_at; None if absent

        It takes the wrapper's parameters and is called, inside the same task, only when an
        earlier attempt's outcome is unknown (``task.outcome_unknown``): what it returns (JSON)
        becomes the task's output without writing again; None lets the wrapper write."""
        if not callable(fn):
            raise ConfigurationError(f"{self.attr}.find_previous decorates a function.")
        if inspect.iscoroutinefunction(fn) != self.is_async:
            raise ConfigurationError(
                f"{self.attr}.find_previous must be {'async' if self.is_async else 'a plain def'}"
                " like the wrapper it belongs to."
            )
        self.finder = fn
        return fn

    def bind(self, params: dict[str, Any], where: str | Callable[[], str]) -> dict[str, Any]:
        """The call's keyword parameters, checked against the wrapper's signature (in its order,
        then the ones its ``**params`` takes, in the caller's). ``where`` names the call in an
        error (a function: made only then)."""
        keywords = self._keywords
        if keywords is not None and self._required.issubset(params):
            if self._open:
                named = {k: params[k] for k in keywords if k in params}
                return {**named, **params} if named else dict(params)
            if all(k in keywords for k in params):
                return {k: params[k] for k in keywords if k in params}
        parameters = self.signature.parameters.values()
        unknown = sorted(set(params) - {p.name for p in parameters})
        try:
            if unknown and not any(p.kind == p.VAR_KEYWORD for p in parameters):
                raise TypeError(f"unexpected parameter(s) {', '.join(map(repr, unknown))}")
            bound = self.signature.bind(**params)
        except TypeError as exc:
            if callable(where):
                where = where()
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
        return f"<integration task {self.attr} {self.name!r} ({self.effect})>"


class _Unbound:
    def __init__(self, spec: IntegrationTask[Any, Any, Any, Any], owner: str) -> None:
        self._spec = spec
        self._owner = owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError(
            f"{self._owner}.{self._spec.attr} is an integration task: call it inside a job, "
            f"through io: `await io.use(integration).{self._spec.attr}(cache_key, ...)` or "
            f"`await io.<namespace>.{self._spec.attr}(cache_key, ...)`."
        )


class _Decorator(Protocol):
    @overload
    def __call__(
        self, fn: Callable[Concatenate[I, C, Task, P], Coroutine[Any, Any, R]], /
    ) -> IntegrationTask[I, C, P, R]: ...

    @overload
    def __call__(
        self, fn: Callable[Concatenate[I, C, Task, P], R], /
    ) -> IntegrationTask[I, C, P, R]: ...


def integration_task(
    name: str | None = None,
    *,
    effect: Effect,
    properties: Callable[[dict[str, Any]], Sequence[Property]] | None = None,
    secret_params: Collection[str] = (),
    icon: str | None = None,
    redact: Sequence[str] | None = None,
    retry: RetryOptions | None = None,
    timeout: float | None = None,
    at_least_once: bool = False,
) -> _Decorator:
    """Declare a task wrapper on a ``runio.Integration`` subclass::

        @runio.integration_task(
            name="Create Customer",
            effect="write",
            properties=lambda p: [runio.Property("Email", p.get("email"))],
        )
        async def create_customer(self, client, task, /, *, email: str, **params: Any):
            return await client.customers.create(
                email=email, **params, idempotency_key=self.idempotency_key(task))

    A job calls it as ``await io.use(acme).create_customer("create-customer", email=...)``:
    one task of the run, named ``name`` (default: from the method name), with the integration's
    icon, ``properties`` computed from the call's parameters (a property whose text is None is
    left out), and the parameters recorded as the task's params (``secret_params`` and the
    integration's secrets redacted). ``effect`` says what the call does at the vendor: ``read``,
    ``write`` (a side effect that must happen once: it carries the idempotency key, or for
    vendors without keys a marker and a ``find_previous``), or ``idempotent`` (a write that is
    harmless to repeat, such as setting labels). ``at_least_once=True`` declares a write the
    vendor offers no way to make once (no key, nothing to look for afterwards): it is retried
    like any write, and its docstring must say "at least once". ``redact`` lists output paths
    hidden in the
    dashboard; ``retry`` and ``timeout`` override the integration's defaults. A plain ``def``
    wrapper runs in the worker's thread pool, off the event loop. The first three parameters are
    positional-only (``self, client, task, /``); the wrapper's own are keyword-only.
    """

    def decorate(fn: Callable[..., Any]) -> IntegrationTask[Any, Any, Any, Any]:
        return IntegrationTask(
            fn,
            name=name,
            effect=effect,
            properties=properties,
            secret_params=secret_params,
            icon=icon,
            redact=redact,
            retry=retry,
            timeout=timeout,
            at_least_once=at_least_once,
        )

    if name is not None and not isinstance(name, str):
        raise ConfigurationError(
            "@runio.integration_task(...) takes the task's display name and effect=...: write "
            '@runio.integration_task(name="Create Item", effect="write").'
        )
    return decorate


# -- the base class --------------------------------------------------------------------------

_OVERRIDABLE = frozenset(
    {
        "create_client",
        "close_client",
        "classify_error",
        "translate_error",
        "is_outcome_unknown",
        "idempotency_key",
        "marker",
        "verify_webhook",
        "register_webhook",
        "__init__",
        "__repr__",
    }
)
_RESERVED_WRAPPER_NAMES = frozenset({"run_task", "with_options", "integration"})


@dataclass(frozen=True)
class ClassSpec:
    """What the kit knows about an integration class: its settings and task wrappers."""

    settings: dict[str, Setting]
    tasks: dict[str, IntegrationTask[Any, Any, Any, Any]]
    offers_webhooks: bool = False
    """Whether the class implements ``verify_webhook`` (its webhooks can reach an app)."""


def class_spec(cls: type[Integration[Any]]) -> ClassSpec:
    """The settings and task wrappers ``cls`` declares (its own and inherited)."""
    spec = cls.__dict__.get("__runio_spec__")
    if not isinstance(spec, ClassSpec):
        raise ConfigurationError(f"{cls!r} is not a runio.Integration subclass.")
    return spec


@dataclass_transform(kw_only_default=True, eq_default=False)
class _IntegrationMeta(type):
    """Gives ``Integration`` subclasses a typed constructor (for type checkers) from their
    ``runio.setting`` attributes; at run time ``Integration.__init__`` takes them."""


def _field(**kwargs: Any) -> Any:
    return None


class Integration(Generic[ClientT], metaclass=_IntegrationMeta):
    """The base class of every integration (``runio-stripe``'s ``Stripe``, a third party's
    ``Acme``...). Subclass it once per vendor::

        class Acme(runio.Integration[AcmeClient]):
            namespace, name, icon = "acme", "Acme", "acme"
            package = "runio-acme"
            idempotency = "key"
            api_key: str = runio.setting(env="ACME_API_KEY")

            def create_client(self) -> AcmeClient: ...
            def classify_error(self, error, task) -> runio.ErrorDecision | None: ...

            @runio.integration_task(name="Create Item", effect="write")
            async def create_item(self, client, task, /, *, title: str) -> dict[str, Any]: ...

    An instance is one configured account: ``Acme(api_key=...)``, or ``Acme()`` reading
    ``ACME_API_KEY``. Declare instances per job with ``define_job(integrations={"acme":
    acme})`` (several under different keys work side by side), or let ``io.acme`` build a
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
    default_retry: ClassVar[RetryOptions] = standard_backoff
    """Retry options of its tasks, refined per error by ``classify_error``."""
    idempotency: ClassVar[Literal["key", "marker", "none"]] = "none"
    """How repeated writes are made harmless: ``key`` (the vendor deduplicates on
    ``idempotency_key(task)``: Stripe, Resend), ``marker`` (each write carries
    ``marker(task)`` and declares a ``find_previous``: Slack, GitHub), or ``none``."""
    sdk_loggers: ClassVar[tuple[str, ...]] = ()
    """Loggers of the vendor's SDK (``("stripe",)``): their records, and their children's, are
    scrubbed of every live instance's secrets."""

    webhook_secret_setting: ClassVar[str] = "webhook_secret"
    """The setting that holds the webhook signing secret (``runio webhooks`` and the server say
    when it is unset)."""
    webhook_help: ClassVar[str | None] = None
    """How to register the webhook endpoint with the vendor by hand (``runio webhooks`` shows
    it, with the endpoint's URL). Set it when the class implements ``verify_webhook``."""

    id: str = _field()
    """Names this instance in errors and logs (default: the namespace)."""
    retry: RetryOptions | None = _field()
    """Replaces ``default_retry`` for this instance's tasks."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        settings: dict[str, Setting] = {}
        tasks: dict[str, IntegrationTask[Any, Any, Any, Any]] = {}
        for klass in reversed(cls.__mro__):
            if klass is Integration or not issubclass(klass, Integration):
                continue
            spec = klass.__dict__.get("__runio_spec__")
            own = vars(klass)
            annotations = own.get("__annotations__", {})
            if isinstance(spec, ClassSpec) and klass is not cls:
                settings.update(spec.settings)
                tasks.update(spec.tasks)
                continue
            for attr, value in own.items():
                if isinstance(value, Setting):
                    if attr in ("id", "retry") or attr.startswith("_"):
                        raise ConfigurationError(
                            f"{cls.__name__}.{attr}: a setting cannot be named {attr!r} (use "
                            "an identifier other than 'id' and 'retry', not starting with _)."
                        )
                    if attr not in annotations:
                        raise ConfigurationError(
                            f"{cls.__name__}.{attr} = runio.setting(...) needs an annotation "
                            f"(`{attr}: str = runio.setting(...)`)."
                        )
                    object.__setattr__(value, "kind", kind_of(annotations[attr]))
                    settings[attr] = value
                elif isinstance(value, IntegrationTask):
                    tasks[attr] = value
                elif attr in tasks:
                    del tasks[attr]  # overridden by a plain attribute
            for attr, annotation in annotations.items():
                if attr not in own and "ClassVar" not in str(annotation):
                    raise ConfigurationError(
                        f"{cls.__name__}.{attr} is annotated but is not a setting: declare "
                        f"settings as `{attr}: str = runio.setting(...)`, and annotate other "
                        f"class attributes as ClassVar[...]."
                    )
        for attr in tasks:
            if attr in _RESERVED_WRAPPER_NAMES or attr.startswith("_"):
                raise ConfigurationError(
                    f"{cls.__name__}.{attr}: a task wrapper cannot be named {attr!r} (it is "
                    "part of io.<namespace> itself)."
                )
        for attr in vars(cls):
            if attr in tasks or attr in settings or attr.startswith("__"):
                continue
            base_value = getattr(Integration, attr, None)
            if (
                callable(base_value)
                and attr not in _OVERRIDABLE
                and not isinstance(vars(Integration).get(attr), classmethod | staticmethod)
                and attr in vars(Integration)
            ):
                raise ConfigurationError(
                    f"{cls.__name__}.{attr} replaces runio.Integration.{attr}, which the kit "
                    "relies on; give it another name."
                )
        webhooks = cls.verify_webhook is not Integration.verify_webhook
        cls.__runio_spec__ = ClassSpec(settings, tasks, webhooks)  # type: ignore[attr-defined]

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
        if id is not None and (not isinstance(id, str) or not id.strip()):
            raise ConfigurationError(f"{cls.__name__}(id=...) must be a non-empty string.")
        if retry is not None and not isinstance(retry, RetryOptions):
            raise ConfigurationError(
                f"{cls.__name__}(retry=...) must be runio.RetryOptions, got {retry!r}."
            )
        self.id = id or cls.namespace
        self.retry = retry
        self.__dict__["__runio__"] = Runtime(self, class_spec(cls), settings)

    # -- what a subclass provides ----------------------------------------------------------
    def create_client(self) -> ClientT:
        """Build the vendor's authenticated SDK client from the settings, with the SDK's own
        retries turned off (runio is the only retry layer). Called once per event loop of a
        worker, the first time a task of this instance runs there (never on a replay)."""
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

    def classify_error(self, error: Exception, task: Task) -> ErrorDecision | None:
        """Classify an error the SDK raised in a task of this integration (``error`` is the
        SDK's own, before ``translate_error``): ``ErrorDecision.retry()`` (transient),
        ``.retry_at(when)`` (the vendor said when), ``.fail()`` (permanent), or None to let the
        task's retry options decide. The default returns None."""
        return None

    def translate_error(self, error: Exception, task: Task) -> Exception:
        """The error a task of this integration records for ``error`` raised by the SDK: e.g.
        one that carries the vendor's message, code and request id in words a user can act on.
        Applied to wrappers and ``io.<ns>.run_task`` alike (the original stays chained as
        ``__cause__``); the kit scrubs secrets from its text afterwards. The default returns
        ``error``."""
        return error

    def is_outcome_unknown(self, error: Exception) -> bool:
        """Whether the call may have taken effect although it failed (the connection dropped or
        timed out after the request was sent). The next attempt then sees
        ``task.outcome_unknown``. The default recognises the connection errors of the standard
        library, httpx, requests, aiohttp and urllib3 anywhere in the error's chain."""
        return outcome_unknown_in_chain(error)

    def idempotency_key(self, task: Task) -> str:
        """The key the vendor deduplicates this task's write on. The default is the task's own
        idempotency key (64 hex characters, stable across retries, replays and crashes);
        override to fit a vendor's format."""
        return task.idempotency_key

    def marker(self, task: Task) -> str:
        """A string that identifies this task's write, for vendors without idempotency keys:
        put it in the write (message metadata, a hidden comment) and look for it in the
        wrapper's ``find_previous``."""
        return f"runio-{task.idempotency_key}"

    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        """Check a webhook request's signature with this instance's signing secret and read the
        delivery: a ``WebhookDelivery`` (stored as an event, starting the jobs whose triggers
        match), or a ``WebhookReply`` for a verified request that is not an event (a URL check,
        a ping). Raise ``runio.errors.WebhookSignatureError`` when the signature is missing,
        wrong or older than the vendor's tolerance (compared with ``request.received_at``), and
        ``runio.errors.WebhookPayloadError`` for a signed body that cannot be read; both answer
        4xx and store nothing. Implement it to offer triggers (``webhook_trigger``)."""
        raise ConfigurationError(
            f"{type(self).__name__} offers no webhooks: it does not implement verify_webhook."
        )

    def register_webhook(self, url: str, events: Sequence[str]) -> WebhookRegistration:
        """Register ``url`` with the vendor for ``events`` (``runio webhooks --register``), where
        the vendor's API allows it. The default says to register by hand (``webhook_help``)."""
        raise ConfigurationError(
            f"{type(self).__name__} cannot register webhooks through the vendor's API; register "
            f"{url} by hand: {self.webhook_help or 'see the vendor documentation.'}"
        )

    # -- for jobs and tools ----------------------------------------------------------------
    def webhook_trigger(
        self,
        event_type: str,
        *,
        schema: type[BaseModel] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """A job trigger for the vendor's ``event_type`` events delivered to this instance's
        webhook endpoint (``/api/v1/webhooks/<id>``), matching ``filter`` (as in
        ``runio.event_trigger``); the job receives the vendor's event parsed by ``schema`` when
        given (the raw event stays in ``ctx.event.payload``). An integration's ``on_...``
        methods build on this: ``stripe.on_event("invoice.paid")``."""
        return make_trigger(self, event_type, schema=schema, filter=filter)

    async def run_task(
        self,
        cache_key: CacheKey,
        fn: Callable[[ClientT, Task], Awaitable[R]] | Callable[[ClientT, Task], R],
        /,
        **options: Unpack[TaskOptions],
    ) -> R:
        """Run ``fn(client, task)`` as a task with this integration's authenticated SDK client,
        for any SDK call no wrapper covers. Inside a job, through io:
        ``await io.use(acme).run_task("key", lambda client, task: client.things.get(...))``."""
        raise ConfigurationError(
            f"{type(self).__name__}.run_task is called inside a job, through io: "
            "`await io.use(integration).run_task(cache_key, fn)` or "
            "`await io.<namespace>.run_task(cache_key, fn)`."
        )

    def require_setting(self, name: str) -> Any:
        """The value of setting ``name``, else an ``IntegrationSettingError`` naming the argument
        and the environment variable that give it one: for settings that are optional until a
        feature needs them (a webhook signing secret)."""
        runtime = self.__dict__["__runio__"]
        setting = runtime.spec.settings.get(name)
        if setting is None:
            raise ConfigurationError(f"{type(self).__name__} has no setting {name!r}.")
        value = runtime.values.get(name)
        if value is None:
            raise runtime._missing_error([name])
        return value

    def missing_settings(self) -> list[str]:
        """The required settings this instance has no value for."""
        return self.__dict__["__runio__"].missing()  # type: ignore[no-any-return]

    def check_configured(self) -> None:
        """Raise ``IntegrationSettingError`` naming each required setting without a value, the
        argument and the environment variable that would give it one."""
        self.__dict__["__runio__"].check_configured()

    @classmethod
    def missing_from_environment(cls, environ: dict[str, str] | None = None) -> list[str]:
        """What a default instance (``cls()``) would lack: the environment variables to set
        (or ``<setting>`` for a required setting no variable provides)."""
        env = os.environ if environ is None else environ
        missing = []
        for key, spec in class_spec(cls).settings.items():
            if not spec.required or spec.default is not None:
                continue
            if spec.env is None:
                missing.append(f"<{key}>")
            elif not (env.get(spec.env) or "").strip():
                missing.append(spec.env)
        return missing

    @classmethod
    def is_configured(cls, environ: dict[str, str] | None = None) -> bool:
        """Whether the environment configures a default instance."""
        return not cls.missing_from_environment(environ)

    def __repr__(self) -> str:
        return self.__dict__["__runio__"].describe()  # type: ignore[no-any-return]


_OUTCOME_UNKNOWN_NAMES = frozenset(
    {
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
    }
)
_OUTCOME_KNOWN_NAMES = frozenset(
    {"ConnectError", "ConnectTimeout", "ClientConnectorError", "NewConnectionError"}
)


def outcome_unknown_in_chain(error: BaseException) -> bool:
    """Whether ``error``, or an error chained to it, is a connection that failed after the
    request may have been sent (not one that was never made)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {k.__name__ for k in type(current).__mro__}
        if isinstance(current, ConnectionRefusedError) or names & _OUTCOME_KNOWN_NAMES:
            return False
        if isinstance(current, ConnectionError | TimeoutError) or names & _OUTCOME_UNKNOWN_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False
