"""Chats to a given endpoint (a project model's own `base_url`) keep their adapter for the event loop:
one kept-alive connection serves request after request, as the gateway's routed backends do."""

import asyncio

from apps.backends import routing
from apps.backends import services as backends
from tests.fakes.backends_openai import FakeOpenAI

HELLO = [{"role": "user", "content": "hello"}]


def test_endpoint_chats_on_one_event_loop_reuse_one_kept_alive_connection():
    with FakeOpenAI(name="endpoint", models=["gpt-4o-mini"]) as fake:
        base_url = f"{fake.url}/v1"

        async def chats() -> tuple[list[str], int, bool]:
            answers = [
                (
                    await backends.endpoint_chat(type="openai", base_url=base_url, model="gpt-4o-mini", messages=HELLO)
                ).text
                for _ in range(3)
            ]
            kept_alive = len(fake._connections)  # the three answers came over this many connections
            stream = await backends.endpoint_chat_stream(
                type="openai", base_url=base_url, model="gpt-4o-mini", messages=HELLO
            )
            answers.append("".join([chunk.text async for chunk in stream]))
            same = routing.provider_pooled("openai", base_url=base_url) is routing.provider_pooled(
                "openai", base_url=base_url
            )
            return answers, kept_alive, same

        answers, kept_alive, same = asyncio.run(chats())

    assert len(set(answers)) == 1 and answers[0]
    assert kept_alive == 1
    assert same


def test_a_new_event_loop_gets_adapters_of_its_own():
    async def adapter() -> object:
        return routing.provider_pooled("openai", base_url="http://127.0.0.1:9/v1")

    assert asyncio.run(adapter()) is not asyncio.run(adapter())
