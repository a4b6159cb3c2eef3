"""The app twice on one database (``App``) and a real uvicorn server in a thread
(``LiveServer``): what the server tests and their fixtures share."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import runio
from runio.server import Server, ServerConfig, make_server
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
