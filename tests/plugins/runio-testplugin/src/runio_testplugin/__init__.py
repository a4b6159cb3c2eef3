"""TestNotes: a vendor without idempotency keys, for runio's own tests of the plugin kit."""

from __future__ import annotations

from typing import Any, ClassVar

import runio
from runio.integrations import HTTPClient, HTTPStatusError, retry_after_seconds

__all__ = ["TestNotes"]


class TestNotes(runio.Integration[HTTPClient]):
    """Notes on boards. Writes carry a marker, since the vendor has no idempotency keys."""

    __test__ = False  # not a pytest test class

    namespace = "testnotes"
    name = "Test Notes"
    icon = "note"
    idempotency = "marker"
    settings: ClassVar[dict[str, str | runio.Setting]] = {
        "token": "TESTNOTES_TOKEN",
        "base_url": runio.Setting(env="TESTNOTES_URL", secret=False, help="the API's base URL"),
    }

    def create_client(self) -> HTTPClient:
        return HTTPClient(
            base_url=self.setting("base_url"), token=self.setting("token"), timeout=10
        )

    def classify_error(self, error: Exception) -> runio.ErrorDecision | None:
        if isinstance(error, HTTPStatusError):
            wait = retry_after_seconds(error.headers.get("Retry-After"))
            if error.status == 429 and wait is not None:
                return runio.ErrorDecision.retry_at(wait)
            if error.status >= 500 or error.status == 429:
                return runio.ErrorDecision.retry()
            return runio.ErrorDecision.fail()
        return None

    @runio.integration_task(
        name="Post Note",
        properties=lambda p: [runio.Property("Board", p["board"])],
    )
    def post_note(
        self, client: HTTPClient, task: runio.Task, *, board: str, text: str
    ) -> dict[str, Any]:
        """Post ``text`` on ``board``; after an attempt of unknown outcome, return the note that
        attempt posted (found by its marker) instead of posting it twice."""
        marker = self.marker(task)
        if task.outcome_unknown:
            found = client.request("GET", f"/boards/{board}/notes", params={"marker": marker})
            if found["body"]:
                return dict(found["body"][0])
        posted = client.request(
            "POST", f"/boards/{board}/notes", json={"text": text, "marker": marker}
        )
        return dict(posted["body"])
