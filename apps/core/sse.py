"""Server-Sent Events: frames, the response, and a DRF renderer so views can declare the type.

Streams must come from an async generator: under ASGI, Django buffers a sync iterator whole.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

logger = logging.getLogger(__name__)


def sse_frame(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


KEEPALIVE_FRAME = b": keep-alive\n\n"

T = TypeVar("T")


async def with_keepalive(items: AsyncIterator[T], interval: float | None = None) -> AsyncIterator[T | None]:
    """`items` as they come, with a None after every `interval` seconds (default the setting
    MODELYARD_SSE_KEEPALIVE_S) in which none came.

    The pending item is awaited across keep-alives, never cancelled, so a slow source (a model
    loading, a backend thinking) loses nothing."""
    interval = settings.MODELYARD_SSE_KEEPALIVE_S if interval is None else interval
    iterator = aiter(items)
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None and not pending.done():
            pending.cancel()


class EventStreamRenderer(BaseRenderer):
    """Lets DRF negotiate `Accept: text/event-stream`; the stream itself is written by the view."""

    media_type = "text/event-stream"
    format = "sse"
    charset = None

    def render(
        self, data: object, accepted_media_type: str | None = None, renderer_context: dict | None = None
    ) -> bytes:
        return sse_frame("error", data)


async def _frames(events: AsyncIterator[tuple[str, object] | None]) -> AsyncIterator[bytes]:
    try:
        async for item in events:
            yield KEEPALIVE_FRAME if item is None else sse_frame(*item)
    except Exception as error:  # the headers are sent: the stream ends with a real error frame
        logger.exception("event stream failed")
        yield sse_frame("error", {"error": f"{type(error).__name__}: {error}"})


def sse_response(events: AsyncIterator[tuple[str, object] | None]) -> StreamingHttpResponse:
    """Stream `(event, data)` pairs as SSE; a None item becomes a keep-alive comment."""
    response = StreamingHttpResponse(_frames(events), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
