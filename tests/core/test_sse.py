"""core.sse: the one helper that writes every event stream (framing, headers, keep-alives, errors)."""

import asyncio
from collections.abc import AsyncIterator

from apps.core.sse import sse_data_response, sse_response, with_keepalive


def body_of(response) -> bytes:  # noqa: ANN001
    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return asyncio.run(read())


async def items_then(items: list, error: Exception | None = None, pause_s: float = 0) -> AsyncIterator:
    for item in items:
        await asyncio.sleep(pause_s)
        yield item
    if error is not None:
        raise error


def test_a_named_stream_is_event_and_data_lines_with_the_event_stream_headers():
    response = sse_response(items_then([("state", {"id": "1"}), ("complete", {"id": "1", "ok": True})]))

    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert body_of(response) == (
        b'event: state\ndata: {"id": "1"}\n\nevent: complete\ndata: {"id": "1", "ok": true}\n\n'
    )


def test_a_none_item_is_a_keepalive_comment():
    assert body_of(sse_response(items_then([None, ("status", {})]))) == b": keep-alive\n\nevent: status\ndata: {}\n\n"


def test_a_silent_named_stream_sends_keepalive_comments_and_loses_nothing(settings):
    settings.MODELYARD_SSE_KEEPALIVE_S = 0.1

    body = body_of(sse_response(items_then([("progress", {"n": 1}), ("complete", {"n": 2})], pause_s=0.35)))

    assert body.startswith(b": keep-alive\n\n")
    assert 4 <= body.count(b": keep-alive\n\n") <= 8
    assert body.replace(b": keep-alive\n\n", b"") == (
        b'event: progress\ndata: {"n": 1}\n\nevent: complete\ndata: {"n": 2}\n\n'
    )


def test_a_named_stream_that_fails_after_its_headers_ends_with_an_error_event():
    body = body_of(sse_response(items_then([("progress", {"n": 1})], error=RuntimeError("boom"))))

    assert body == b'event: progress\ndata: {"n": 1}\n\nevent: error\ndata: {"error": "RuntimeError: boom"}\n\n'


def test_a_data_only_stream_has_no_event_lines_and_ends_with_done_when_asked():
    response = sse_data_response(items_then([{"a": 1}, {"b": "é"}]), error_data=lambda m: {"e": m}, end_with_done=True)

    assert response["Content-Type"] == "text/event-stream"
    assert body_of(response) == b'data: {"a": 1}\n\ndata: {"b": "\\u00e9"}\n\ndata: [DONE]\n\n'


def test_a_data_only_stream_without_done_ends_with_its_last_item():
    response = sse_data_response(items_then([{"event": "complete"}]), error_data=lambda m: {"e": m})

    assert body_of(response) == b'data: {"event": "complete"}\n\n'


def test_a_data_only_stream_that_fails_ends_with_the_callers_error_shape_then_done():
    response = sse_data_response(
        items_then([{"a": 1}], error=ValueError("lost")),
        error_data=lambda message: {"error": {"message": message}},
        end_with_done=True,
    )

    assert (
        body_of(response) == b'data: {"a": 1}\n\ndata: {"error": {"message": "ValueError: lost"}}\n\ndata: [DONE]\n\n'
    )


def test_with_keepalive_yields_none_while_the_source_is_slow_and_loses_no_item():
    async def slow_source():
        yield "first"
        await asyncio.sleep(0.35)
        yield "second"

    async def collect():
        return [item async for item in with_keepalive(slow_source(), interval=0.1)]

    items = asyncio.run(collect())

    assert items[0] == "first" and items[-1] == "second"
    assert 2 <= items.count(None) <= 4
    assert [item for item in items if item is not None] == ["first", "second"]
