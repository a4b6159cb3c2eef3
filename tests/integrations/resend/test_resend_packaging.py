"""How runio-resend is packaged: runio itself does not depend on the resend SDK; runio-resend
does, and registers its plugin through the ``runio`` entry point; importing the package (what
every worker does to discover plugins) does not import the SDK."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys


def requirement_names(distribution: str) -> set[str]:
    return {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in importlib.metadata.requires(distribution) or []
    }


def test_runio_alone_does_not_bring_the_resend_sdk() -> None:
    assert "resend" not in requirement_names("runio")
    assert {"runio", "resend"} <= requirement_names("runio-resend")


def test_the_plugin_is_registered_through_the_runio_entry_point() -> None:
    points = importlib.metadata.entry_points(group="runio")
    assert any(p.name == "resend" and p.value == "runio_resend.plugin" for p in points)


def test_importing_the_package_and_its_plugin_does_not_import_the_sdk() -> None:
    code = (
        "import sys, runio, runio_resend, runio_resend.plugin\n"
        "print(sorted(m for m in sys.modules if m == 'resend' or m.startswith('resend.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
