"""TestNotes: a vendor without idempotency keys, for runio's own tests of the plugin kit."""

from __future__ import annotations

from typing import Any

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
    token: str = runio.setting(env="TESTNOTES_TOKEN")
    base_url: str = runio.setting(env="TESTNOTES_URL", secret=False, help="the API's base URL")

    def create_client(self) -> HTTPClient:
        return HTTPClient(base_url=self.base_url, token=self.token, timeout=10)

    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
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
        effect="write",
        properties=lambda p: [runio.Property("Board", p["board"])],
    )
    def post_note(
        self, client: HTTPClient, task: runio.Task, /, *, board: str, text: str
    ) -> dict[str, Any]:
        """Post ``text`` on ``board``, marked so that a retry after an attempt of unknown
        outcome finds the note instead of posting it twice."""
        posted = client.request(
            "POST", f"/boards/{board}/notes", json={"text": text, "marker": self.marker(task)}
        )
        return dict(posted["body"])

    @post_note.find_previous
    def _find_note(
        self, client: HTTPClient, task: runio.Task, /, *, board: str, text: str
    ) -> dict[str, Any] | None:
        found = client.request(
            "GET", f"/boards/{board}/notes", params={"marker": self.marker(task)}
        )
        return dict(found["body"][0]) if found["body"] else None
