"""The Postgres channel layer, with a race and a dead end of channels-postgres closed.

The race: channels-postgres hands a message to a channel only once that channel holds its
advisory lock, which the library takes on the first `receive()`. A message sent (or group-sent)
to a new channel before its first `receive()` was therefore dropped by the listener. Here
`new_channel()` takes the lock and starts the listener at once, so a subscriber can add its
channel to a group and read the current state before it starts receiving, without losing what
arrives meanwhile.

The dead end: after the database restarts, the library's listener task dies with its LISTEN
connection but leaves its "running" flag set, so no listener is ever started again and every
`receive()` waits forever (`/health` said `channel_layer: unhealthy: TimeoutError` until the
server was restarted). Its pool handed out the dead connections too. Here the listener is one
supervised task that reconnects with a backoff and pings its connection while idle, pool
connections are checked before use, and the ORM connection the library deletes groups with is
reopened after a failure.
"""

import asyncio
import base64
import contextlib
import logging
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from channels_postgres import db as channels_postgres_db
from channels_postgres.core import PostgresChannelLayer as LibraryPostgresChannelLayer
from django.db import DatabaseError, connections
from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger(__name__)

LISTEN_CHANNEL = "channels_postgres_messages"
SHUTDOWN_PAYLOAD = "1:shutdown"
# An idle LISTEN connection is pinged this often: a server that went away is noticed even when
# its socket gave no sign.
LISTENER_PING_S = 5.0
RECONNECT_FIRST_DELAY_S = 0.2
RECONNECT_MAX_DELAY_S = 5.0


class PostgresChannelLayer(LibraryPostgresChannelLayer):
    """channels-postgres that survives a database restart (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A connection the restarted server closed is replaced, not handed to the caller.
        options = self.django_db.psycopg_options
        self.django_db.psycopg_options = {"check": AsyncConnectionPool.check_connection, **options}
        self._listener: asyncio.Task | None = None

    async def new_channel(self, prefix: str = "specific") -> str:
        channel = await super().new_channel(prefix)
        await self._get_or_create_channel_advisory_lock(channel)
        listener_running, _ = self._get_or_create_listener_task()
        await listener_running.wait()
        return channel

    def _get_or_create_listener_task(self) -> tuple[asyncio.Event, bool]:
        """Start the one supervised listener unless it runs; never asks the caller to start one
        (the library's callers would start a second listener whenever the first reconnects)."""
        if self.listener_task_is_running is None:
            self.listener_task_is_running = asyncio.Event()
        if self._listener is None or self._listener.done():
            self.event_loop = asyncio.get_running_loop()
            self._listener = asyncio.create_task(self.listen_to_all_channels())
        return self.listener_task_is_running, False

    async def listen_to_all_channels(self) -> None:
        """Relay NOTIFYs to the channels' queues, reconnecting for as long as the layer lives."""
        assert self.listener_task_is_running is not None
        delay = RECONNECT_FIRST_DELAY_S
        while True:
            try:
                await self._listen()
                return  # shut down on purpose
            except (psycopg.Error, OSError) as error:
                self.listener_task_is_running.clear()
                logger.warning("channel layer listener lost the database (%s); reconnecting in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_S)

    async def _listen(self) -> None:
        """The library's listener, with an idle ping: queued messages first, then each NOTIFY."""
        assert self.listener_task_is_running is not None
        queued = await self.django_db.retrieve_non_expired_queued_messages()
        for message_id, channel, message, timestamp in sorted(queued, key=lambda row: int(row[0])):
            payload = f"{message_id}:{channel}:{base64.b64encode(message).decode()}:{timestamp}"
            self._get_or_create_queue(channel).put_nowait(payload)

        conninfo = psycopg.conninfo.make_conninfo(conninfo="", **self.db_params)
        async with await psycopg.AsyncConnection.connect(conninfo=conninfo, autocommit=True) as connection:
            await connection.execute(f"LISTEN {LISTEN_CHANNEL};")
            self.listener_task_is_running.set()
            logger.debug("channel layer listener connected")
            while True:
                async for event in connection.notifies(timeout=LISTENER_PING_S):
                    if event.payload == SHUTDOWN_PAYLOAD:
                        self.listener_task_is_running.clear()
                        return
                    channel = event.payload.split(":")[1]
                    # Without the channel's advisory lock another consumer owns it.
                    if self._channel_advisory_locks.get(channel, False):
                        self._get_or_create_queue(channel).put_nowait(event.payload)
                await connection.execute("SELECT 1")  # raises when the server went away

    async def close(self) -> None:
        """Stop the listener and close the pool (before the database goes away on purpose)."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self.listener_task_is_running is not None:
            self.listener_task_is_running.clear()
        if channels_postgres_db.connection_pool is not None:
            pool, channels_postgres_db.connection_pool = channels_postgres_db.connection_pool, None
            await pool.close()

    async def group_discard(self, group: str, channel: str, expire: int | None = None) -> None:
        """The library deletes through Django's ORM, on a connection of its executor thread that no
        request cycle ever closes: after a failure it is closed, so the next call reconnects."""
        try:
            await super().group_discard(group, channel, expire)
        except DatabaseError:
            await sync_to_async(_close_channel_layer_connection)()
            raise


def _close_channel_layer_connection() -> None:
    try:
        connections["channels_postgres"].close()
    except DatabaseError:
        logger.debug("closing the broken channel-layer connection failed", exc_info=True)
