"""The Postgres channel layer, with a race of channels-postgres closed.

channels-postgres hands a message to a channel only once that channel holds its advisory lock,
which the library takes on the first `receive()`. A message sent (or group-sent) to a new
channel before its first `receive()` was therefore dropped by the listener. Here `new_channel()`
takes the lock and starts the listener at once, so a subscriber can add its channel to a group
and read the current state before it starts receiving, without losing what arrives meanwhile.
"""

import asyncio

from channels_postgres.core import PostgresChannelLayer as LibraryPostgresChannelLayer


class PostgresChannelLayer(LibraryPostgresChannelLayer):
    async def new_channel(self, prefix: str = "specific") -> str:
        channel = await super().new_channel(prefix)
        await self._get_or_create_channel_advisory_lock(channel)
        listener_running, is_new_listener = self._get_or_create_listener_task()
        if is_new_listener:
            asyncio.create_task(self.listen_to_all_channels())
        await listener_running.wait()
        return channel
