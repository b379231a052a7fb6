"""HTTP shared by the adapters: one httpx.AsyncClient per adapter, timeouts, and error mapping.

The mapping is the one `base.py` promises: anything another backend might not suffer from
(connection refused or reset, timeout, 5xx, 408/429, a stream that breaks or ends early, a body
that is not what the protocol says) is `ProviderUnavailable`; any other 4xx is a
`ProviderRequestError` carrying the backend's own message and status.
"""

import functools
import json
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from apps.backends.providers.base import ProviderModelNotFound, ProviderRequestError, ProviderUnavailable

# Connecting to a live backend on a LAN takes milliseconds; a longer wait means it is gone.
CONNECT_TIMEOUT_S = 5.0
# A gateway in front of many backends: enough connections for a burst of streams at once.
LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30.0)
# 408 and 429 are the backend's own state (busy, rate-limited): another backend may well answer.
RETRYABLE_4XX = frozenset({408, 429})
ERROR_TEXT_LIMIT = 500
MODEL_MISSING = re.compile(r"\bmodel\b.*\b(not found|does not exist)", re.IGNORECASE)


def error_message(response: httpx.Response) -> str:
    """The backend's own words from an error body, whatever the server's error shape.

    Ollama: `{"error": "..."}`; OpenAI: `{"error": {"message": ...}}`; vLLM: `{"message": ...}`;
    FastAPI-style servers: `{"detail": ...}`; anything else: the start of the body.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for candidate in (error, body.get("message"), body.get("detail")):
            if isinstance(candidate, str) and candidate:
                return candidate
    text = response.text.strip()[:ERROR_TEXT_LIMIT]
    return text or response.reason_phrase or f"HTTP {response.status_code}"


def model_missing(response: httpx.Response, message: str) -> bool:
    """Whether a 404 says the model is missing (not, say, a wrong path): OpenAI and vLLM send the
    code `model_not_found` or "The model `m` does not exist"; Ollama sends "model 'm' not found"."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("code") == "model_not_found":
        return True
    return bool(MODEL_MISSING.search(message))


def describe(exc: httpx.HTTPError) -> str:
    """A short cause for a transport error (httpx's own text is sometimes empty)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every backend client shares (certifi's CAs, as httpx's default).

    Building one loads the CA bundle, about 35 ms: a client made per call (sync callers' short-lived
    event loops, one per embedding batch) would pay that each time. Client-side contexts are safe
    to share between threads and clients."""
    return httpx.create_ssl_context(trust_env=False)


class BackendHTTP:
    """One backend's HTTP client: JSON calls and line streams, with every failure mapped."""

    def __init__(self, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            limits=LIMITS,
            verify=tls_context(),
            # A backend URL is configured, not discovered: never pick up proxies from the environment.
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- errors -------------------------------------------------------------------------

    def unavailable(self, cause: str, *, status: int | None = None) -> ProviderUnavailable:
        return ProviderUnavailable(f"backend {self.base_url} unavailable: {cause}", status=status)

    def transport_error(self, exc: httpx.HTTPError, path: str) -> ProviderUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            return self.unavailable(f"{path}: no answer within {self.timeout_s:g} s ({describe(exc)})")
        return self.unavailable(f"{path}: {describe(exc)}")

    def status_error(self, response: httpx.Response, path: str) -> ProviderUnavailable | ProviderRequestError:
        status = response.status_code
        message = error_message(response)
        if status >= 500 or status in RETRYABLE_4XX:
            return self.unavailable(f"{path} answered {status}: {message}", status=status)
        if status == 404 and model_missing(response, message):
            return ProviderModelNotFound(message, status=status)
        return ProviderRequestError(message, status=status)

    def bad_body(self, path: str, what: str) -> ProviderUnavailable:
        return self.unavailable(f"{path}: unexpected answer ({what})")

    # --- calls --------------------------------------------------------------------------

    async def get_json(self, path: str) -> Any:
        return await self._json("GET", path, None)

    async def post_json(self, path: str, body: dict) -> Any:
        return await self._json("POST", path, body)

    async def request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """A successful (< 400) response to `path` (relative to the base URL, or absolute)."""
        try:
            response = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, path) from exc
        if response.status_code >= 400:
            raise self.status_error(response, path)
        return response

    async def _json(self, method: str, path: str, body: dict | None) -> Any:
        response = await self.request(method, path, body)
        try:
            return response.json()
        except ValueError as exc:
            raise self.bad_body(path, f"not JSON: {response.text[:100]!r}") from exc

    @asynccontextmanager
    async def stream_lines(self, method: str, path: str, body: dict) -> AsyncIterator[AsyncIterator[str]]:
        """The non-empty lines of a streamed answer; a connection that breaks mid-way is ProviderUnavailable.

        Use as `async with http.stream_lines(...) as lines: async for line in lines: ...`.
        """
        try:
            async with self.client.stream(method, path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self.status_error(response, path)
                yield self._lines(response, path)
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, path) from exc

    async def _lines(self, response: httpx.Response, path: str) -> AsyncIterator[str]:
        try:
            async for line in response.aiter_lines():
                if line.strip():
                    yield line
        except httpx.TimeoutException as exc:
            raise self.unavailable(
                f"{path}: stream stalled, nothing for {self.timeout_s:g} s ({describe(exc)})"
            ) from exc
        except httpx.HTTPError as exc:
            raise self.unavailable(f"{path}: stream broken mid-way ({describe(exc)})") from exc

    def parse_line(self, line: str, path: str) -> dict:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise self.bad_body(path, f"stream line is not JSON: {line[:100]!r}") from exc
        if not isinstance(item, dict):
            raise self.bad_body(path, f"stream line is not an object: {line[:100]!r}")
        return item


class HTTPProvider:
    """What every HTTP adapter shares: its `BackendHTTP` client, `aclose()` and `async with`.

    The httpx client belongs to the event loop that first uses it: use one adapter per loop
    (a worker's `asyncio.run`, or the gateway's loop) and close it with `aclose()`.
    """

    type = ""

    def __init__(self, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        self.http = BackendHTTP(base_url=base_url, api_key=api_key, timeout_s=timeout_s)
        self.base_url = self.http.base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> "HTTPProvider":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
