"""How runio-resend is packaged: runio itself does not depend on the resend SDK; runio-resend
does, and registers its plugin through the ``runio`` entry point; importing the package (what
every worker does to discover plugins) does not import the SDK; FakeResend runs on its own
(``python -m runio_resend.testing --port PORT``)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest


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


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_fake_resend_runs_on_its_own() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "runio_resend.testing", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens (or exits)
        assert first == f"FakeResend listening on http://127.0.0.1:{port} (Ctrl-C to stop)\n"
        assert proc.stdout.readline().strip() == f"export RESEND_API_BASE=http://127.0.0.1:{port}"
        assert proc.stdout.readline().strip() == "export RESEND_API_KEY=re_test_123"
        email = {"from": "hi@acme.dev", "to": "ada@example.com", "subject": "Hi", "text": "x"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/emails",
            data=json.dumps(email).encode(),
            headers={"Authorization": "Bearer re_test_123", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200 and json.loads(answer.read())["id"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "FakeResend stopped after 1 request(s)." in out
