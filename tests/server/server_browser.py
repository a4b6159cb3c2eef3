"""Headless Chromium for the dashboard tests: Debian's ``chromium`` package driven by
Playwright (Playwright's own browser download is not used).

``chromium_executable()`` installs the package with apt when it is missing; when that is
impossible the tests are skipped, except under ``CI=true`` where they fail loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _apt_install() -> str:
    apt = shutil.which("apt-get")
    if apt is None:
        return "apt-get is not available"
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            return "not root and no sudo"
        prefix = [sudo, "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    out = ""
    for command in (["install", "-y", "chromium"], ["update"], ["install", "-y", "chromium"]):
        done = subprocess.run(
            [*prefix, apt, *command], capture_output=True, text=True, env=env, check=False
        )
        out = (done.stdout + done.stderr)[-2000:]
        if command[0] == "install" and done.returncode == 0:
            return ""
    return out


def chromium_executable() -> str:
    if not CHROMIUM.exists():
        problem = _apt_install()
        if not CHROMIUM.exists():
            message = (
                f"The dashboard tests need Debian's chromium at {CHROMIUM}; installing it with "
                f"`apt-get install -y chromium` failed: {problem}"
            )
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
    return str(CHROMIUM)
