"""A small HTTP/1.1 server for fake inference backends, and what the fakes share.

Each fake is a real server on 127.0.0.1 (a random free port) running an asyncio loop in its own
thread, so real clients (httpx, the `openai` package) talk to it over real sockets: keep-alive,
chunked streams and all. asyncio rather than a thread per connection because a latency benchmark
drives 100+ concurrent connections through it.

Tests steer a fake from their own thread: the models it has, per-request latency, delay between
streamed chunks, `fail_next(n, status)`, `hang()`, `go_down()` / `come_back()` (same port),
`fail_mid_stream()`; every request is logged (method, path, query, headers, JSON body).
"""

import argparse
import asyncio
import hashlib
import http
import json
import math
import re
import socket
import sys
import threading
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

WORD = re.compile(r"\w+")
PIECE = re.compile(r"\S+\s*")
MAX_HEAD_BYTES = 64 * 1024


# --- deterministic answers ---------------------------------------------------------------


def reply_text(*, backend: str, model: str, prompt: str) -> str:
    """What every fake answers: names the backend and model, and echoes the prompt."""
    return f"[{backend}/{model}] you said: {prompt}"


def thinking_text(*, model: str, prompt: str) -> str:
    """What a fake reasoning model thinks before it answers (Ollama's "thinking" capability): names
    the model and echoes the prompt, so a test can tell thinking from answer."""
    return f"<{model} thinks> the user said: {prompt}. A short answer will do."


def reply_pieces(text: str, max_tokens: int | None = None) -> tuple[list[str], bool]:
    """The answer split in streamed pieces (one word each, a 'token'); True when cut by max_tokens."""
    pieces = PIECE.findall(text) or [text]
    if max_tokens is not None and 0 <= max_tokens < len(pieces):
        return pieces[:max_tokens], True
    return pieces, False


def count_tokens(text: str) -> int:
    """A deterministic token count: one per whitespace-separated word."""
    return len(text.split())


def message_text(content: Any) -> str:
    """The text of a chat message's content, whether a string or OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def prompt_tokens(messages: list[dict]) -> int:
    return sum(count_tokens(message_text(m.get("content"))) for m in messages if isinstance(m, dict))


# --- tools and structured output: what every fake does with them -----------------------


def wants_tool_call(body: dict) -> bool:
    """A fake calls a tool when tools are offered and the conversation ends with the user's turn."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    return bool(body.get("tools")) and last.get("role") == "user"


def tool_call_for(tools: list[dict], prompt: str) -> tuple[str, dict]:
    """(name, arguments) of the call a fake makes: the first tool offered, each of its parameters
    filled from the prompt (strings: the prompt; numbers: its word count; booleans: true)."""
    function = tools[0].get("function") or {}
    properties = (function.get("parameters") or {}).get("properties") or {}
    values = {"integer": count_tokens(prompt), "number": count_tokens(prompt), "boolean": True}
    arguments = {name: values.get((spec or {}).get("type"), prompt) for name, spec in properties.items()}
    return str(function.get("name", "")), arguments


def tool_result_reply(*, backend: str, model: str, tool: str, result: str) -> str:
    """What a fake answers after a tool result: names the tool and echoes its result."""
    return f"[{backend}/{model}] {tool} returned: {result}"


def structured_reply(schema: Any, text: str) -> str:
    """A JSON answer: an object with every property of `schema` (strings: `text`), or `{"answer": text}`."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return json.dumps({"answer": text})
    values = {"integer": count_tokens(text), "number": count_tokens(text), "boolean": True}
    return json.dumps({name: values.get((spec or {}).get("type"), text) for name, spec in properties.items()})


def embedding_for(text: str, dim: int) -> list[float]:
    """A unit vector from hashed words (the hashing trick): same text, same vector; shared words, closer."""
    vector = [0.0] * dim
    for word in WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [round(value / norm, 6) for value in vector]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- models ------------------------------------------------------------------------------


@dataclass
class FakeModel:
    """A model a fake backend has (or can pull), with what Ollama's /api/show tells about it."""

    name: str
    family: str = "llama"
    parameter_size: str = "8.0B"
    quantization_level: str = "Q4_0"
    context_length: int = 8192
    capabilities: tuple[str, ...] = ("completion", "tools")
    size: int = 0
    digest: str = ""
    modified_at: str = "2024-05-01T10:20:30.123456789+02:00"

    def __post_init__(self) -> None:
        self.digest = self.digest or sha256_hex(self.name)
        self.size = self.size or 1_000_000_000 + int(self.digest[:8], 16) % 3_000_000_000

    @classmethod
    def embedding(cls, name: str, **fields: Any) -> "FakeModel":
        defaults = {
            "family": "nomic-bert",
            "parameter_size": "137M",
            "quantization_level": "F16",
            "context_length": 2048,
            "capabilities": ("embedding",),
        }
        return cls(name=name, **{**defaults, **fields})

    @property
    def can_chat(self) -> bool:
        return "completion" in self.capabilities

    @property
    def can_embed(self) -> bool:
        return "embedding" in self.capabilities

    @property
    def can_think(self) -> bool:
        """A reasoning model: thinks when asked (Ollama's /api/show lists "thinking")."""
        return "thinking" in self.capabilities


def as_model(spec: "str | FakeModel") -> FakeModel:
    """A FakeModel from a plain name: an embedding model when the name says 'embed'."""
    if isinstance(spec, FakeModel):
        return spec
    return FakeModel.embedding(spec) if "embed" in spec else FakeModel(name=spec)


# --- HTTP --------------------------------------------------------------------------------


@dataclass
class FakeRequest:
    """One request as the fake received it (kept in the request log)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class FakeResponse:
    """A whole response, or a chunked stream when `stream` is set (each item is flushed as it comes)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None


def json_response(data: Any, status: int = 200) -> FakeResponse:
    return FakeResponse(status=status, body=json.dumps(data).encode())


def text_response(text: str, status: int = 200) -> FakeResponse:
    return FakeResponse(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


class BadRequest(Exception):
    """The bytes on the wire are not HTTP/1.1 the fake understands."""


@dataclass
class _Fault:
    """An injected failure, counted down as requests hit it."""

    remaining: int
    status: int = 500
    path: str | None = None
    after_chunks: int = 0


class FakeHTTPServer:
    """The server loop and the test controls; subclasses answer in `route()` and `error_response()`."""

    server_header = "fake"

    def __init__(
        self, *, name: str, port: int = 0, latency_s: float = 0.0, chunk_delay_s: float = 0.0, log_size: int = 10_000
    ) -> None:
        self.name = name
        self.latency_s = latency_s
        self.chunk_delay_s = chunk_delay_s
        self.port = port  # 0: a free port, chosen at start and kept by come_back()
        self.handler_errors: list[str] = []
        self._lock = threading.Lock()
        self._log: deque[FakeRequest] = deque(maxlen=log_size)
        self._failures: list[_Fault] = []
        self._mid_stream: list[_Fault] = []
        self._hang_path: str | None = None
        self._hanging = False
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._connection_tasks: set[asyncio.Task] = set()
        # Tests may script the answers: a function of (model, prompt) returning the reply text.
        self.answer: Callable[[str, str], str] | None = None

    def reply(self, *, model: str, prompt: str) -> str:
        if self.answer is not None:
            return self.answer(model, prompt)
        return reply_text(backend=self.name, model=model, prompt=prompt)

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def start(self) -> "FakeHTTPServer":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "FakeHTTPServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def go_down(self) -> None:
        """Stop listening and drop every open connection: the backend is gone (connection refused)."""
        self._call(self._shutdown())

    def come_back(self) -> None:
        """Listen again, on the same port."""
        self._call(self._listen())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._release = asyncio.Event()
        self._server = await asyncio.start_server(
            self._serve_connection, "127.0.0.1", self.port, reuse_address=True, backlog=2048, limit=MAX_HEAD_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._connection_tasks):
            task.cancel()
        if self._connection_tasks:
            await asyncio.wait(list(self._connection_tasks), timeout=5)

    # --- controls -----------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, path: str | None = None) -> None:
        """Answer the next `n` requests (to paths starting with `path`, if given) with `status`."""
        with self._lock:
            self._failures.append(_Fault(remaining=n, status=status, path=path))

    def fail_mid_stream(self, after_chunks: int = 2, *, times: int = 1) -> None:
        """Drop the connection of the next `times` streamed answers after `after_chunks` chunks."""
        with self._lock:
            self._mid_stream.append(_Fault(remaining=times, after_chunks=after_chunks))

    def hang(self, *, path: str | None = None) -> None:
        """Read requests (to paths starting with `path`, if given) but never answer them."""
        with self._lock:
            self._hanging, self._hang_path = True, path

    def stop_hanging(self) -> None:
        """Answer again; the requests left hanging get their connection closed."""
        with self._lock:
            self._hanging = False
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release_hung)

    def _release_hung(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    @property
    def requests(self) -> list[FakeRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str, method: str | None = None) -> list[FakeRequest]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _take_fault(self, faults: list[_Fault], path: str | None) -> _Fault | None:
        with self._lock:
            for fault in faults:
                if fault.path is None or (path is not None and path.startswith(fault.path)):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None

    # --- to implement -------------------------------------------------------------------

    async def route(self, request: FakeRequest) -> FakeResponse:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> FakeResponse:
        return json_response({"error": message}, status)

    async def pause(self, seconds: float | None = None) -> None:
        """The delay between two streamed chunks."""
        delay = self.chunk_delay_s if seconds is None else seconds
        if delay > 0:
            await asyncio.sleep(delay)

    # --- HTTP/1.1 -----------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(writer)
        self._connection_tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    request, keep_alive = await self._read_request(reader, writer)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (BadRequest, asyncio.LimitOverrunError, ValueError) as exc:
                    await self._write(writer, text_response(f"bad request: {exc}", 400), keep_alive=False)
                    return
                with self._lock:
                    self._log.append(request)
                response = await self._respond(request)
                if response is None:
                    writer.transport.abort()
                    return
                if not await self._write(writer, response, keep_alive=keep_alive):
                    return
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            writer.transport.abort()
        finally:
            self._connections.discard(writer)
            self._connection_tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[FakeRequest, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise BadRequest(f"request line {lines[0]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(f"header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length") or 0))
        parts = urlsplit(target)
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        request = FakeRequest(method.upper(), parts.path, dict(parse_qsl(parts.query)), headers, body)
        return request, keep_alive

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)

    async def _respond(self, request: FakeRequest) -> FakeResponse | None:
        """The answer, with the test's faults applied first; None leaves the client without one."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if self._hanging and (self._hang_path is None or request.path.startswith(self._hang_path)):
            await self._release.wait()
            return None
        fault = self._take_fault(self._failures, request.path)
        if fault is not None:
            return self.error_response(fault.status, f"{self.name}: failure injected by the test ({fault.status})")
        try:
            return await self.route(request)
        except Exception:
            self.handler_errors.append(traceback.format_exc())
            print(
                f"fake {self.name}: {request.method} {request.path} crashed\n{traceback.format_exc()}", file=sys.stderr
            )
            return self.error_response(500, f"{self.name}: the fake crashed")

    async def _write(self, writer: asyncio.StreamWriter, response: FakeResponse, *, keep_alive: bool) -> bool:
        """Send the response; False when the connection was closed on purpose mid-stream.

        The chunks sent so far are flushed before the close, so the client reads them and then
        an end of connection where the last (empty) chunk should have been.
        """
        head = [f"HTTP/1.1 {response.status} {http.HTTPStatus(response.status).phrase}"]
        head.append(f"Date: {formatdate(usegmt=True)}")
        head.append(f"Server: {self.server_header}")
        head.append(f"Content-Type: {response.content_type}")
        head.extend(f"{name}: {value}" for name, value in response.headers.items())
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        if response.stream is None:
            head.append(f"Content-Length: {len(response.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            await writer.drain()
            return True
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        fault = self._take_fault(self._mid_stream, None)
        sent = 0
        try:
            async for chunk in response.stream:
                if fault is not None and sent >= fault.after_chunks:
                    break
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                    sent += 1
        finally:
            close = getattr(response.stream, "aclose", None)
            if close is not None:
                await close()
        if fault is not None:
            # Also when the stream was shorter than the point of failure: never send the final chunk.
            writer.close()
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def serve_from_command_line(factory: Callable[..., FakeHTTPServer], argv: list[str] | None = None) -> None:
    """Run one fake in its own process until Ctrl-C: `python -m tests.fakes.backends_ollama --port 11434`.

    A benchmark should drive a fake in another process: in the client's process both share one GIL.
    """
    parser = argparse.ArgumentParser(description=factory.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default=None)
    parser.add_argument("--models", default=None, help="comma-separated model names")
    parser.add_argument("--latency-s", type=float, default=0.0)
    parser.add_argument("--chunk-delay-s", type=float, default=0.0)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {"port": args.port, "latency_s": args.latency_s, "chunk_delay_s": args.chunk_delay_s}
    options.update(api_key=args.api_key, log_size=1)
    if args.name:
        options["name"] = args.name
    if args.models:
        options["models"] = [name.strip() for name in args.models.split(",") if name.strip()]
    server = factory(**options).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
