"""Names that belong to ``io`` itself, so no integration namespace may take them.

Kept apart from ``_io.py`` so that the integration kit can check namespaces without importing
the engine; a test checks this list against ``runio.IO``'s public attributes.
"""

from __future__ import annotations

IO_ATTRIBUTES = frozenset(
    {
        "cancel_event",
        "get_event",
        "logger",
        "random",
        "run_task",
        "send_event",
        "send_events",
        "store",
        "sync",
        "use",
        "wait",
        "wait_for_event",
        "wait_until",
    }
)
