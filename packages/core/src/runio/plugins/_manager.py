"""The plugin manager: built-ins, installed plugins found through entry points, checks.

One manager per ``runio.Client`` (built on first use, or given as ``Client(plugins=...)``), never
a process-wide one, so tests get a fresh manager each and nothing leaks between apps.

Loading order: runio's built-in plugins, then every ``runio`` entry point of the installed
distributions (filtered by ``RUNIO_PLUGINS`` / ``RUNIO_DISABLE_PLUGINS``), then plugins given in
code; then ``check_pending()`` so a misspelled hook fails loudly. Any failure is a
``PluginLoadError`` naming the plugin and its package. Which entry points are installed is read
once per process (and again when ``sys.path`` or one of its directories changes); each manager
still loads and registers its plugins itself.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import keyword
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import pluggy

from .._names import IO_ATTRIBUTES
from .._version import __version__
from ..errors import PluginLoadError
from . import hookspecs
from ._info import IntegrationInfo, PluginInfo
from ._lifecycle import Impl

PROJECT_NAME = "runio"
"""The pluggy project name, which is also the entry-point group plugins are found in."""
ENTRY_POINT_GROUP = "runio"

BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (("runio.http", "runio.integrations._http"),)
"""runio's own plugins (name, module), registered through the same hooks as any other."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's hook implementation: ``@runio.hookimpl``."""

_UNSET: Any = object()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def _names(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {_normalize(n) for n in raw.split(",") if n.strip()}


def _describe(info: PluginInfo | None, name: str | None) -> str:
    if info is not None and info.builtin:
        return f"built-in runio plugin {info.name!r}"
    if info is not None and info.package:
        version = f" {info.version}" if info.version else ""
        return f"runio plugin {info.name!r} (package {info.package}{version})"
    return f"runio plugin {name!r}"


def _advice(info: PluginInfo | None, name: str | None) -> str:
    if info is not None and info.package and not info.builtin:
        return (
            f" Upgrade or reinstall it (pip install -U {info.package}), uninstall it, or skip it "
            f"with RUNIO_DISABLE_PLUGINS={info.name}."
        )
    if info is not None and info.builtin:
        return f" Skip it with RUNIO_DISABLE_PLUGINS={info.name}."
    return " Fix the plugin object passed in code."


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``runio`` hooks that also knows where each plugin came from and
    which integration classes the plugins registered.

    Build one with ``runio.plugins.create_plugin_manager()``.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        self._lock = threading.RLock()
        self._integrations: list[IntegrationInfo] | None = None
        self._lifecycle: dict[str, tuple[Impl, ...]] | None = _UNSET

    # -- registration ------------------------------------------------------------------------
    def register(
        self, plugin: Any, name: str | None = None, *, info: PluginInfo | None = None
    ) -> str | None:
        """Register ``plugin`` (a module or object with ``@runio.hookimpl`` functions).

        Raises ``PluginLoadError`` when its hooks do not fit their specs."""
        with self._lock:
            try:
                registered = super().register(plugin, name)
            except pluggy.PluginValidationError as exc:
                raise PluginLoadError(
                    f"The {_describe(info, name)} does not fit runio's hooks: {exc}."
                    + _advice(info, name),
                    plugin=info.name if info else name,
                    package=info.package if info else None,
                ) from None
            except ValueError as exc:  # the same plugin object or name twice
                raise PluginLoadError(
                    f"The {_describe(info, name)} could not be registered: {exc}",
                    plugin=info.name if info else name,
                    package=info.package if info else None,
                ) from None
            if registered is None:
                return None
            self._infos[registered] = info or PluginInfo(registered, package=None, version=None)
            self._changed()
            self._reject_lifecycle_wrappers(registered)
            return registered

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        with self._lock:
            removed = super().unregister(plugin, name)
            for key in [k for k, p in self._infos.items() if not self.has_plugin(k)]:
                del self._infos[key]
            self._changed()
            return removed

    def _changed(self) -> None:
        self._integrations = None
        self._lifecycle = _UNSET

    def _reject_lifecycle_wrappers(self, name: str) -> None:
        for hook_name in hookspecs.LIFECYCLE_HOOKS:
            for impl in getattr(self.hook, hook_name).get_hookimpls():
                if impl.plugin_name == name and (impl.wrapper or impl.hookwrapper):
                    info = self._infos.get(name)
                    self.unregister(name=name)
                    raise PluginLoadError(
                        f"The {_describe(info, name)} implements {hook_name} as a wrapper; "
                        "lifecycle hooks are notifications, so implement it as a plain function."
                        + _advice(info, name),
                        plugin=name,
                        package=info.package if info else None,
                    )

    # -- what is registered --------------------------------------------------------------------
    def plugin_info(self, name: str) -> PluginInfo | None:
        """Where the plugin registered under ``name`` came from."""
        return self._infos.get(name)

    def plugin_infos(self) -> list[PluginInfo]:
        """Every registered plugin, in registration order."""
        return list(self._infos.values())

    def integrations(self) -> list[IntegrationInfo]:
        """The integration classes the plugins registered (``runio_register_integrations`` is
        called once, on first use, and again only after a plugin is added or removed)."""
        with self._lock:
            if self._integrations is None:
                self._integrations = self._collect_integrations()
            return list(self._integrations)

    def integrations_for(self, namespace: str) -> list[IntegrationInfo]:
        """The registered integration classes whose namespace is ``namespace``."""
        return [i for i in self.integrations() if i.namespace == namespace]

    def _collect_integrations(self) -> list[IntegrationInfo]:
        found: list[IntegrationInfo] = []
        seen: set[type] = set()
        for impl in self.hook.runio_register_integrations.get_hookimpls():
            info = self._infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name, None, None)

            def register(cls: Any, /, _info: PluginInfo = info) -> None:
                problem = integration_class_problem(cls)
                if problem is not None:
                    raise PluginLoadError(
                        f"The {_describe(_info, _info.name)} registered {cls!r}: {problem}."
                        + _advice(_info, _info.name),
                        plugin=_info.name,
                        package=_info.package,
                    )
                if cls not in seen:
                    seen.add(cls)
                    found.append(IntegrationInfo(cls.namespace, cls, _info))

            if impl.wrapper or impl.hookwrapper:
                raise PluginLoadError(
                    f"The {_describe(info, info.name)} implements runio_register_integrations "
                    "as a wrapper; implement it as a plain function." + _advice(info, info.name),
                    plugin=info.name,
                    package=info.package,
                )
            kwargs = {"register": register} if "register" in impl.argnames else {}
            try:
                impl.function(**kwargs)
            except PluginLoadError:
                raise
            except Exception as exc:
                raise PluginLoadError(
                    f"The {_describe(info, info.name)} raised in runio_register_integrations: "
                    f"{type(exc).__name__}: {exc}." + _advice(info, info.name),
                    plugin=info.name,
                    package=info.package,
                ) from exc
        return found

    def lifecycle_impls(self) -> dict[str, tuple[Impl, ...]] | None:
        """The lifecycle hook implementations, in pluggy's call order; None when there is none
        (then the engine makes no lifecycle call at all)."""
        impls = self._lifecycle
        if impls is _UNSET:
            with self._lock:
                table: dict[str, tuple[Impl, ...]] = {}
                for hook_name in hookspecs.LIFECYCLE_HOOKS:
                    found = tuple(
                        Impl(i.plugin_name, i.function, tuple(i.argnames))
                        for i in reversed(getattr(self.hook, hook_name).get_hookimpls())
                    )
                    if found:
                        table[hook_name] = found
                impls = self._lifecycle = table or None
        return impls

    def check_pending(self) -> None:
        """Fail with a ``PluginLoadError`` naming the plugin's package if a plugin implements a
        hook runio does not have (usually a misspelling)."""
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.get_name(exc.plugin)
            info = self._infos.get(name) if name else None
            raise PluginLoadError(
                f"The {_describe(info, name)} implements a hook runio does not have: {exc}. "
                "Check the spelling against runio.plugins.hookspecs." + _advice(info, name),
                plugin=name,
                package=info.package if info else None,
            ) from None


def create_plugin_manager(
    *,
    plugins: Iterable[Any] = (),
    entry_points: bool = True,
    builtins: bool = True,
    environ: Mapping[str, str] | None = None,
) -> PluginManager:
    """A fresh, checked plugin manager.

    ``builtins``: register runio's built-in plugins (unless named in ``RUNIO_DISABLE_PLUGINS``).
    ``entry_points``: load the installed plugins of the ``runio`` entry-point group. When
    ``RUNIO_PLUGINS`` is set (comma-separated entry-point or package names), only those load
    (an empty value loads none); names in ``RUNIO_DISABLE_PLUGINS`` never load. ``plugins``:
    more plugin objects to register (for tests and embedding). ``environ`` replaces
    ``os.environ`` for those two variables.
    """
    env = os.environ if environ is None else environ
    allow = _names(env.get("RUNIO_PLUGINS"))
    deny = _names(env.get("RUNIO_DISABLE_PLUGINS")) or set()
    pm = PluginManager()
    if builtins:
        for name, module in BUILTIN_PLUGINS:
            if _normalize(name) not in deny:
                info = PluginInfo(name, "runio", __version__, builtin=True)
                pm.register(importlib.import_module(module), name=name, info=info)
    if entry_points:
        _load_entry_points(pm, allow, deny)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


class _Found(NamedTuple):
    """One installed ``runio`` entry point, with its distribution's name and version read."""

    ep: importlib.metadata.EntryPoint
    package: str | None
    version: str | None


_found_lock = threading.Lock()
_found: tuple[tuple[Any, ...], list[_Found]] | None = None


def _path_state() -> tuple[tuple[str, int | None], ...]:
    """Each ``sys.path`` entry with its modification time: installing or removing a
    distribution changes its directory's, and a changed ``sys.path`` is a different key."""
    state = []
    for entry in sys.path:
        try:
            mtime: int | None = os.stat(entry or ".").st_mtime_ns
        except (OSError, ValueError, TypeError):
            mtime = None
        state.append((entry, mtime))
    return tuple(state)


def _installed_entry_points() -> list[_Found]:
    """The installed ``runio`` entry points, sorted by package and name. Reading them means
    reading every installed distribution's metadata (milliseconds in a large environment), so
    the answer is kept for the process and read again once ``sys.path`` or the modification
    time of one of its directories changes: what ``importlib.metadata``'s own cache of each
    directory's listing goes by. (Installing or removing a distribution changes its directory;
    an ``entry_points.txt`` edited in place, not reinstalled, is seen by the next process.) A
    replaced ``importlib.metadata.entry_points`` (a test's) is never answered from the cache."""
    global _found
    state = (importlib.metadata.entry_points, *_path_state())
    with _found_lock:
        if _found is not None and _found[0] == state:
            return _found[1]
    found = [
        _Found(ep, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]
    found.sort(key=lambda f: (f.package or "", f.ep.name))
    with _found_lock:
        _found = (state, found)
    return found


def _load_entry_points(pm: PluginManager, allow: set[str] | None, deny: set[str]) -> None:
    found = _installed_entry_points()
    matched: set[str] = set()
    for ep, package, version in found:
        names = {_normalize(ep.name)} | ({_normalize(package)} if package else set())
        if allow is not None:
            matched |= names & allow
        if names & deny or (allow is not None and not names & allow):
            continue
        info = PluginInfo(ep.name, package, version)
        if pm.has_plugin(ep.name):
            other = pm.plugin_info(ep.name)
            raise PluginLoadError(
                f"Two runio plugins are named {ep.name!r}: one from "
                f"{other.package if other else 'code'} and one from {package}. Uninstall one, or "
                f"skip one with RUNIO_DISABLE_PLUGINS=<its package name>.",
                plugin=ep.name,
                package=package,
            )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginLoadError(
                f"The {_describe(info, ep.name)} failed to load ({ep.value}): "
                f"{type(exc).__name__}: {exc}." + _advice(info, ep.name),
                plugin=ep.name,
                package=package,
            ) from exc
        pm.register(plugin, name=ep.name, info=info)
    if allow is not None:
        builtin_names = {_normalize(n) for n, _ in BUILTIN_PLUGINS}
        missing = sorted(allow - matched - builtin_names)
        if missing:
            installed = ", ".join(f"{f.ep.name} ({f.package or '?'})" for f in found)
            raise PluginLoadError(
                f"RUNIO_PLUGINS names {', '.join(missing)}, but no installed package provides a "
                f"runio plugin by that name (installed: {installed or 'none'}). Fix the list, or "
                "install the package.",
                plugin=missing[0],
                package=None,
            )


def integration_class_problem(cls: Any) -> str | None:
    """Why ``cls`` cannot be registered as an integration, or None. (A ``runio.Integration``
    subclass carries the kit's ``__runio_spec__``, set when the class is created.)"""
    if not isinstance(cls, type) or "__runio_spec__" not in vars(cls):
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
    if namespace in IO_ATTRIBUTES:
        return f"its namespace {namespace!r} is already an attribute of io; choose another"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return "it has no display name (set name = 'Stripe')"
    return None
