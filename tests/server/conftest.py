"""Fixtures of the server tests: the app's clients (one serving, one working) on one database,
the ASGI app in memory, and a real uvicorn server on 127.0.0.1 for the browser."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browser import ARGS, chromium_executable
from playwright.sync_api import Browser, Page, sync_playwright
from server_app import define_jobs

import runio
from runio.server import Server, ServerConfig, create_app, make_server
from runio.testing import TestClock


@dataclass
class App:
    """The app twice on one database: ``web`` is served, ``work`` sends events and works."""

    web: runio.Client
    work: runio.Client
    clock: TestClock
    charge_fails: dict[str, bool]

    def run_worker(self) -> None:
        self.work.run_worker(until_idle=True)


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


class LiveServer:
    """uvicorn serving ``client`` from a thread of its own (its own event loop)."""

    def __init__(self, client: runio.Client, config: ServerConfig) -> None:
        self.client = client
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.server: Server | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="runio-test-server", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test by start()
            self.error = exc
            self.ready.set()
        finally:
            self.loop.run_until_complete(self.client.close_async())
            self.loop.close()

    async def _serve(self) -> None:
        self.server = await make_server(self.client, self.config, handle_signals=False)
        serving = await self.server.start()
        self.ready.set()
        await serving

    def start(self) -> LiveServer:
        self.thread.start()
        assert self.ready.wait(30), "the server did not start within 30 s"
        if self.error is not None:
            raise self.error
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (each test gets its own context).

    Not per session: while Playwright's synchronous API runs, its event loop is the running
    loop of this thread, so async tests of other modules could not run their own."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()
