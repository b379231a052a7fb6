"""A proxy in front of a hub that cuts each file's first download halfway, like a flaky network.

It forwards HEAD and GET (with their Authorization and Range headers) to the real endpoint; the
first GET of every file gets its headers and `cut_after` bytes of body, then the connection is
dropped. It records the Range header of every GET, so a test can see a download resume.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

FORWARDED = ("authorization", "range", "accept-encoding", "user-agent")


class FlakyProxy:
    def __init__(self, upstream: str, *, cut_after: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.cut_after = cut_after
        self.cut: set[str] = set()
        self.ranges: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FlakyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_HEAD(self) -> None:
                self._forward(with_body=False)

            def do_GET(self) -> None:
                self._forward(with_body=True)

            def _forward(self, *, with_body: bool) -> None:
                headers = {name: value for name, value in self.headers.items() if name.lower() in FORWARDED}
                resolve = "/resolve/" in self.path
                if with_body and resolve:
                    with proxy._lock:
                        proxy.ranges.append((self.path, self.headers.get("Range")))
                        cut = self.path not in proxy.cut
                        proxy.cut.add(self.path)
                else:
                    cut = False
                method = "GET" if with_body else "HEAD"
                with httpx.stream(method, proxy.upstream + self.path, headers=headers, timeout=30) as answer:
                    # Bodies without a length (JSON sent chunked) are read whole and sent with one.
                    body = answer.read() if with_body and "content-length" not in answer.headers else None
                    self.send_response(answer.status_code)
                    for name, value in answer.headers.items():
                        if name.lower() not in ("transfer-encoding", "connection", "server", "date"):
                            self.send_header(name, value)
                    if body is not None:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not with_body:
                        return
                    if body is not None:
                        self.wfile.write(body)
                        return
                    sent = 0
                    for chunk in answer.iter_bytes():
                        if cut and sent + len(chunk) >= proxy.cut_after:
                            self.wfile.write(chunk[: proxy.cut_after - sent])
                            self.wfile.flush()
                            self.close_connection = True
                            # shutdown, not close: the handler's file objects keep the socket open.
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.write(chunk)
                        sent += len(chunk)

        return Handler
