"""The token reaches GitHub and nowhere else: not the database (every table, and the files on
disk), not the logs (runio's and PyGithub's own DEBUG records of requests and answers), not
the CLI's output, not a repr."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from click.testing import CliRunner
from github_helpers import REPO, TOKEN, World

import runio
from runio.cli import cli


def test_the_token_never_reaches_the_store_the_logs_or_the_cli(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # PyGithub logs every request and answer at DEBUG, on a logger it sets to INFO itself.
    caplog.set_level(logging.DEBUG, logger="github")
    fake = world.fake
    fake.fail_next(fake.error_response(422, f"token {TOKEN} is not allowed"), method="PATCH")
    fake.drop_after_write(path=rf"/repos/{REPO}/issues")

    async def body(gh: Any) -> Any:
        issue = await gh.create_issue(  # dropped, then found by its marker
            "issue", repo=REPO, title="Leaky", body=f"notes mentioning {TOKEN}"
        )
        outcomes = []
        try:
            await gh.close_issue("close", repo=REPO, issue_number=issue["number"])
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)

        def leaky(client: Any, task: runio.Task) -> Any:
            raise RuntimeError(f"the vendor echoed the token {TOKEN}")

        try:
            await gh.run_task("leaky", leaky, params={"token": TOKEN})
        except runio.errors.TaskFailedError as exc:
            outcomes.append(exc.error_message)
        return {"outcomes": outcomes, "issue": issue["number"]}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(run.output["outcomes"]) == 2
    assert all("[redacted]" in message for message in run.output["outcomes"])

    # It did reach GitHub, with every request.
    assert all(r.header("Authorization") == f"token {TOKEN}" for r in fake.requests)
    assert TOKEN in world.repo.issues[1]["body"]  # GitHub keeps what it was sent

    for path in world.database.parent.glob(world.database.name + "*"):
        assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path.name}"
    assert run.task("issue").params["body"] == "notes mentioning [redacted]"

    formatter = logging.Formatter("%(name)s %(message)s %(exc_info)s")
    github_records = [r for r in caplog.records if r.name.startswith("github")]
    assert any("[redacted]" in r.getMessage() for r in github_records), (
        "PyGithub's records never carried the token (the test did not exercise the scrubbing)"
    )
    for record in caplog.records:
        assert TOKEN not in formatter.format(record), f"the token was logged: {record}"
    assert TOKEN not in repr(world.github)

    runner = CliRunner(env={"RUNIO_DATABASE_URL": f"sqlite:///{world.database}"})
    for args in (["runs", "list"], ["runs", "show", run.id], ["runs", "show", run.id, "--json"]):
        result = runner.invoke(cli, args, prog_name="runio")
        assert result.exit_code == 0, (args, result.output, result.exception)
        assert TOKEN not in result.output, f"`runio {' '.join(args)}` printed the token"
    shown = runner.invoke(cli, ["runs", "show", run.id], prog_name="runio").output
    assert "Create Issue" in shown
