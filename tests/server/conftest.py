"""Fixtures of the server tests: the app's clients (one serving, one working) on one database,
the ASGI app in memory, and a real uvicorn server on 127.0.0.1 for the browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from server_app import define_jobs
from server_browser import ARGS, chromium_executable
from server_harness import App, LiveServer

import runio
from runio.server import ServerConfig, create_app
from runio.testing import TestClock


@pytest.fixture
def app_factory(sqlite_url: str, clock: TestClock) -> Iterator[Callable[..., App]]:
    made: list[App] = []

    def make(database_url: str = sqlite_url) -> App:
        charge_fails = {"now": True}
        web = runio.Client("shop", database_url=database_url, clock=clock)
        work = runio.Client("shop", database_url=database_url, clock=clock)
        define_jobs(web, charge_fails)
        define_jobs(work, charge_fails)
        app = App(web, work, clock, charge_fails)
        made.append(app)
        return app

    yield make
    for app in made:
        app.work.close()
        app.web.close()


@pytest.fixture
def app(app_factory: Callable[..., App]) -> App:
    return app_factory()


@pytest.fixture
async def http(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app of ``app.web`` in memory, as a loopback client would call it."""
    asgi = create_app(app.web)
    await app.web._register_jobs()
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    await app.web.close_async()


@pytest.fixture
def live_server(app: App) -> Iterator[LiveServer]:
    server = LiveServer(app.web, ServerConfig(port=0, poll_interval=0.2)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots go (kept by CI as test artifacts)."""
    root = Path(__file__).resolve().parents[2]
    path = root / ".artifacts" / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt when missing (see server_browser.py)."""
    return chromium_executable()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One headless Chromium per test module (each test gets its own context).

    Not per session: while Playwright's synchronous API runs, its event loop is the running
    loop of this thread, so async tests of other modules could not run their own."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()
