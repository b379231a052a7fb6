"""Publishing and subscribing to channel-layer groups, from sync and async code alike.

Every channel-layer call of a process runs on one event loop that this module owns, in a daemon
thread. channels-postgres keeps one connection pool per process bound to the loop that created
it, and `async_to_sync` would make a new loop per call; one loop serves both the workers
(sync code) and the web server's SSE streams.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MESSAGE_TYPE = "modelyard.event"

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None
_loop_lock = threading.Lock()


def _layer_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _loop_lock:
        # A forked worker inherits the variable but not the thread: start its own.
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="channel-layer", daemon=True).start()
        return _loop


def _on_layer_loop(coroutine: Coroutine) -> concurrent.futures.Future:
    return asyncio.run_coroutine_threadsafe(coroutine, _layer_loop())


async def _await_on_layer_loop(coroutine: Coroutine) -> Any:
    return await asyncio.wrap_future(_on_layer_loop(coroutine))


def publish(group: str, event: str, data: dict) -> bool:
    """Send `event` with `data` to every subscriber of `group`. Never raises: a lost event must not
    fail the job that sent it (subscribers re-read the row). False when it was not delivered."""
    layer = get_channel_layer()
    if layer is None:
        return False
    message = {"type": MESSAGE_TYPE, "event": event, "data": data}
    try:
        _on_layer_loop(layer.group_send(group, message)).result(timeout=PUBLISH_TIMEOUT_S)
    except Exception:
        logger.warning("could not publish %s to %s", event, group, exc_info=True)
        return False
    return True


@contextlib.asynccontextmanager
async def subscription(group: str) -> AsyncIterator[Callable[..., Awaitable[tuple[str, dict] | None]]]:
    """Subscribe to `group` for the duration of the block.

    Yields `receive(timeout=…)`, which returns `(event, data)` or None when nothing came in time.
    Without a channel layer, `receive` only ever times out (callers poll their rows).
    """
    layer = get_channel_layer()
    if layer is None:

        async def receive_nothing(timeout: float) -> None:
            await asyncio.sleep(min(timeout, 0.5))
            return None

        yield receive_nothing
        return

    channel = await _await_on_layer_loop(layer.new_channel())
    await _await_on_layer_loop(layer.group_add(group, channel))

    async def receive(timeout: float) -> tuple[str, dict] | None:
        try:
            message = await asyncio.wait_for(_await_on_layer_loop(layer.receive(channel)), timeout)
        except TimeoutError:
            return None
        return message["event"], message["data"]

    try:
        yield receive
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(_await_on_layer_loop(layer.group_discard(group, channel)))


def channel_layer_check(timeout: float = 3.0) -> str:
    """'healthy' when a message sent to a fresh channel comes back, else the reason."""
    layer = get_channel_layer()
    if layer is None:
        return "not configured"

    async def round_trip() -> bool:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": MESSAGE_TYPE, "event": "ping", "data": {}})
        message = await layer.receive(channel)
        return message.get("event") == "ping"

    try:
        ok = _on_layer_loop(asyncio.wait_for(round_trip(), timeout)).result(timeout=timeout + 1)
    except Exception as error:
        return f"unhealthy: {type(error).__name__}: {error}"
    return "healthy" if ok else "unhealthy: wrong message"
