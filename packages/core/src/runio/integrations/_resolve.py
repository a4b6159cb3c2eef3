"""What ``io.<name>`` and ``io.use(...)`` resolve to, and what a ``Client`` knows about plugins.

``io.<name>`` is, in order: the instance the job declared under ``name`` in ``integrations=``;
else a default instance of the integration an installed plugin registered with namespace
``name``, if the environment configures it; else an ``IntegrationNotFoundError`` saying what to
install or configure. ``io.use(instance)`` binds that instance; ``io.use(Class)`` the instance of
that class the job declared, else a default one.

``ClientKit`` is the per-client state behind that: the plugin manager (given, or built from
entry points on first use), the default instances it built (reused across runs), and each
execution's lifecycle hooks. Core keeps no list of vendors: what to install and which settings
to provide come from the installed packages themselves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._io import IO, SyncIO
from ..errors import ConfigurationError, IntegrationNotFoundError, IntegrationSettingError
from ..plugins import IntegrationInfo, Lifecycle, PluginManager, RunInfo, create_plugin_manager
from ._base import Integration
from ._bound import IntegrationIO
from ._runtime import runtime_of

if TYPE_CHECKING:
    from .._job import Job
    from .._records import ClaimedRun


class ClientKit:
    """A client's plugins and integrations."""

    def __init__(self, plugins: PluginManager | None) -> None:
        given: object = plugins
        if given is not None and not isinstance(given, PluginManager):
            raise ConfigurationError(
                "Client(plugins=...) must come from runio.plugins.create_plugin_manager(...), "
                f"got {plugins!r}."
            )
        self._pm = plugins
        self._lock = threading.Lock()
        self._defaults: dict[Any, Integration[Any]] = {}
        self._used: dict[int, Integration[Any]] = {}
        self._jobs: dict[int, JobIntegrations] = {}

    @property
    def plugins(self) -> PluginManager:
        pm = self._pm
        if pm is None:
            with self._lock:
                if self._pm is None:
                    self._pm = create_plugin_manager()
                pm = self._pm
        return pm

    def load(self) -> PluginManager:
        """Build the plugin manager now (a worker does at start, so a plugin that fails to
        import stops it at once with a ``PluginLoadError`` instead of failing runs). The
        integrations the plugins register are collected on first use, so a worker does not
        import vendor SDKs its jobs never call."""
        return self.plugins

    def lifecycle(self, claimed: ClaimedRun) -> Lifecycle | None:
        """The lifecycle hooks of one execution, or None when no plugin implements any."""
        impls = self.plugins.lifecycle_impls()
        if impls is None:
            return None
        run = RunInfo(
            run_id=claimed.lease.run_id,
            app_id=claimed.app_id,
            job_id=claimed.job_id,
            job_version=claimed.job_version,
            event_id=claimed.event.id,
            event_name=claimed.event.name,
            execution_count=claimed.execution_count,
            is_retry=claimed.is_retry,
        )
        return Lifecycle(run, impls)

    def for_job(self, job: Job[Any, Any]) -> JobIntegrations:
        found = self._jobs.get(id(job))
        if found is None or found.job is not job:
            found = self._jobs[id(job)] = JobIntegrations(job, self)
        return found

    def default_instance(self, namespace: str, job: Job[Any, Any] | None) -> Integration[Any]:
        """The default instance for ``io.<namespace>``: built from the environment, once."""
        instance = self._defaults.get(namespace)
        if instance is not None:
            return instance
        infos = self.plugins.integrations_for(namespace)
        if not infos:
            raise not_installed(namespace, job)
        classes = {info.cls for info in infos}
        if len(classes) > 1:
            names = " and ".join(_provider(i) for i in infos)
            raise IntegrationNotFoundError(
                f"io.{namespace}: {names} all provide the {namespace!r} namespace, so runio will "
                f"not pick one. Declare the one you want: define_job(..., integrations="
                f"{{{namespace!r}: ...}}), or disable the others with RUNIO_DISABLE_PLUGINS.",
                namespace=namespace,
            )
        return self._build_default(namespace, infos[0].cls, infos[0])

    def default_for_class(self, cls: type[Integration[Any]]) -> Integration[Any]:
        """The default instance of ``cls`` (``io.use(Stripe)`` in a job that declares none)."""
        instance = self._defaults.get(cls)
        if instance is not None:
            return instance
        info = next((i for i in self.plugins.integrations() if i.cls is cls), None)
        return self._build_default(cls, cls, info)

    def _build_default(
        self, key: Any, cls: type[Integration[Any]], info: IntegrationInfo | None
    ) -> Integration[Any]:
        missing = cls.missing_from_environment()
        if missing:
            who = _provider(info) if info is not None else f"{cls.name} ({cls.__name__})"
            raise IntegrationNotFoundError(
                f"io.{cls.namespace}: {who} is installed but not configured: set "
                f"{', '.join(missing)} in the environment, or declare an instance: "
                f"define_job(..., integrations={{{cls.namespace!r}: {cls.__name__}(...)}}).",
                namespace=cls.namespace,
                package=(info.plugin.package if info is not None else None) or cls.package,
                settings=missing,
            )
        with self._lock:
            instance = self._defaults.get(key)
            if instance is None:
                instance = self._defaults[key] = cls()
        return instance

    def check_declared(self, jobs: Iterable[Job[Any, Any]]) -> None:
        """Raise ``IntegrationSettingError`` naming, per job, every declared integration that
        lacks a required setting (a worker checks this at start rather than fail runs)."""
        problems: list[str] = []
        first: IntegrationSettingError | None = None
        for job in jobs:
            for key, value in job.integrations.items():
                if not isinstance(value, Integration):
                    continue
                try:
                    value.check_configured()
                except IntegrationSettingError as exc:
                    first = first or exc
                    problems.append(f"job {job.id!r}, integrations[{key!r}]: {exc}")
        if first is not None:
            raise IntegrationSettingError(
                "This worker's jobs declare integrations that are not configured, so their "
                "runs would fail: " + " ".join(problems),
                integration=first.integration,
                setting=first.setting,
                env=first.env,
            )

    def note_used(self, instance: Integration[Any]) -> None:
        """An instance a job used without declaring it: its clients are closed with the
        worker's."""
        self._used.setdefault(id(instance), instance)

    def instances(self, jobs: Iterable[Job[Any, Any]]) -> list[Integration[Any]]:
        found: dict[int, Integration[Any]] = {}
        for job in jobs:
            for value in job.integrations.values():
                if isinstance(value, Integration):
                    found[id(value)] = value
        for value in [*self._defaults.values(), *self._used.values()]:
            found[id(value)] = value
        return list(found.values())

    async def close_clients(
        self, jobs: Iterable[Job[Any, Any]], loop: asyncio.AbstractEventLoop
    ) -> None:
        """Close the SDK clients the integrations built on ``loop`` (the worker is stopping)."""
        for instance in self.instances(jobs):
            await runtime_of(instance).close_clients(loop)


class JobIntegrations:
    """The integrations one job's ``io`` can reach: the resolver its ``IO`` is given."""

    def __init__(
        self, job: Job[Any, Any] | None, kit: ClientKit | None, declared: Mapping[str, Any] = {}
    ):
        self.job = job
        self._kit = kit
        self._declared = dict(job.integrations) if job is not None else dict(declared)

    def attribute(self, io: IO, key: str) -> Any:
        """``io.<key>``."""
        value = self._declared.get(key)
        if value is None and key not in self._declared:
            if self._kit is None:
                raise not_installed(key, self.job)
            value = self._kit.default_instance(key, self.job)
        if isinstance(value, Integration):
            return _bound(io, value, key)
        return value

    def use(self, io: IO, target: Any) -> Any:
        """``io.use(instance)`` or ``io.use(IntegrationClass)``."""
        if isinstance(target, Integration):
            key = next((k for k, v in self._declared.items() if v is target), target.id)
            if self._kit is not None:
                self._kit.note_used(target)
            return _bound(io, target, key)
        if (
            isinstance(target, type)
            and issubclass(target, Integration)
            and target is not Integration
        ):
            declared = [(k, v) for k, v in self._declared.items() if type(v) is target]
            if len(declared) > 1:
                keys = ", ".join(k for k, _ in declared)
                raise ConfigurationError(
                    f"io.use({target.__name__}): this job declares several {target.__name__} "
                    f"instances ({keys}); pass the instance you mean: io.use(instance)."
                )
            if declared:
                key, instance = declared[0]
                return _bound(io, instance, key)
            if self._kit is None:
                raise not_installed(target.namespace, self.job)
            return _bound(io, self._kit.default_for_class(target), target.namespace)
        raise ConfigurationError(
            f"io.use(...) takes a runio.Integration instance or subclass, got {target!r}."
        )

    def blocking(self, value: Any, sync_io: SyncIO) -> Any:
        """What ``value`` (from ``attribute`` or ``use``) is in synchronous code."""
        if isinstance(value, IntegrationIO):
            return value.blocking(sync_io)
        return value


def _bound(io: IO, integration: Integration[Any], key: str) -> IntegrationIO[Any]:
    """``integration`` bound to ``io`` under ``key``: one object per execution, whether reached
    as ``io.<key>`` or through ``io.use`` (so a wrapper's shared options are worked out once per
    execution, not at each call). An instance other than the one already bound under that key
    (an undeclared one whose id is a declared key) gets an object of its own."""
    bound = io._namespaces.get(key)
    if bound is not None and bound.integration is integration:
        return bound  # type: ignore[no-any-return]
    made = IntegrationIO(integration, io, key)
    if bound is None:
        io._namespaces[key] = made
    return made


def _provider(info: IntegrationInfo) -> str:
    package = info.plugin.package or info.cls.package
    if info.plugin.builtin:
        return f"{info.cls.name} (built into runio)"
    if package:
        version = f" {info.plugin.version}" if info.plugin.version else ""
        return f"{info.cls.name} ({package}{version})"
    return f"{info.cls.name} (plugin {info.plugin.name!r})"


def not_installed(namespace: str, job: Job[Any, Any] | None) -> IntegrationNotFoundError:
    """The error for ``io.<namespace>`` when nothing provides it."""
    package = f"runio-{namespace.replace('_', '-')}"
    where = f" in job {job.id!r}" if job is not None else ""
    declared = sorted(job.integrations) if job is not None else []
    note = f" This job declares: {', '.join(declared)}." if declared else ""
    return IntegrationNotFoundError(
        f"io.{namespace} is not available{where}: no integration is declared under "
        f"{namespace!r} and no installed plugin provides that namespace. To use it, install "
        f"the package that provides it (usually {package}: pip install {package}) and set the "
        "settings its README lists (`runio integrations list` then shows what is missing); or "
        f"declare an instance: define_job(..., integrations={{{namespace!r}: ...}}).{note}",
        namespace=namespace,
        package=package,
        settings=(),
    )
