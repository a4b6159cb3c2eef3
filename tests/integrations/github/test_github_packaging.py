"""``pip install runio`` brings no PyGithub: runio's dependencies (all of them, transitively)
do not include it, runio-github's do, and a process that imports runio and discovers the
plugin has not imported PyGithub."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(distribution: str) -> set[str]:
    """The distributions ``distribution`` needs, transitively (extras left out)."""
    seen: set[str] = set()
    todo = [distribution]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def test_runio_alone_does_not_require_pygithub() -> None:
    needed = _closure("runio")
    assert "pydantic" in needed  # the walk sees runio's real dependencies
    assert "pygithub" not in needed
    assert "pygithub" in {_name(r) for r in metadata.requires("runio-github") or []}


def test_discovering_the_plugin_does_not_import_pygithub() -> None:
    code = (
        "import sys, runio\n"
        "from runio.plugins import create_plugin_manager\n"
        "pm = create_plugin_manager(environ={})\n"
        "assert any(p.package == 'runio-github' for p in pm.plugin_infos()), pm.plugin_infos()\n"
        "print('github' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
