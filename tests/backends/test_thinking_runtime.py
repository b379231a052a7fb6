"""The `local` provider against the real model runtime (`manage.py runtime`) serving a tiny thinking
model (Qwen3's chat template and thinking tokens, random weights; built in tests/fakes): the
thinking the runtime writes on the wire is what `ChatResult.thinking` and `ChatChunk.thinking`
carry. What the runtime itself does with `think` is tested in tests/inference/test_thinking.py."""

import asyncio
from pathlib import Path

import pytest

from apps.backends.providers.local import LocalProvider
from apps.modelstore.models import LocalModel
from tests.fakes import inference_models
from tests.fakes.servers import free_port, start_runtime
from tests.inference.conftest import put_in_store

pytestmark = [pytest.mark.ml, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

THINKER = "tiny/thinker"
QUESTION = [{"role": "user", "content": "Alice sees the river"}]


def test_the_local_provider_reads_the_runtimes_thinking_whole_and_streamed(tmp_path: Path):
    folder = tmp_path / "thinker"
    folder.mkdir()
    put_in_store(THINKER, inference_models.build_thinking_chat_model(folder))
    port = free_port()
    runtime = start_runtime(port, tmp_path / "runtime.log", keep_loaded=(THINKER,))
    options = {"temperature": 0, "max_tokens": 4, "think": True, "thinking_budget": 5}

    async def ask() -> tuple:
        provider = LocalProvider(base_url=f"http://127.0.0.1:{port}")
        try:
            whole = await provider.chat(model=THINKER, messages=QUESTION, options=options)
            chunks = [chunk async for chunk in provider.chat_stream(model=THINKER, messages=QUESTION, options=options)]
            plain = await provider.chat(model=THINKER, messages=QUESTION, options={**options, "think": False})
            return whole, chunks, plain
        finally:
            await provider.aclose()

    try:
        whole, chunks, plain = asyncio.run(ask())
    finally:
        runtime.kill()
        runtime.wait(timeout=30)
        LocalModel.objects.filter(model_id=THINKER).delete()

    assert whole.thinking is not None and whole.thinking.content and whole.thinking.tokens == 5
    assert "<think>" not in whole.text and "</think>" not in whole.text
    streamed_thinking = "".join(chunk.thinking for chunk in chunks)
    assert streamed_thinking.strip("\n") == whole.thinking.content
    assert "".join(chunk.text for chunk in chunks) == whole.text
    last_thought = max(i for i, chunk in enumerate(chunks) if chunk.thinking)
    assert all(not chunk.text for chunk in chunks[: last_thought + 1])
    assert plain.thinking is None
