"""The demo: run every example job end to end on SQLite and print each run's task tree.

Then the vendors start jobs themselves: each example app is served (its webhook endpoint), and
the local fakes deliver signed webhooks to it, as Stripe, Slack, GitHub and Resend would: a
customer created, the bot mentioned, an issue opened, an email bounced.

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

import runio
from runio.server import Server, ServerConfig, make_server

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
    stripe_api = FakeStripe()  # the Stripe API, locally: the Stripe example runs on it
    stripe_api.start()
    os.environ["STRIPE_API_KEY"] = "sk_test_runio_demo"
    os.environ["STRIPE_API_BASE"] = stripe_api.url
    os.environ["STRIPE_WEBHOOK_SECRET"] = "whsec_runio_demo"  # signs the fake's deliveries
    slack_api = FakeSlack(token="xoxb-runio-demo").start()  # Slack's Web API, locally
    deploys = slack_api.add_channel("deploys", bot_member=False)  # the bot joins it on its own
    slack_api.add_user("ada@example.com", name="ada", channels=[deploys])
    os.environ["SLACK_BOT_TOKEN"] = slack_api.token
    os.environ["SLACK_API_BASE"] = slack_api.url
    os.environ["SLACK_SIGNING_SECRET"] = slack_api.signing_secret
    github_api = FakeGitHub()  # the GitHub API, locally: the GitHub example runs on it
    github_api.start()
    github_api.add_repo("octo/hello")
    os.environ["GITHUB_TOKEN"] = "ghp_runio_demo"
    os.environ["GITHUB_API_BASE"] = github_api.url
    os.environ["GITHUB_REPO"] = "octo/hello"
    os.environ["GITHUB_WEBHOOK_SECRET"] = "github-webhook-runio-demo"

    resend_api = FakeResend().start()  # the Resend API, locally: the Resend example runs on it
    os.environ["RESEND_API_KEY"] = "re_runio_demo"
    os.environ["RESEND_API_BASE"] = resend_api.url
    os.environ["RESEND_WEBHOOK_SECRET"] = resend_api.new_signing_secret()
    # Resend rate-limits the first send: the task is retried durably at its retry-after.
    resend_api.fail_next(resend_api.rate_limit_response(1, now=0), method="POST", path="/emails")

    from examples import github_app, resend_app, slack_app, stripe_app
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
        runs = await _finished(client, run_ids, workers)
    # The vendors' turn: each app's webhook endpoint is served, and the fakes deliver to it.
    served = {c.id: await _serve(c) for c in (stripe_client, slack_client, github_client)}
    served[resend_client.id] = await _serve(resend_client)
    with console.status("the vendors deliver webhooks..."):
        resend_app.connect_fake_resend(resend_api, served[resend_client.id].url)
        resend_app.bounce_latest_email(resend_api, "grace@example.com")
        triggered = await stripe_app.drive_webhooks(stripe_api, served[stripe_client.id].url)
        slack_url = f"{served[slack_client.id].url}/api/v1/webhooks/slack"
        await asyncio.to_thread(slack_app.mention_the_bot, slack_api, slack_url, deploys)
        github_url = f"{served[github_client.id].url}/api/v1/webhooks/github"
        await asyncio.to_thread(
            github_app.open_issue_through_github, github_api, github_url, "Docs typo on /pricing"
        )
        await asyncio.to_thread(resend_api.wait_for_webhooks)
        for trigger_client, job_id in (
            (slack_client, "slack-mention"),
            (github_client, "github-welcome"),
            (resend_client, "resend-unsubscribe-bounced"),
        ):
            triggered += [r.id for r in await trigger_client.list_runs_async(job_id=job_id)]
        runs += await _finished(client, triggered, workers)
    worker.stop()
    stripe_worker.stop()
    slack_worker.stop()
    github_worker.stop()
    resend_worker.stop()
    for task in workers:
        await task
    server.shutdown()
    for http in served.values():
        await http.stop()
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


async def _finished(
    client: runio.Client, run_ids: list[str], workers: tuple[asyncio.Task[None], ...]
) -> list[runio.Run]:
    """The runs, once each has finished (or a worker stopped, which the demo reports)."""
    while True:
        runs = [await client.get_run_async(run_id) for run_id in run_ids]
        if all(run.status in ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT") for run in runs):
            return runs
        stopped = [t for t in workers if t.done()]
        if stopped:
            stopped[0].result()
            return runs
        await asyncio.sleep(0.1)


class _Served:
    """An app's server (API, dashboard, webhook endpoints) on a free loopback port."""

    def __init__(self, server: Server, serving: asyncio.Task[None]) -> None:
        self.server, self.serving = server, serving
        self.url = server.url

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.serving


async def _serve(client: runio.Client) -> _Served:
    server = await make_server(client, ServerConfig(port=0), handle_signals=False)
    return _Served(server, await server.start())


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
