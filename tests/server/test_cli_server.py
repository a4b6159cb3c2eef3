"""``runio keys``, ``runio serve`` and the dashboard of ``runio dev``, as a user runs them."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runio.cli import cli

sys.path.append(str(Path(__file__).resolve().parent.parent / "core"))
from procs import read_lines, running, wait_until

APP = """
import runio

client = runio.Client(id="cli-shop")


@client.define_job(id="hello", trigger=runio.event_trigger("hello"))
async def hello(payload: dict, io: runio.IO) -> str:
    return await io.run_task("greet", lambda task: "hi " + payload["name"], name="Greet")
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNIO_DATABASE_URL", f"sqlite:///{tmp_path / 'runio.db'}")
    monkeypatch.delenv("RUNIO_SERVER_PASSWORD", raising=False)
    return CliRunner()


def test_keys_create_list_and_revoke(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["keys", "list"]).output.startswith("No API keys.")
    created = runner.invoke(cli, ["keys", "create", "billing-service"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.fullmatch(r"runio_key_[0-9a-f]{26}_[A-Za-z0-9_-]{43}", key)
    assert "not shown again" in created.stderr
    _, kind, hex_id, secret = key.split("_", 3)  # the secret itself may hold "_"
    key_id = f"{kind}_{hex_id}"

    listed = runner.invoke(cli, ["keys", "list"])
    assert f"{key_id}\tbilling-service\t" in listed.output
    assert "active" in listed.output
    assert secret not in listed.output

    revoked = runner.invoke(cli, ["keys", "revoke", key])  # the whole key works too
    assert revoked.exit_code == 0, revoked.output
    assert f"API key {key_id} (billing-service) revoked" in revoked.output
    assert "revoked" in runner.invoke(cli, ["keys", "list"]).output
    unknown = runner.invoke(cli, ["keys", "revoke", "key_nope"])
    assert unknown.exit_code == 1
    assert "No API key with id 'key_nope'" in unknown.output


def test_serve_refuses_to_listen_beyond_loopback_without_auth(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve", "shop.py:client", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1
    assert "Refusing to serve on 0.0.0.0" in result.output
    assert "runio keys create" in result.output


def test_dev_serves_the_dashboard_and_prints_its_url(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    with running(tmp_path) as procs:
        dev = procs.start("dev", "shop.py:client", "--port", "0", name="dev")

        def url() -> str | None:
            for line in read_lines(dev.stdout_path):
                found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", line)
                if found:
                    return found.group(1)
            assert dev.popen.poll() is None, dev.output()
            return None

        base = wait_until(url, timeout=60, what="runio dev to print its URL", detail=dev.output)
        with httpx.Client(base_url=base) as http:
            assert "cli-shop" in http.get("/runs").text
            sent = http.post("/api/v1/events", json={"name": "hello", "payload": {"name": "Ada"}})
            run_id = sent.json()["run_ids"][0]

            def completed() -> dict | None:
                run = http.get(f"/api/v1/runs/{run_id}").json()
                return run if run["status"] == "COMPLETED" else None

            run = wait_until(completed, timeout=60, what="the run to complete", detail=dev.output)
            assert run["output"] == "hi Ada"
            assert "Greet" in http.get(f"/runs/{run_id}").text

        dev.send(signal.SIGINT)
        assert dev.wait_exit(60) == 0, dev.output()
        assert "worker stopped" in dev.stdout_path.read_text()


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_serve_serves_until_stopped(tmp_path: Path, stop_with: signal.Signals) -> None:
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    with running(tmp_path) as procs:
        serve = procs.start("serve", "shop.py:client", "--port", "0", name="serve")

        def url() -> str | None:
            for line in read_lines(serve.stdout_path):
                found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", line)
                if found:
                    return found.group(1)
            assert serve.popen.poll() is None, serve.output()
            return None

        base = wait_until(url, timeout=60, what="runio serve to print its URL", detail=serve.output)
        jobs = httpx.get(f"{base}/api/v1/jobs").json()["jobs"]
        assert [j["id"] for j in jobs] == ["hello"]
        serve.send(stop_with)
        assert serve.wait_exit(60) == 0, serve.output()
        assert "server stopped." in serve.stdout_path.read_text()


def test_dev_says_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    with socket.socket() as taken, running(tmp_path) as procs:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = procs.run("dev", "shop.py:client", "--port", port)
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
