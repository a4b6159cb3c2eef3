"""docs/cli.md shows each command's ``--help`` exactly as the real ``runio`` command prints it
in 80 columns: a help text that changes fails here until the guide shows the new output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
BLOCK = re.compile(r"```console\n\$ runio (?P<args>[^\n]*)--help\n(?P<out>.*?)```", re.S)
RUNIO = [sys.executable, "-c", "from runio.cli import main; main()"]


def _blocks() -> list[tuple[str, str]]:
    return [(m["args"].strip(), m["out"]) for m in BLOCK.finditer(GUIDE.read_text("utf-8"))]


def test_the_guide_shows_help_blocks() -> None:
    assert {args for args, _ in _blocks()} >= {"", "worker", "dev", "send-event", "runs list"}


@pytest.mark.parametrize(
    ("args", "shown"), _blocks(), ids=[f"runio {args}".strip() for args, _ in _blocks()]
)
def test_each_help_block_is_what_the_command_prints(args: str, shown: str) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [*RUNIO, *args.split(), "--help"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown, f"docs/cli.md: update the `runio {args} --help` block"
