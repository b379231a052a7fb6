"""Server-Sent Events: the one way every stream of every surface is written.

    return sse_response(jobs.job_event_stream(job_id=…))             # `event:` + `data:` frames
    return sse_data_response(chunks, error_data=…, end_with_done=True)  # `data:` only (OpenAI)

A view hands an async iterator of items to one of the two responses; the response frames them,
sets the headers, sends a `: keep-alive` comment after every MODELYARD_SSE_KEEPALIVE_S without an
item (a None item sends one at once), and ends a stream that fails after its headers went out
with a real error frame. Streams must come from an async generator: under ASGI, Django buffers a
sync iterator whole.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

logger = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE_FRAME = b": keep-alive\n\n"
DONE_FRAME = b"data: [DONE]\n\n"

T = TypeVar("T")


def sse_frame(event: str, data: object) -> bytes:
    """One named event: `event: <event>` and `data: <json>`."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def sse_data_frame(data: object) -> bytes:
    """One unnamed event: a `data: <json>` line only."""
    return f"data: {json.dumps(data, default=str)}\n\n".encode()


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
    """Lets DRF negotiate `Accept: text/event-stream`; the stream itself is written by the view.

    DRF renders through it only a response the view did not stream: an error raised before the
    stream started (404, 400, 403…). That answer is the surface's JSON error body with a JSON
    content type, exactly as a client without the header gets it."""

    media_type = MEDIA_TYPE
    format = "sse"
    charset = None

    def render(
        self, data: object, accepted_media_type: str | None = None, renderer_context: dict | None = None
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = JSONRenderer.media_type
        return JSONRenderer().render(data, JSONRenderer.media_type, renderer_context)


def _error_message(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _stream_response(frames: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type=MEDIA_TYPE)
    for name, value in HEADERS.items():
        response[name] = value
    return response


async def _named_frames(events_: AsyncIterator[tuple[str, object] | None]) -> AsyncIterator[bytes]:
    try:
        async for item in with_keepalive(events_):
            yield KEEPALIVE_FRAME if item is None else sse_frame(*item)
    except Exception as error:  # the headers are sent: the stream ends with a real error frame
        logger.exception("event stream failed")
        yield sse_frame("error", {"error": _error_message(error)})


def sse_response(events_: AsyncIterator[tuple[str, object] | None]) -> StreamingHttpResponse:
    """Stream `(event, data)` pairs as named SSE events; a None item is a keep-alive comment.

    A failure mid-stream ends it with `event: error` and `{"error": "<type>: <message>"}`."""
    return _stream_response(_named_frames(events_))


async def _data_frames(
    items: AsyncIterator[object | None], error_data: Callable[[str], object], end_with_done: bool
) -> AsyncIterator[bytes]:
    try:
        async for item in with_keepalive(items):
            yield KEEPALIVE_FRAME if item is None else sse_data_frame(item)
    except Exception as error:  # the headers are sent: the stream ends with the caller's error shape
        logger.exception("event stream failed")
        yield sse_data_frame(error_data(_error_message(error)))
    if end_with_done:
        yield DONE_FRAME


def sse_data_response(
    items: AsyncIterator[object | None], *, error_data: Callable[[str], object], end_with_done: bool = False
) -> StreamingHttpResponse:
    """Stream items as `data:` lines without event names (OpenAI's chat stream, the models cache
    download); a None item is a keep-alive comment.

    A failure mid-stream ends it with `data: <error_data(message)>`; `end_with_done` closes every
    stream, failed or not, with OpenAI's `data: [DONE]`."""
    return _stream_response(_data_frames(items, error_data, end_with_done))
