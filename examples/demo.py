"""The demo: run every example job end to end on SQLite and print each run's task tree.

Waits and retry delays are shortened by ``RUNIO_TIME_SCALE`` (``nox -s demo`` sets 0.0002, so
the three-hour wait takes about two seconds); the code of the jobs is unchanged.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runio_github.testing import FakeGitHub
from runio_resend.testing import FakeResend
from runio_slack.testing import FakeSlack
from runio_stripe.testing import FakeStripe

from examples import user_api


async def main() -> int:
    console = Console(highlight=False)
    base_url, server = user_api.serve()
    os.environ["USER_API_URL"] = base_url
    workdir = Path(tempfile.mkdtemp(prefix="runio-demo-"))
    os.environ.setdefault("RUNIO_DATABASE_URL", f"sqlite:///{workdir / 'runio.db'}")
    stripe_api = FakeStripe().start()  # the Stripe API, locally: the Stripe example runs on it
    os.environ["STRIPE_API_KEY"] = "sk_test_runio_demo"
    os.environ["STRIPE_API_BASE"] = stripe_api.url
    slack_api = FakeSlack(token="xoxb-runio-demo").start()  # Slack's Web API, locally
    deploys = slack_api.add_channel("deploys", bot_member=False)  # the bot joins it on its own
    slack_api.add_user("ada@example.com", name="ada", channels=[deploys])
    os.environ["SLACK_BOT_TOKEN"] = slack_api.token
    os.environ["SLACK_API_BASE"] = slack_api.url
    github_api = FakeGitHub()  # the GitHub API, locally: the GitHub example runs on it
    github_api.start()
    github_api.add_repo("octo/hello")
    os.environ["GITHUB_TOKEN"] = "ghp_runio_demo"
    os.environ["GITHUB_API_BASE"] = github_api.url
    os.environ["GITHUB_REPO"] = "octo/hello"

    resend_api = FakeResend().start()  # the Resend API, locally: the Resend example runs on it
    os.environ["RESEND_API_KEY"] = "re_runio_demo"
    os.environ["RESEND_API_BASE"] = resend_api.url
    # Resend rate-limits the first send: the task is retried durably at its retry-after.
    resend_api.fail_next(resend_api.rate_limit_response(1, now=0), method="POST", path="/emails")

    from examples.app import client
    from examples.github_app import client as github_client
    from examples.resend_app import client as resend_client
    from examples.slack_app import client as slack_client
    from examples.stripe_app import client as stripe_client
    from runio._render import run_tree

    console.print(
        f"[bold]runio demo[/]  database {client.database_url}  "
        f"time scale {os.environ.get('RUNIO_TIME_SCALE', '1')}  user API {base_url}"
    )
    sent = [
        await client.send_event_async("new.user", {"user_id": "u_1"}),
        await client.send_event_async("flaky", {}),
        await client.send_event_async("subtasks", {}),
        await client.send_event_async("emoji", {}),
        await stripe_client.send_event_async(
            "purchase.requested",
            {"email": "ada@example.com", "name": "Ada", "product": "T-shirt", "amount": 2500},
        ),
        await slack_client.send_event_async(
            "deploy.finished",
            {
                "service": "billing",
                "version": "1.2.0",
                "channel": deploys,
                "author_email": "ada@example.com",
                "post_reminder_at": int(time.time()) + 3600,
            },
        ),
        await github_client.send_event_async(
            "bug.reported",
            {"title": "Login fails", "details": "Steps to reproduce...", "reporter": "ada"},
        ),
        await github_client.send_event_async(
            "release.requested", {"version": "v1.0.0", "notes": "The first release."}
        ),
        await resend_client.send_event_async(
            "user.signed_up", {"email": "grace@example.com", "name": "Grace"}
        ),
    ]
    run_ids = [run_id for event in sent for run_id in event.run_ids]
    worker = client.worker(concurrency=10, poll_interval=0.05)
    worker_task = asyncio.create_task(worker.run())
    stripe_worker = stripe_client.worker(concurrency=10, poll_interval=0.05)  # its own app's jobs
    stripe_worker_task = asyncio.create_task(stripe_worker.run())
    slack_worker = slack_client.worker(concurrency=10, poll_interval=0.05)
    slack_worker_task = asyncio.create_task(slack_worker.run())
    github_worker = github_client.worker(concurrency=10, poll_interval=0.05)
    github_worker_task = asyncio.create_task(github_worker.run())
    resend_worker = resend_client.worker(concurrency=10, poll_interval=0.05)
    resend_worker_task = asyncio.create_task(resend_worker.run())
    workers = (
        worker_task,
        stripe_worker_task,
        slack_worker_task,
        github_worker_task,
        resend_worker_task,
    )
    with console.status("running the example jobs (waits and retries included)..."):
        while True:
            runs = [await client.get_run_async(run_id) for run_id in run_ids]
            if all(run.status in ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT") for run in runs):
                break
            stopped = [t for t in workers if t.done()]
            if stopped:
                stopped[0].result()
                break
            await asyncio.sleep(0.1)
    worker.stop()
    stripe_worker.stop()
    slack_worker.stop()
    github_worker.stop()
    resend_worker.stop()
    for task in workers:
        await task
    server.shutdown()
    stripe_api.stop()
    slack_api.stop()
    github_api.stop()
    resend_api.stop()
    for run in runs:
        console.print()
        console.print(run_tree(run))
    failed = [run.id for run in runs if run.status != "COMPLETED"]
    console.print()
    if failed:
        console.print(f"[red]{len(failed)} run(s) did not complete: {', '.join(failed)}[/]")
        return 1
    console.print(
        f"[green]All {len(runs)} runs completed.[/] Inspect them with "
        f"`RUNIO_DATABASE_URL={client.database_url} runio runs show RUN_ID`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
