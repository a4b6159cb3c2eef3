"""runio's integration conformance suite, run on Slack against FakeSlack through the real SDK:
every wrapper recorded as a task, secrets kept out of the store and logs, and for each write
wrapper the marker found after a dropped-after-write attempt (exactly one effect)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from runio_slack import Slack
from runio_slack.testing import FakeSlack

from runio.testing import FakeVendorServer, IntegrationConformance

ROOT = Path(__file__).resolve().parents[3]


class TestSlackConformance(IntegrationConformance):
    integration_class = Slack
    fake_server_class = FakeSlack
    readme = ROOT / "packages" / "slack" / "README.md"
    write = "post_message"
    _calls = itertools.count(1)

    def make_server(self, secret: str) -> FakeSlack:
        return FakeSlack(token=secret)

    def make_integration(self, server: FakeVendorServer, secret: str) -> Slack:
        return Slack(token=secret, base_url=server.url)

    def webhook_delivery(self, signing_secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        """An app mention, in the envelope and with the signature FakeSlack sends (the fake's
        signing code; it need not be serving to sign)."""
        fake = FakeSlack(signing_secret=signing_secret)
        mention = {
            "type": "app_mention",
            "user": fake.owner_id,
            "text": f"<@{fake.bot_user_id}> hello",
            "ts": f"{now:.6f}",
            "channel": fake.general_id,
            "event_ts": f"{now:.6f}",
        }
        body = json.dumps(fake.envelope(mention, event_time=now)).encode()
        return body, fake.sign(body, timestamp=now)

    def environment(self, server: FakeVendorServer, secret: str) -> dict[str, str]:
        return {"SLACK_BOT_TOKEN": secret, "SLACK_API_BASE": server.url}

    def example(self, wrapper: str, server: FakeVendorServer) -> dict[str, Any]:
        assert isinstance(server, FakeSlack)
        general = server.general_id
        call = next(self._calls)  # each call its own content: lookups match on it
        if wrapper == "post_message":
            return {"channel": general, "text": "Hello from runio"}
        if wrapper in ("update_message", "delete_message"):
            ts = server.add_message(general, "to change")["ts"]
            return {
                "channel": general,
                "ts": ts,
                **({"text": "changed"} if "update" in wrapper else {}),
            }
        if wrapper == "post_ephemeral":
            return {"channel": general, "user": server.owner_id, "text": "only you"}
        if wrapper == "schedule_message":
            return {
                "channel": general,
                "post_at": int(time.time()) + 3600,
                "text": f"reminder {call}",
            }
        if wrapper == "add_reaction":
            ts = server.add_message(general, "react to me")["ts"]
            return {"channel": general, "timestamp": ts, "name": "tada"}
        if wrapper == "upload_file":
            return {"channel": general, "content": "hello", "filename": f"hello-{call}.txt"}
        if wrapper == "join_conversation":
            return {"channel": server.add_channel("to-join", bot_member=False)}
        if wrapper == "open_conversation":
            return {"users": server.owner_id}
        if wrapper == "lookup_user_by_email":
            return {"email": "owner@example.com"}
        if wrapper == "list_conversations":
            return {"limit": 10}
        raise AssertionError(f"no example for {wrapper}")
