"""core.events: publishing to channel-layer groups and subscribing to them."""

import asyncio

import pytest

from apps.core import events

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "channels_postgres"])


def test_a_message_published_after_subscribing_but_before_receiving_is_not_lost():
    async def subscribe_then_publish() -> tuple:
        async with events.subscription("test.group") as receive:
            await asyncio.to_thread(events.publish, "test.group", "progress", {"step": 1})
            await asyncio.to_thread(events.publish, "test.group", "complete", {"step": 2})
            return await receive(timeout=5), await receive(timeout=5)

    assert asyncio.run(subscribe_then_publish()) == (("progress", {"step": 1}), ("complete", {"step": 2}))


def test_receive_returns_none_when_nothing_arrives_in_time():
    async def wait_for_nothing() -> object:
        async with events.subscription("test.quiet") as receive:
            return await receive(timeout=0.3)

    assert asyncio.run(wait_for_nothing()) is None


def test_the_channel_layer_check_passes_every_time():
    assert [events.channel_layer_check() for _ in range(3)] == ["healthy"] * 3


def test_with_keepalive_yields_none_while_the_source_is_slow_and_loses_no_item():
    from apps.core.sse import with_keepalive

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
