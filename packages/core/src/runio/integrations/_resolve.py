"""What ``io.<name>`` resolves to, and what a ``Client`` knows about plugins.

``io.<name>`` is, in order: the instance the job declared under ``name`` in ``integrations=``;
else a default instance of the integration an installed plugin registered with namespace
``name``, if the environment configures it; else an ``IntegrationNotFoundError`` naming the
package to install and the settings to provide.

``ClientKit`` is the per-client state behind that: the plugin manager (given, or built from
entry points on first use), the default instances it built (one per namespace, reused across
runs), and each execution's lifecycle hooks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import IntegrationNotFoundError
from ..plugins import IntegrationInfo, Lifecycle, PluginManager, RunInfo, create_plugin_manager
from ._base import Integration

if TYPE_CHECKING:
    from .._io import IO
    from .._job import Job
    from .._records import ClaimedRun

KNOWN_PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "stripe": ("runio-stripe", ("STRIPE_API_KEY",)),
    "resend": ("runio-resend", ("RESEND_API_KEY",)),
    "slack": ("runio-slack", ("SLACK_BOT_TOKEN",)),
    "github": ("runio-github", ("GITHUB_TOKEN",)),
}
"""First-party namespaces: the package that provides each, and the settings it reads, so the
error for an integration that is not installed can say exactly what to do."""


class ClientKit:
    """A client's plugins and integrations."""

    def __init__(self, plugins: PluginManager | None) -> None:
        given: object = plugins
        if given is not None and not isinstance(given, PluginManager):
            from ..errors import ConfigurationError

            raise ConfigurationError(
                "Client(plugins=...) must come from runio.plugins.create_plugin_manager(...), "
                f"got {plugins!r}."
            )
        self._pm = plugins
        self._lock = threading.Lock()
        self._defaults: dict[str, Integration[Any]] = {}
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

    def for_job(self, job: Job) -> JobIntegrations:
        found = self._jobs.get(id(job))
        if found is None or found.job is not job:
            found = self._jobs[id(job)] = JobIntegrations(job, self)
        return found

    def default_instance(self, namespace: str, job: Job) -> Integration[Any]:
        instance = self._defaults.get(namespace)
        if instance is not None:
            return instance
        infos = self.plugins.integrations_for(namespace)
        if not infos:
            raise _not_installed(namespace, job)
        classes = {info.cls for info in infos}
        if len(classes) > 1:
            names = " and ".join(_provider(i) for i in infos)
            raise IntegrationNotFoundError(
                f"io.{namespace}: {names} all provide the {namespace!r} namespace, so runio will "
                f"not pick one. Declare the one you want: define_job(..., integrations="
                f"{{{namespace!r}: ...}}), or disable the others with RUNIO_DISABLE_PLUGINS.",
                namespace=namespace,
            )
        info = infos[0]
        missing = info.cls.missing_from_environment()
        if missing:
            raise IntegrationNotFoundError(
                f"io.{namespace}: {_provider(info)} is installed but not configured: set "
                f"{', '.join(missing)} in the environment, or declare an instance: "
                f"define_job(..., integrations={{{namespace!r}: {info.cls.__name__}(...)}}).",
                namespace=namespace,
                package=info.plugin.package,
                settings=missing,
            )
        with self._lock:
            instance = self._defaults.get(namespace)
            if instance is None:
                instance = self._defaults[namespace] = info.cls()
        return instance

    def instances(self, jobs: Iterable[Job]) -> list[Integration[Any]]:
        found: dict[int, Integration[Any]] = {}
        for job in jobs:
            for value in job.integrations.values():
                if isinstance(value, Integration):
                    found[id(value)] = value
        for value in list(self._defaults.values()):
            found[id(value)] = value
        return list(found.values())

    async def close_clients(self, jobs: Iterable[Job], loop: asyncio.AbstractEventLoop) -> None:
        """Close the SDK clients the integrations built on ``loop`` (the worker is stopping)."""
        for instance in self.instances(jobs):
            await instance._close_clients(loop)


class JobIntegrations:
    """The integrations one job's ``io`` can reach."""

    def __init__(self, job: Job, kit: ClientKit | None) -> None:
        self.job = job
        self._kit = kit

    def lookup(self, key: str) -> Any:
        declared = self.job.integrations
        if key in declared:
            return declared[key]
        if self._kit is None:
            raise _not_installed(key, self.job)
        return self._kit.default_instance(key, self.job)


def _provider(info: IntegrationInfo) -> str:
    package = info.plugin.package or info.cls.package
    if info.plugin.builtin:
        return f"{info.cls.name} (built into runio)"
    if package:
        version = f" {info.plugin.version}" if info.plugin.version else ""
        return f"{info.cls.name} ({package}{version})"
    return f"{info.cls.name} (plugin {info.plugin.name!r})"


def _not_installed(namespace: str, job: Job | None) -> IntegrationNotFoundError:
    known = KNOWN_PACKAGES.get(namespace)
    if known is not None:
        package, settings = known
        todo = f"install {package} (pip install {package}) and set {', '.join(settings)}"
    else:
        package, settings = f"runio-{namespace.replace('_', '-')}", ()
        todo = (
            f"install the package that provides it (usually {package}: pip install {package}) "
            "and set the settings its README lists (`runio integrations list` shows what is "
            "missing)"
        )
    where = f" in job {job.id!r}" if job is not None else ""
    declared = sorted(job.integrations) if job is not None else []
    note = f" This job declares: {', '.join(declared)}." if declared else ""
    return IntegrationNotFoundError(
        f"io.{namespace} is not available{where}: no integration is declared under "
        f"{namespace!r} and no installed plugin provides that namespace. To use it, {todo}; or "
        f"declare an instance: define_job(..., integrations={{{namespace!r}: ...}}).{note}",
        namespace=namespace,
        package=package,
        settings=settings,
    )


def resolve(io: IO, integrations: JobIntegrations | Mapping[str, Any] | None, key: str) -> Any:
    """``io.<key>``: the declared or default integration, bound to this run's ``io``."""
    from ._bound import IntegrationIO

    if isinstance(integrations, JobIntegrations):
        value = integrations.lookup(key)
    elif integrations is not None and key in integrations:
        value = integrations[key]
    else:
        raise _not_installed(key, None)
    if isinstance(value, Integration):
        return IntegrationIO(value, io, key)
    return value
