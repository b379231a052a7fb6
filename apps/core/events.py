"""Publishing and subscribing to channel-layer groups, from sync and async code alike.

Every channel-layer call of a process runs on one event loop that this module owns, in a daemon
thread. channels-postgres keeps one connection pool per process bound to the loop that created
it, and `async_to_sync` would make a new loop per call; one loop serves both the workers
(sync code) and the web server's SSE streams.
"""

import asyncio
import concurrent.futures
import contextlib
import contextvars
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
    """Run `coroutine` on the layer's loop in an empty context. The caller's context would carry
    asgiref's thread-sensitive executor along: channels-postgres's ORM calls (`adelete` on leaving
    a group) would then queue on the caller's thread, the very thread blocked waiting for them (a
    view's `job_wait` under daphne hung forever once its timeout cancelled the wait)."""
    loop = _layer_loop()
    return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coroutine, loop)


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


# How long joining a group may take before a subscriber goes on without events for now.
SUBSCRIBE_TIMEOUT_S = 2.0
# After a failed join or receive, the next attempt waits at least this long.
RETRY_AFTER_FAILURE_S = 1.0


class _Subscription:
    """A channel in `group`, joined lazily and again after a failure (the database restarted),
    so that a subscriber never fails for want of a channel layer: it only hears nothing."""

    def __init__(self, layer: Any, group: str) -> None:
        self.layer = layer
        self.group = group
        self.channel: str | None = None
        self.retry_at = 0.0

    async def join(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        if self.channel is not None:
            return True
        if loop.time() < self.retry_at:
            return False

        async def new_member() -> str:
            channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, channel)
            return channel

        try:
            channel = await asyncio.wait_for(_await_on_layer_loop(new_member()), timeout)
        except Exception as error:
            self.retry_at = loop.time() + RETRY_AFTER_FAILURE_S
            logger.warning("could not subscribe to %s (%s: %s); will retry", self.group, type(error).__name__, error)
            return False
        self.channel = channel
        return True

    async def receive(self, timeout: float) -> tuple[str, dict] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if await self.join(timeout):
            remaining = max(deadline - loop.time(), 0.01)
            try:
                message = await asyncio.wait_for(_await_on_layer_loop(self.layer.receive(self.channel)), remaining)
            except TimeoutError:
                return None
            except Exception as error:
                logger.warning("receiving from %s failed (%s: %s)", self.group, type(error).__name__, error)
            else:
                return message["event"], message["data"]
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        return None

    async def leave(self) -> None:
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(_await_on_layer_loop(self.layer.group_discard(self.group, self.channel)))


@contextlib.asynccontextmanager
async def subscription(group: str) -> AsyncIterator[Callable[..., Awaitable[tuple[str, dict] | None]]]:
    """Subscribe to `group` for the duration of the block.

    Yields `receive(timeout=…)`, which returns `(event, data)` or None when nothing came in time.
    Never raises for want of a channel layer: without one, or while the database is away,
    `receive` only times out within its `timeout` (callers re-read their rows); a group that could
    not be joined at first is joined once the layer answers.
    """
    layer = get_channel_layer()
    if layer is None:

        async def receive_nothing(timeout: float) -> None:
            await asyncio.sleep(min(timeout, 0.5))
            return None

        yield receive_nothing
        return

    joined = _Subscription(layer, group)
    await joined.join(SUBSCRIBE_TIMEOUT_S)
    try:
        yield joined.receive
    finally:
        await joined.leave()


def channel_layer_close(timeout: float = 5.0) -> None:
    """Stop this process's channel-layer listener and connections, if the layer has any to stop
    (before the database is dropped or stopped on purpose)."""
    layer = get_channel_layer()
    close = getattr(layer, "close", None)
    if close is None or _loop is None or _loop_pid != os.getpid():
        return
    try:
        _on_layer_loop(close()).result(timeout=timeout)
    except Exception:
        logger.warning("could not close the channel layer", exc_info=True)


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
