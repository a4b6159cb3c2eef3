"""Shared helpers for the integration kit's tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import runio
from runio.testing import TestClock

FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def drive(client: runio.Client, clock: TestClock, run_id: str, *, max_steps: int = 20) -> runio.Run:
    """Run the worker, moving the clock to each wake-up time, until the run has finished."""
    for _ in range(max_steps):
        client.run_worker(until_idle=True)
        run = client.get_run(run_id)
        if run.status in FINISHED:
            return run
        assert run.status == "WAITING", run.status
        assert run.ready_at is not None
        clock.advance(seconds=max(0.0, run.ready_at - clock.now()))
    raise AssertionError(f"run {run_id} did not finish in {max_steps} steps")


def install_fake_distribution(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    package: str,
    version: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
) -> None:
    """Make an installed distribution exist for this test only: its modules and a
    ``.dist-info`` with real ``entry_points.txt`` metadata on ``sys.path``, so
    ``importlib.metadata`` finds it exactly as it finds a pip-installed package."""
    root.mkdir(parents=True, exist_ok=True)
    dist_info = root / f"{package.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
    )
    lines = ["[runio]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(root))
