"""The runio plugin, found through the ``runio`` entry point in pyproject.toml.

Importing it is cheap: the integration (and with it the ``resend`` SDK) is imported only when
runio asks which integrations the plugin registers, i.e. when a job first resolves ``io.resend``
or ``runio integrations list`` runs.
"""

from __future__ import annotations

import runio
from runio.plugins import RegisterIntegration


@runio.hookimpl
def runio_register_integrations(register: RegisterIntegration) -> None:
    from ._integration import Resend

    register(Resend)
