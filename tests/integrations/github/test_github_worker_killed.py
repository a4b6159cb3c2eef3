"""A worker killed with SIGKILL right after GitHub created the issue, before the answer came
back: a second worker finishes the run, finds the issue by its marker, and exactly one issue
exists. The workers are real ``runio worker`` processes; FakeGitHub runs in the test process and
holds the create's answer until the test has killed the first worker."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from github_helpers import REPO, TOKEN
from procs import running, sender, wait_for_status
from runio_github.testing import FakeGitHub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_APP = """
import runio
from runio_github import GitHub

client = runio.Client(id="github-crash-app")


@client.define_job(
    id="report",
    trigger=runio.event_trigger("bug.reported"),
    integrations={"github": GitHub()},  # GITHUB_TOKEN and GITHUB_API_BASE from the environment
)
async def report(payload: dict, io: runio.IO) -> int:
    issue = await io.github.create_issue("issue", repo="octo/hello", title=payload["title"])
    return issue["number"]
"""


def test_one_issue_is_created_across_a_killed_worker(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(_APP), encoding="utf-8")
    with (
        FakeGitHub(token=TOKEN) as fake,
        running(tmp_path) as procs,
        sender(procs.database_url, "github-crash-app", {"report": "bug.reported"}) as client,
    ):
        fake.add_repo(REPO)
        env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_BASE": fake.url}
        hold = fake.hold_after_write(method="POST", path=rf"/repos/{REPO}/issues")
        run_id = client.send_event("bug.reported", {"title": "Crash"}).run_ids[0]
        first = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="first", env=env
        )
        held = hold.wait_applied(timeout=30)
        assert len(fake.repo(REPO).issues) == 1  # GitHub has done it; the worker has not heard
        first.send(signal.SIGKILL)
        assert first.wait_exit(10) == -signal.SIGKILL
        hold.release()

        second = procs.start(
            "worker", "app.py:client", "--lease-seconds", "1", name="second", env=env
        )
        (run,) = wait_for_status(
            client, [run_id], {"COMPLETED", "FAILED"}, timeout=60, detail=procs.outputs
        )
        second.send(signal.SIGTERM)
        assert second.wait_exit(15) == 0, procs.outputs()
        shown = procs.run("runs", "show", run_id)
        outputs = procs.outputs() + shown.stdout + shown.stderr

    assert run.status == "COMPLETED", (run.error, procs.outputs())
    (issue,) = fake.repo(REPO).issues.values()  # exactly one
    assert run.output == issue["number"]
    task = run.task("issue")
    assert len(task.attempts) == 2 and task.attempts[-1].status == "COMPLETED"
    assert f"<!-- runio-{task.idempotency_key} -->" in issue["body"]
    posts = [r for r in fake.requests if r.method == "POST"]
    assert posts == [held]  # the second worker found it instead of creating it again
    lookups = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert len(lookups) == 1 and lookups[0].query["creator"] == [fake.login]
    assert TOKEN not in outputs  # nor in the workers' output or the CLI's
