"""``runio webhooks APP``: each integration's endpoint URL, the events its jobs listen to, the
signing secret's state (never its value) and how to register; ``--register`` through the
vendor's API where the integration supports it."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runio.cli import cli

sys.path.append(str(Path(__file__).resolve().parent.parent / "core"))
from procs import read_lines, running, wait_until

APP = """
import runio
from runio.integrations import WebhookDelivery, WebhookRegistration

REGISTERED = []


class Acme(runio.Integration[None]):
    namespace, name = "acme", "Acme"
    webhook_help = "Acme dashboard -> Webhooks -> Add endpoint."
    webhook_secret: str | None = runio.setting(env="ACME_WEBHOOK_SECRET", required=False)

    def create_client(self):
        return None

    def verify_webhook(self, request):
        return WebhookDelivery(id="x", type="order.paid", payload={})


class Bolt(Acme):
    namespace, name = "bolt", "Bolt"
    webhook_secret: str | None = runio.setting(env="BOLT_WEBHOOK_SECRET", required=False)

    def register_webhook(self, url, events):
        if "fail" in url:
            raise RuntimeError("Bolt said no: the URL must be https")
        REGISTERED.append((url, list(events)))
        return WebhookRegistration(id="we_1", url=url, events=tuple(events), secret="bsec_new")


acme = Acme(webhook_secret="acme-secret-value")
bolt = Bolt(id="bolt-eu")
client = runio.Client("shop", database_url="sqlite:///{db}")


@client.define_job(id="on-paid", trigger=acme.webhook_trigger("order.paid"))
async def on_paid(payload, io):
    return None


@client.define_job(id="on-paid-audit", trigger=acme.webhook_trigger("order.paid"))
async def on_paid_audit(payload, io):
    return None


@client.define_job(id="on-refund", trigger=bolt.webhook_trigger("refund.created"))
async def on_refund(payload, io):
    return None


@client.define_job(
    id="await-delivery",
    trigger=runio.event_trigger("order.placed"),
    integrations={"courier": Acme(id="courier", webhook_secret="courier-secret")},
)
async def await_delivery(payload, io):
    return await io.wait_for_event("delivered", "courier:parcel.delivered")
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("ACME_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("BOLT_WEBHOOK_SECRET", raising=False)
    path = tmp_path / "shop_app.py"
    path.write_text(textwrap.dedent(APP).replace("{db}", str(tmp_path / "runio.db")), "utf-8")
    return f"{path}:client"


def test_it_lists_each_endpoint_with_its_events_and_secret_state(app: str) -> None:
    result = CliRunner().invoke(cli, ["webhooks", app, "--url", "https://jobs.example.com"])

    assert result.exit_code == 0, result.output
    assert "Acme (acme)  https://jobs.example.com/api/v1/webhooks/acme" in result.output
    assert "Bolt (bolt-eu)  https://jobs.example.com/api/v1/webhooks/bolt-eu" in result.output
    assert "order.paid" in result.output and "on-paid, on-paid-audit" in result.output
    assert "NOT SET: set webhook_secret (BOLT_WEBHOOK_SECRET)" in result.output
    assert "acme-secret-value" not in result.output
    assert "by hand: Acme dashboard -> Webhooks -> Add endpoint." in result.output
    assert "--register https://jobs.example.com" in result.output  # Bolt can register itself
    # An integration a job declares without a trigger: runs may wait for its events.
    assert "Acme (courier)  https://jobs.example.com/api/v1/webhooks/courier" in result.output
    assert "none start a job (runs may wait for them)" in result.output


def test_json_output(app: str) -> None:
    result = CliRunner().invoke(cli, ["webhooks", app, "--json"])

    rows = {row["integration"]: row for row in json.loads(result.output)}
    assert rows["acme"]["url"] == "http://127.0.0.1:8080/api/v1/webhooks/acme"
    assert rows["acme"]["events"] == [{"type": "order.paid", "jobs": ["on-paid", "on-paid-audit"]}]
    assert rows["acme"]["signing_secret"]["configured"] is True
    assert rows["bolt-eu"]["can_register"] is True and rows["acme"]["can_register"] is False


def test_register_calls_the_vendor_and_shows_the_secret_it_made_once(app: str) -> None:
    result = CliRunner().invoke(
        cli, ["webhooks", app, "--register", "https://jobs.example.com", "--integration", "bolt-eu"]
    )

    assert result.exit_code == 0, result.output
    assert (
        "registered https://jobs.example.com/api/v1/webhooks/bolt-eu for refund.created"
        in result.output
    )
    assert "BOLT_WEBHOOK_SECRET=bsec_new" in result.output
    assert "Acme" not in result.output  # only the integration asked for


def test_register_says_what_to_do_by_hand_and_reports_a_vendor_refusal(app: str) -> None:
    result = CliRunner().invoke(cli, ["webhooks", app, "--register", "https://fail.example.com"])

    assert result.exit_code == 1
    assert "Acme (acme): register https://fail.example.com/api/v1/webhooks/acme by hand" in (
        result.output
    )
    assert "Bolt (bolt-eu): RuntimeError: Bolt said no: the URL must be https" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--url", "jobs.example.com"], "is not a URL"),
        (["--integration", "stripe"], "integrations with webhooks: acme, bolt-eu, courier"),
    ],
)
def test_bad_options_say_what_to_give(app: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["webhooks", app, *args])

    assert result.exit_code == 2
    assert message in result.output


def test_an_app_without_webhook_triggers_says_how_to_add_one(tmp_path: Path) -> None:
    path = tmp_path / "plain_app.py"
    path.write_text(
        "import runio\nclient = runio.Client('plain', "
        f"database_url='sqlite:///{tmp_path / 'r.db'}')\n",
        "utf-8",
    )

    result = CliRunner().invoke(cli, ["webhooks", f"{path}:client"])

    assert result.exit_code == 0
    assert "has no jobs started by webhooks" in result.output


SIGNED_APP = """
import hashlib, hmac, json
import runio
from runio.errors import WebhookSignatureError
from runio.integrations import WebhookDelivery


class Acme(runio.Integration[None]):
    namespace, name = "acme", "Acme"
    webhook_secret: str | None = runio.setting(env="ACME_WEBHOOK_SECRET", required=False)

    def create_client(self):
        return None

    def verify_webhook(self, request):
        secret = self.require_setting("webhook_secret")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.header("acme-signature") or ""):
            raise WebhookSignatureError("the signature does not match the body")
        event = json.loads(request.body)
        return WebhookDelivery(id=event["id"], type=event["type"], payload=event)


acme = Acme()
client = runio.Client("cli-shop")


@client.define_job(id="on-paid", trigger=acme.webhook_trigger("order.paid"))
async def on_paid(event: dict, io: runio.IO) -> str:
    return await io.run_task("ship", lambda task: "shipped " + event["order"], name="Ship")
"""


def test_dev_receives_a_signed_delivery_and_runs_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop.py").write_text(SIGNED_APP, encoding="utf-8")
    monkeypatch.setenv("ACME_WEBHOOK_SECRET", "acme-dev-secret")
    with running(tmp_path) as procs:
        dev = procs.start("dev", "shop.py:client", "--port", "0", name="dev")

        def endpoint() -> str | None:
            for line in read_lines(dev.stdout_path):
                found = re.search(
                    r"webhooks: (http://[^ ]+/webhooks/acme)  [(]Acme: order.paid[)]", line
                )
                if found:
                    return found.group(1)
            assert dev.popen.poll() is None, dev.output()
            return None

        url = wait_until(
            endpoint, timeout=60, what="runio dev to print the webhook URL", detail=dev.output
        )
        body = json.dumps({"id": "evt_1", "type": "order.paid", "order": "o_7"}).encode()
        signature = hmac.new(b"acme-dev-secret", body, hashlib.sha256).hexdigest()
        refused = httpx.post(url, content=body, headers={"Acme-Signature": "0" * 64})
        answer = httpx.post(url, content=body, headers={"Acme-Signature": signature})
        again = httpx.post(url, content=body, headers={"Acme-Signature": signature})
        base = url.split("/api/")[0]

        def completed() -> dict | None:
            run = httpx.get(f"{base}/api/v1/runs/{answer.json()['run_ids'][0]}").json()
            return run if run["status"] == "COMPLETED" else None

        run = wait_until(completed, timeout=60, what="the run to complete", detail=dev.output)
        runs = httpx.get(f"{base}/api/v1/runs").json()
        dev.send(signal.SIGINT)
        assert dev.wait_exit(60) == 0, dev.output()

    assert refused.status_code == 401
    assert answer.status_code == 200 and again.json()["run_ids"] == answer.json()["run_ids"]
    assert run["output"] == "shipped o_7"
    assert len(runs["runs"]) == 1
    assert "acme-dev-secret" not in dev.output()
