"""runio's plugin system (pluggy): the manager, the hook marker, and what hooks receive.

The hooks themselves are declared, with when each fires, in ``runio.plugins.hookspecs``. A
plugin package exposes a module of ``@runio.hookimpl`` functions through the ``runio``
entry-point group; ``runio.Client`` builds its own manager from the installed ones on first use
(or takes one as ``Client(plugins=create_plugin_manager(...))``).

Environment: ``RUNIO_PLUGINS`` (comma-separated entry-point or package names: load only these
installed plugins; empty loads none) and ``RUNIO_DISABLE_PLUGINS`` (never load these; built-ins
included).
"""

from __future__ import annotations

from . import hookspecs
from ._info import IntegrationInfo, PluginInfo, RunInfo, TaskInfo
from ._lifecycle import Lifecycle
from ._manager import (
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    PROJECT_NAME,
    PluginManager,
    create_plugin_manager,
    hookimpl,
)
from .hookspecs import LIFECYCLE_HOOKS, RegisterIntegration

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "LIFECYCLE_HOOKS",
    "PROJECT_NAME",
    "IntegrationInfo",
    "Lifecycle",
    "PluginInfo",
    "PluginManager",
    "RegisterIntegration",
    "RunInfo",
    "TaskInfo",
    "create_plugin_manager",
    "hookimpl",
    "hookspecs",
]
