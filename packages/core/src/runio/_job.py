"""Job definitions: the function, its trigger, and the checks made when it is defined (the
payload annotation against the trigger's schema among them); ``JobDecorator``, the typed
shape of ``define_job(...)``, which keeps the payload and result types of the function."""

from __future__ import annotations

import inspect
import keyword
import re
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, overload

from pydantic import BaseModel, ValidationError

from . import _validate
from ._context import RunContext
from ._io import IO, SyncIO
from ._logcapture import CaptureSetting, capture_level
from ._schedules import ScheduledTick, ScheduleTrigger
from ._triggers import EventTrigger, job_text
from .errors import JobDefinitionError
from .integrations import Integration

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

PayloadT = TypeVar("PayloadT")
ResultT = TypeVar("ResultT")


def _io_attributes() -> frozenset[str]:
    """What ``io`` already offers (``io.run_task``, ``io.logger``...): no namespace may hide it."""
    return frozenset(n for n in dir(IO) if not n.startswith("_")) | {"logger"}


def _check_integrations(job_id: str, integrations: object) -> dict[str, Integration[Any]]:
    """The job's declared integrations, checked: each key becomes ``io.<key>``, so it must be an
    identifier that hides nothing of ``io``; each value must be an integration instance."""
    if integrations is None:
        return {}
    if not isinstance(integrations, Mapping):
        raise JobDefinitionError(
            f"Job {job_id!r}: integrations must map names to integration instances, e.g. "
            f"integrations={{'http': HTTP()}}; got a {type(integrations).__name__}."
        )
    declared: dict[str, Integration[Any]] = {}
    reserved = _io_attributes()
    for key, value in integrations.items():
        if (
            not isinstance(key, str)
            or not key.isidentifier()
            or key.startswith("_")
            or keyword.iskeyword(key)
        ):
            raise JobDefinitionError(
                f"Job {job_id!r}: integrations key {key!r} cannot be an attribute of io; use a "
                "Python identifier that does not start with '_', such as 'stripe' or 'billing'."
            )
        if key in reserved:
            raise JobDefinitionError(
                f"Job {job_id!r}: integrations key {key!r} would hide io.{key}, which runio "
                f"already provides; choose another name, e.g. {key + '_api'!r}."
            )
        if isinstance(value, type) and issubclass(value, Integration):
            raise JobDefinitionError(
                f"Job {job_id!r}: integrations[{key!r}] is the class {value.__name__}; declare "
                f"an instance: integrations={{{key!r}: {value.__name__}(...)}}."
            )
        if not isinstance(value, Integration):
            raise JobDefinitionError(
                f"Job {job_id!r}: integrations[{key!r}] must be an integration instance such as "
                f"runio.integrations.HTTP() or runio_stripe.Stripe(), got a value of type "
                f"{type(value).__name__} (not shown: it may be a secret)."
            )
        declared[key] = value
    return declared


@dataclass(kw_only=True)
class Job(Generic[PayloadT, ResultT]):
    """A job registered with a client. Calling it is not how it runs: send its event.

    Typed by what its function takes and returns: ``Job[NewUser, dict[str, str]]`` for
    ``async def new_user(payload: NewUser, io: runio.IO) -> dict[str, str]``."""

    id: str
    name: str
    version: str
    trigger: EventTrigger | ScheduleTrigger
    fn: Callable[..., Awaitable[ResultT] | ResultT]
    """The job function, as it was defined."""
    integrations: dict[str, Any] = field(default_factory=dict)
    max_duration: float | None = None
    """Seconds a run may take from its first execution; past it the run ends TIMED_OUT."""
    capture_logging: int | bool | None = None
    """Standard ``logging`` records captured into the run's logs: a level, False (off) or None
    (the client's setting)."""
    is_async: bool
    wants_context: bool

    def parse_payload(self, payload: Any) -> Any:
        """The payload as the job function receives it; raises pydantic's ValidationError."""
        if self.trigger.schema is None:
            return payload
        return self.trigger.schema.model_validate(payload)

    def payload_errors(self, payload: Any) -> list[dict[str, Any]] | None:
        try:
            self.parse_payload(payload)
        except ValidationError as exc:
            return [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        return None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.trigger, ScheduleTrigger):
            raise TypeError(
                f"Job {self.id!r} is not called directly: it runs on its schedule "
                f"({self.trigger.describe()}) once a worker of its app is running."
            )
        raise TypeError(
            f"Job {self.id!r} is not called directly: send its event "
            f"(client.send_event({self.trigger.name!r}, payload)) and a worker runs it."
        )


class JobDecorator(Protocol):
    """What ``client.define_job(...)`` returns: it takes the job function and returns its
    ``Job``, typed by the function's payload and result. An ``async def`` takes a ``runio.IO``,
    a plain ``def`` a ``runio.SyncIO`` (a type checker flags the other way round)."""

    @overload
    def __call__(
        self, fn: Callable[[PayloadT, IO, RunContext], Awaitable[ResultT]], /
    ) -> Job[PayloadT, ResultT]: ...

    @overload
    def __call__(
        self, fn: Callable[[PayloadT, IO], Awaitable[ResultT]], /
    ) -> Job[PayloadT, ResultT]: ...

    @overload
    def __call__(
        self, fn: Callable[[PayloadT, SyncIO, RunContext], ResultT], /
    ) -> Job[PayloadT, ResultT]: ...

    @overload
    def __call__(self, fn: Callable[[PayloadT, SyncIO], ResultT], /) -> Job[PayloadT, ResultT]: ...


def make_job(
    fn: Callable[..., Any],
    *,
    id: str,
    name: str | None,
    version: str,
    trigger: EventTrigger | ScheduleTrigger,
    integrations: Mapping[str, Any] | None,
    max_duration: float | None = None,
    capture_logging: CaptureSetting = None,
) -> Job[Any, Any]:
    if not isinstance(id, str) or not _ID.match(id):
        raise JobDefinitionError(
            f"Job id {id!r} is not usable: use 1-128 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (e.g. 'new-user')."
        )
    if isinstance(trigger, ScheduleTrigger):
        trigger = trigger.for_job(id)
    elif not isinstance(trigger, EventTrigger):
        raise JobDefinitionError(
            f"Job {id!r}: trigger must come from runio.event_trigger(...), runio.cron_trigger(...) "
            f"or runio.interval_trigger(...), got {trigger!r}."
        )
    if not callable(fn):
        raise JobDefinitionError(f"Job {id!r}: define_job decorates a function, got {fn!r}.")
    if not isinstance(version, str) or not version:
        raise JobDefinitionError(f"Job {id!r}: version must be a non-empty string like '1.0.0'.")
    if max_duration is not None:
        _validate.seconds(
            max_duration,
            f"Job {id!r}: max_duration",
            above=True,
            error=JobDefinitionError,
            hint=" Leave it None for no limit.",
        )
    if name is not None:
        job_text(name, f"Job {id!r}: name")
    job_text(version, f"Job {id!r}: version")
    declared = _check_integrations(id, integrations)
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) not in (2, 3):
        raise JobDefinitionError(
            f"Job {id!r}: its function must take (payload, io) or (payload, io, ctx); "
            f"{getattr(fn, '__name__', fn)!r} takes {len(params)} positional parameter(s)."
        )
    _check_payload_annotation(id, fn, params[0], trigger)
    return Job(
        id=id,
        name=name or id,
        version=version,
        trigger=trigger,
        fn=fn,
        integrations=declared,
        max_duration=None if max_duration is None else float(max_duration),
        capture_logging=capture_level(
            capture_logging, owner=f"Job {id!r}", error=JobDefinitionError
        ),
        is_async=inspect.iscoroutinefunction(fn),
        wants_context=len(params) == 3,
    )


# -- the payload annotation against the trigger ---------------------------------------------------
def _check_payload_annotation(
    job_id: str,
    fn: Callable[..., Any],
    param: inspect.Parameter,
    trigger: EventTrigger | ScheduleTrigger,
) -> None:
    """The payload parameter's annotation must fit what the job receives: the trigger's schema
    (a model), a ``ScheduledTick`` for a schedule, JSON without a schema. An annotation that
    cannot be resolved here (a name defined later, say) is left to the type checker."""
    annotation = _resolved_annotation(fn, param)
    if annotation is None:
        return
    if isinstance(trigger, ScheduleTrigger):
        receives: type[Any] | None = ScheduledTick
        how = f"its schedule ({trigger.describe()}) hands it a runio.ScheduledTick"
        fix = "annotate it runio.ScheduledTick"
    else:
        receives = trigger.schema
        how = (
            f"the trigger's schema is {trigger.schema.__name__}, so it receives a "
            f"{trigger.schema.__name__}"
            if trigger.schema is not None
            else "the trigger has no schema, so it receives the JSON payload (a dict, a list...)"
        )
        fix = (
            f"annotate it {trigger.schema.__name__} (or drop schema= to receive the JSON)"
            if trigger.schema is not None
            else f"pass event_trigger(..., schema={_name(annotation)}) to receive that model"
        )
    if _fits(annotation, receives):
        return
    raise JobDefinitionError(
        f"Job {job_id!r}: its payload parameter {param.name!r} is annotated "
        f"{_name(annotation)}, but {how}; {fix}."
    )


def _resolved_annotation(fn: Callable[..., Any], param: inspect.Parameter) -> Any:
    if param.annotation is inspect.Parameter.empty:
        return None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation naming something not importable here
        return None
    return hints.get(param.name)


def _fits(annotation: Any, receives: type[Any] | None) -> bool:
    """Whether a value the job receives is acceptable where ``annotation`` is declared."""
    if annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(arm, receives) for arm in typing.get_args(annotation))
    if receives is not None:  # a model: its class, or a base of it
        return isinstance(annotation, type) and issubclass(receives, annotation)
    # JSON: anything but a model (dict, list, str, Mapping[str, Any], TypedDict, ...)
    return not (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)
