"""A tiny local user directory over HTTP, so the examples fetch real data without the internet.

``serve()`` starts it on 127.0.0.1 in a background thread and returns its base URL;
``python examples/user_api.py`` serves it in the foreground on the port of ``USER_API_URL``
(default 8765, where examples/app.py looks for it) until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

USERS = {
    "u_1": {"id": "u_1", "name": "Ada Lovelace", "email": "ada@example.com", "plan": "pro"},
    "u_2": {"id": "u_2", "name": "Grace Hopper", "email": "grace@example.com", "plan": "free"},
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        user = USERS.get(parts[1]) if len(parts) == 2 and parts[0] == "users" else None
        body = json.dumps(user or {"error": "not found"}).encode()
        self.send_response(200 if user else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> tuple[str, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def main() -> None:
    port = urlsplit(os.environ.get("USER_API_URL", "http://127.0.0.1:8765")).port or 8765
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    print(f"user service on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
