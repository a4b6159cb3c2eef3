"""runio-slack is a plugin found through its metadata, and the only way slack-sdk gets
installed: ``runio`` itself neither depends on it nor imports it."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from packaging.requirements import Requirement


def names(distribution: str) -> set[str]:
    return {
        Requirement(r).name.lower().replace("_", "-")
        for r in importlib.metadata.requires(distribution) or []
    }


def test_runio_does_not_depend_on_slack_sdk() -> None:
    assert "slack-sdk" not in names("runio")
    assert {"runio", "slack-sdk"} <= names("runio-slack")


def test_the_entry_point_names_the_plugin_module() -> None:
    (entry,) = [
        e
        for e in importlib.metadata.entry_points(group="runio")
        if e.dist is not None and e.dist.name == "runio-slack"
    ]
    assert (entry.name, entry.value) == ("slack", "runio_slack.plugin")


def test_importing_runio_and_the_plugin_does_not_import_the_sdk() -> None:
    code = (
        "import sys, runio, runio_slack, runio_slack.plugin\n"
        "from runio.plugins import create_plugin_manager\n"
        "create_plugin_manager()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'slack_sdk'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
