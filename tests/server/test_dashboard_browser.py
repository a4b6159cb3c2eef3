"""The dashboard in a real headless Chromium: the runs list, filters, a run's task tree, live
updates, cancel and retry with confirmation, a phone-sized screen. Screenshots are saved to
``.artifacts/dashboard/`` (docs/dashboard.md shows them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from server_app import SECRET_CARD
from server_harness import App

expect.set_options(timeout=10_000)


def shoot(page: Page, artifacts_dir: Path, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=full_page)


@pytest.fixture
def runs(app: App) -> dict[str, str]:
    """A waiting signup run and a failed charge run, executed."""
    signup = app.work.send_event("user.created", {"user_id": "u_7"}, id="evt-signup").run_ids[0]
    app.clock.advance(seconds=5)
    charge = app.work.send_event("charge.requested", {"amount": 1200}).run_ids[0]
    app.run_worker()
    return {"signup": signup, "charge": charge}


def test_runs_list_filters_and_search(
    page: Page, runs: dict[str, str], artifacts_dir: Path
) -> None:
    page.goto("/runs")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f'tr[data-run="{runs["charge"]}"] .status')).to_have_text("FAILED")
    expect(page.locator(f'tr[data-run="{runs["signup"]}"] .status')).to_have_text("WAITING")
    shoot(page, artifacts_dir, "runs-list")

    page.get_by_label("failed").check()  # the filter applies on change
    expect(page).to_have_url(re.compile(r"/runs\?status=FAILED"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run", runs["charge"])

    page.goto("/runs")
    page.get_by_label("Search").fill("evt-signup")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-run", runs["signup"])

    page.get_by_label("Search").fill("run_nothing_like_it")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".empty")).to_have_text("No runs match these filters.")


def test_the_runs_list_shows_new_runs_and_status_changes_live(
    page: Page, app: App, runs: dict[str, str]
) -> None:
    page.goto("/runs")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)

    new = app.work.send_event("user.created", {"user_id": "u_8"}).run_ids[0]
    expect(rows).to_have_count(3)
    expect(page.locator(f'tr[data-run="{new}"] .status')).to_have_text("QUEUED")
    app.run_worker()
    expect(page.locator(f'tr[data-run="{new}"] .status')).to_have_text("WAITING")


def test_a_run_shows_its_task_tree(page: Page, runs: dict[str, str], artifacts_dir: Path) -> None:
    page.goto("/runs")
    page.get_by_role("link", name=runs["signup"]).click()
    expect(page).to_have_url(f"/runs/{runs['signup']}")
    expect(page.locator(".run-head .status")).to_have_text("WAITING")
    expect(page.locator(".run-facts .executions")).to_have_text("1")

    fetch = page.locator(".task", has=page.locator(".name", has_text="Fetch user")).first
    row = fetch.locator("summary.row")
    expect(row.locator(".icon")).to_have_text("👤")
    expect(row.locator(".cache-key")).to_have_text("fetch-user")
    expect(row.locator(".status")).to_have_text("COMPLETED")
    expect(row.locator(".prop")).to_have_text("User ID u_7")
    body = fetch.locator(".body")
    expect(body).to_be_hidden()
    row.click()
    expect(body.locator("pre.output")).to_contain_text('"number": "[redacted]"')
    expect(body.locator("table.props").last).to_contain_text("Plan")
    expect(body.locator("table.attempts tbody tr")).to_have_count(1)
    expect(body.locator("table.attempts")).to_contain_text("COMPLETED")

    welcome = page.locator(".name", has_text="Welcome email")
    expect(welcome).to_be_hidden()  # subtasks start collapsed
    page.locator("summary", has_text="2 subtasks").click()
    expect(welcome).to_be_visible()
    audit = page.locator(".task.style-minimal")
    expect(audit.locator(".row.minimal")).to_contain_text("Audit")
    expect(audit.locator("details")).to_have_count(0)  # minimal: one line, nothing to open
    expect(page.locator(".task", has_text="cool-off").locator(".status").first).to_have_text(
        "WAITING"
    )
    expect(page.locator(".logs").last).to_contain_text("welcoming")
    assert SECRET_CARD not in page.content()
    shoot(page, artifacts_dir, "run-page")


def test_a_run_page_updates_live(
    page: Page, app: App, runs: dict[str, str], artifacts_dir: Path
) -> None:
    page.goto(f"/runs/{runs['signup']}")
    status = page.locator(".run-head .status")
    expect(status).to_have_text("WAITING")
    page.locator("summary.row", has_text="Fetch user").click()  # opened before the update

    app.clock.advance(hours=2)
    app.run_worker()  # the wait is over: the run completes

    expect(status).to_have_text("COMPLETED")
    expect(page.locator(".run-output")).to_contain_text("u_7@example.com")
    expect(page.locator("summary.row", has_text="cool-off").locator(".status")).to_have_text(
        "COMPLETED"
    )
    expect(page.locator(".task", has_text="Fetch user").locator(".body").first).to_be_visible()
    shoot(page, artifacts_dir, "run-completed")


def test_cancel_a_waiting_run(page: Page, app: App, runs: dict[str, str]) -> None:
    page.goto(f"/runs/{runs['signup']}")
    page.get_by_role("link", name="Cancel run").click()
    dialog = page.locator("dialog#confirm-cancel")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert app.work.get_run(runs["signup"]).status == "WAITING"

    page.get_by_role("link", name="Cancel run").click()
    dialog.get_by_role("button", name="Yes, cancel run").click()
    expect(page.locator(".notice")).to_have_text("Run canceled.")
    expect(page.locator(".run-head .status")).to_have_text("CANCELED")
    assert app.work.get_run(runs["signup"]).status == "CANCELED"
    expect(page.get_by_role("link", name="Cancel run")).to_have_count(0)


def test_retry_a_failed_run(
    page: Page, app: App, runs: dict[str, str], artifacts_dir: Path
) -> None:
    page.goto(f"/runs/{runs['charge']}")
    expect(page.locator(".run-head .status")).to_have_text("FAILED")
    expect(page.locator(".run-error")).to_contain_text("card_declined")
    page.locator("summary.row", has_text="Charge").click()
    expect(page.locator("table.attempts")).to_contain_text("card_declined: the bank said no")
    shoot(page, artifacts_dir, "run-failed")

    app.charge_fails["now"] = False
    page.get_by_role("link", name="Retry run").click()
    page.locator("dialog#confirm-retry").get_by_role("button", name="Yes, retry run").click()
    expect(page.locator(".notice")).to_have_text("Run queued again.")
    expect(page.locator(".run-head .status")).to_have_text("QUEUED")

    app.run_worker()
    expect(page.locator(".run-head .status")).to_have_text("COMPLETED")
    page.locator("summary.row", has_text="Charge").click()
    expect(page.locator("table.attempts tbody tr")).to_have_count(2)


def test_the_confirmation_page_works_without_script(
    browser: object, live_server: object, app: App, runs: dict[str, str]
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"/runs/{runs['charge']}")
    page.get_by_role("link", name="Replay run").click()
    expect(page).to_have_url(f"/runs/{runs['charge']}/replay")
    page.get_by_role("button", name="Yes, replay run").click()
    expect(page.locator(".notice")).to_have_text("Replay started: this is the new run.")
    replays = [r for r in app.work.list_runs() if r.replay_of == runs["charge"]]
    assert len(replays) == 1
    expect(page).to_have_url(f"/runs/{replays[0].id}?done=replay")
    context.close()


def test_readable_on_a_phone(
    browser: object, live_server: object, runs: dict[str, str], artifacts_dir: Path
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(
        base_url=live_server.url,  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
    )
    page = context.new_page()
    for path, name in (("/runs", "phone-runs"), (f"/runs/{runs['signup']}", "phone-run")):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        shoot(page, artifacts_dir, name)
    context.close()


def test_jobs_page(page: Page, runs: dict[str, str], artifacts_dir: Path) -> None:
    page.goto("/jobs")
    signup = page.locator('.job[data-job="signup"]')
    expect(signup.locator("h2")).to_have_text("Welcome a new user")
    expect(signup).to_contain_text("user.created")
    expect(signup.locator(".recent li")).to_have_count(1)
    signup.get_by_role("link", name="Welcome a new user").click()
    expect(page).to_have_url("/runs?job=signup")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    page.goto("/jobs")
    shoot(page, artifacts_dir, "jobs")
