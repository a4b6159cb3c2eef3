"""The plugin module the ``runio`` entry point names."""

from __future__ import annotations

import runio
from runio.plugins import RegisterIntegration

from . import TestNotes


@runio.hookimpl
def runio_register_integrations(register: RegisterIntegration) -> None:
    register(TestNotes)
