"""What the published packages promise: ``import runio`` loads no vendor SDK, the package
metadata is complete, package READMEs read well on a package index, and a fake vendor server
runs on its own (``python -m runio_stripe.testing --port PORT``)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from runio.testing import FakeVendorServer, serve_fake

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
VENDOR_SDKS = ("stripe", "slack_sdk", "github", "resend", "httpx", "h2", "psycopg")


@pytest.mark.parametrize(
    "code",
    [
        "import runio",
        "import runio.cli",
        "import runio.testing",
        "import runio; runio.Client('light', database_url='sqlite://:memory:').plugins",
    ],
)
def test_importing_runio_loads_no_vendor_sdk(code: str) -> None:
    """Plugins are discovered (their entry points imported) without loading their SDKs, and
    io.http loads httpx only when a worker first makes a request."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "runio" in loaded
    assert not loaded & set(VENDOR_SDKS), sorted(loaded & set(VENDOR_SDKS))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_metadata_is_complete(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (package / "LICENSE").read_text(encoding="utf-8")
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"] == [{"name": "runio contributors"}]
    assert project["keywords"]
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers), "the SPDX license says it"
    readme = (package / project["readme"]).read_text(encoding="utf-8")
    assert len(readme.splitlines()) > 20, "a real long description"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_readmes_have_no_relative_links(package: Path) -> None:
    """A package index shows the README without the repository: relative links break."""
    readme = (package / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", readme)
    relative = [t for t in targets if not re.match(r"https?://|#", t)]
    assert relative == []


class FakeItemsForServing(FakeVendorServer):
    """A fake with no routes: enough to start and stop."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("module", "fake", "base_variable", "request_path", "body", "token"),
    [
        (
            "runio_stripe.testing",
            "FakeStripe",
            "STRIPE_API_BASE",
            "/v1/customers",
            b"email=ada%40example.com",
            "sk_test_123",
        ),
        (
            "runio_slack.testing",
            "FakeSlack",
            "SLACK_API_BASE",
            "/api/auth.test",
            b"",
            "xoxb-000000000001-000000000002-fakeslacktokenfakeslack",
        ),
        ("runio_github.testing", "FakeGitHub", "GITHUB_API_BASE", "/repos/octo/hello", None, "t"),
    ],
    ids=["stripe", "slack", "github"],
)
def test_a_fake_runs_on_its_own(
    module: str, fake: str, base_variable: str, request_path: str, body: bytes | None, token: str
) -> None:
    pytest.importorskip(module.split(".")[0])
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens (or exits)
        assert first == f"{fake} listening on http://127.0.0.1:{port} (Ctrl-C to stop)\n", (
            first + proc.stderr.read() if proc.stderr else first
        )
        assert proc.stdout.readline().strip() == f"export {base_variable}=http://127.0.0.1:{port}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{request_path}",
            data=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"{fake} stopped after 1 request(s)." in out


def test_serve_fake_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            serve_fake(FakeItemsForServing, ["--port", str(port)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"FakeItemsForServing cannot listen on 127.0.0.1:{port}" in err
    assert "--port" in err


def test_serve_fake_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        serve_fake(FakeItemsForServing, ["--port", "70000"], prog="fake")
    assert exited.value.code == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err
