"""Running a fake vendor server on its own, from the command line, so a local worker
(``runio dev``) or any other program can be pointed at it::

    python -m runio_stripe.testing --port 12111

Owns ``serve_fake``: parsing the command line, starting the fake on 127.0.0.1, saying where it
listens and which environment variables point an app at it, and stopping cleanly on Ctrl-C or
SIGTERM. The fakes themselves live with their integration packages.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from ._fake_server import FakeVendorServer


def serve_fake(
    fake: Callable[[], FakeVendorServer],
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> None:
    """Serve ``fake()`` on 127.0.0.1 until Ctrl-C or SIGTERM, then return.

    ``argv``: the command line (``--port PORT``; default ``sys.argv[1:]``). ``environment``:
    variables to print for pointing an app at the fake; ``{url}`` in a value becomes its URL.
    A port that cannot be used ends the program with a message and exit code 1.
    """
    server = fake()
    name = type(server).__name__
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Run {name}, a fake of a vendor API, as a local HTTP server on 127.0.0.1.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to listen on (default: a free one, printed at start)",
    )
    options = parser.parse_args(argv)
    if not 0 <= options.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {options.port}")
    try:
        server.start(port=options.port)
    except OSError as exc:
        print(
            f"{name} cannot listen on 127.0.0.1:{options.port}: {exc.strerror or exc}. "
            "Choose another port with --port (0 picks a free one).",
            file=sys.stderr,
        )
        sys.exit(1)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGINT and SIGTERM only set the flag: a signal that arrives while the banner is printed
    # must not interrupt it with a KeyboardInterrupt.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"{name} listening on {server.url} (Ctrl-C to stop)", flush=True)
        for key, value in (environment or {}).items():
            print(f"  export {key}={value.replace('{url}', server.url)}", flush=True)
        while not stop.wait(0.5):  # wakes for signals; nothing else to wait on
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print(f"{name} stopped after {len(server.requests)} request(s).", flush=True)
