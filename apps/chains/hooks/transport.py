"""The HTTP calls of hooks: one request, a bounded time, a bounded reply, failures as HookFailed."""

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from apps.chains.hooks.base import HookFailed
from apps.core.parsers import json_depth

METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def is_json(self) -> bool:
        return "json" in self.content_type

    def json(self, what: str) -> Any:
        """The reply parsed, nested no deeper than a request may be (MODELYARD_MAX_JSON_DEPTH): what a
        hook answers flows on into templates, compose and the recorded run, which walk it."""
        limit = settings.MODELYARD_MAX_JSON_DEPTH
        too_deep = HookFailed(f"{what} answered JSON nested deeper than {limit} levels (MODELYARD_MAX_JSON_DEPTH)")
        try:
            value = json.loads(self.body)
        except RecursionError:  # Python's parser gives up at a few hundred levels
            raise too_deep from None
        except ValueError:
            raise HookFailed(f"{what} did not answer JSON: {self.text[:200]!r}") from None
        if json_depth(value) > limit:
            raise too_deep
        return value


def seconds(value: float) -> str:
    return f"{value:g} s"


def send(
    *,
    what: str,
    method: str,
    url: str,
    timeout_s: float,
    json_body: Any = None,
    content: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    allowed_hosts: Collection[str] = (),
) -> Reply:
    """Send one request; a reply that is not 2xx, too slow or too large is a HookFailed naming `what`.

    With `allowed_hosts`, every request (redirects too) must go to one of them.
    """
    limit = settings.MODELYARD_CHAINS_HOOK_MAX_BYTES
    started = time.monotonic()

    def check_host(request: httpx.Request) -> None:
        if allowed_hosts and request.url.host not in allowed_hosts:
            raise HookFailed(f"{what} may not call {request.url.host!r}: not in MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS")

    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=True, event_hooks={"request": [check_host]}) as client,
            client.stream(
                method,
                url,
                json=json_body if content is None and json_body is not None else None,
                content=content,
                headers=headers,
                params=params,
            ) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise HookFailed(f"{what} answered more than {limit} bytes (MODELYARD_CHAINS_HOOK_MAX_BYTES)")
                if time.monotonic() - started > timeout_s:
                    raise httpx.ReadTimeout("the reply took too long")
    except httpx.TimeoutException:
        raise HookFailed(f"{what} timed out after {seconds(timeout_s)}") from None
    except httpx.InvalidURL as error:  # e.g. a port that is not a number; not an httpx.HTTPError
        raise HookFailed(f"{what} has an invalid URL: {error}") from None
    except httpx.HTTPError as error:
        raise HookFailed(f"{what} could not be reached: {error or type(error).__name__}") from None
    reply = Reply(status=response.status_code, content_type=response.headers.get("content-type", ""), body=bytes(body))
    if not 200 <= reply.status < 300:
        raise HookFailed(f"{what} answered HTTP {reply.status}: {reply.text[:200]}")
    return reply
