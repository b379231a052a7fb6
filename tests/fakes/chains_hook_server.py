"""A remote hook endpoint for chain tests: a real HTTP server on 127.0.0.1 that can be slow or fail.

    with HookServer() as server:
        server.reply = lambda request: {"output": request.json["input"].upper()}
        server.delay_s = 0.5             # answer late
        server.fail_next(2, status=503)  # the next two requests fail
        server.redirect_next(url)        # the next request is redirected (302) to `url`
        server.requests                  # every request: method, path, query, headers, json

By default it answers `{"output": {"echo": <the request's JSON or query>}}`.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class HookRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class HookServer:
    def __init__(self) -> None:
        self.delay_s = 0.0
        self.reply: Callable[[HookRequest], Any] = lambda request: {"output": {"echo": request.json or request.query}}
        self.content_type = "application/json"
        self.requests: list[HookRequest] = []
        self._failures: list[int] = []
        self._redirects: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, count: int, *, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def _next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def redirect_next(self, url: str) -> None:
        with self._lock:
            self._redirects.append(url)

    def _next_redirect(self) -> str | None:
        with self._lock:
            return self._redirects.pop(0) if self._redirects else None

    def start(self) -> "HookServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = HookRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                with owner._lock:
                    owner.requests.append(request)
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                failure, redirect = owner._next_failure(), owner._next_redirect()
                headers = {"Location": redirect} if redirect else {}
                if failure is not None:
                    status, body, content_type = failure, b'{"error": "injected failure"}', "application/json"
                elif redirect is not None:
                    status, body, content_type = 302, b"", "text/plain"
                else:
                    reply = owner.reply(request)
                    is_text = isinstance(reply, str) and owner.content_type != "application/json"
                    status, content_type = 200, owner.content_type
                    body = reply.encode() if is_text else json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="hook-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HookServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
