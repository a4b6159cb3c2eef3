"""The testing kit as a job author uses it: tests/user_project is a small app (a module-level
``runio.Client`` with event and cron jobs) whose own tests use only the public kit. They run
here with pytest in a subprocess, from the project's directory and configuration, so runio's
pytest plugin is found through its entry point as in any user's project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent / "user_project"


def test_the_user_projects_tests_pass_without_touching_its_database(tmp_path: Path) -> None:
    app_database = tmp_path / "shop.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNIO_", "PYTEST_"))}
    env.update(RUNIO_DATABASE_URL=f"sqlite:///{app_database}", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "8 passed" in output, output
    assert "runio_app" not in output  # the fixture was found, not reported missing
    # The app's module-level client was pointed at each test's database: its own is untouched.
    assert not app_database.exists()
