"""The runio plugin, found through the ``runio`` entry point in pyproject.toml."""

from __future__ import annotations

import runio
from runio.plugins import RegisterIntegration

from ._integration import Stripe


@runio.hookimpl
def runio_register_integrations(register: RegisterIntegration) -> None:
    register(Stripe)
