"""Thinking models (Qwen3-style `<think>` templates) on a tiny model with Qwen3's chat template and
thinking tokens (real tokenizer, random weights): the budget is kept to the token, the block is
closed as the template writes it, the thinking comes apart from the answer, and no tag ever leaks
into the answer. Expected answers are computed here with plain greedy `generate` calls."""

from pathlib import Path

import pytest

from apps.inference.engines.chat import CONTENT, THINKING, ChatEngine, ChatOptions
from apps.modelstore.layout import list_model_files
from tests.inference.conftest import sse_data

pytestmark = pytest.mark.ml

QUESTION = [{"role": "user", "content": "Alice sees the river"}]
TAGS = ("<think>", "</think>")


def load(folder: Path) -> ChatEngine:
    return ChatEngine(folder=folder, files=list_model_files(folder))


@pytest.fixture(scope="module")
def thinker(tiny_models: dict[str, Path]) -> ChatEngine:
    return load(tiny_models["tiny/thinker"])


@pytest.fixture(scope="module")
def early_closer(tiny_models: dict[str, Path]) -> ChatEngine:
    """The tiny thinker changed so that greedy decoding closes its thinking by itself within three
    tokens: the output row of `</think>` is twice that of the token it would pick third."""
    import torch

    engine = load(tiny_models["tiny/thinker"])
    tags = engine.thinking_tags
    prompt = engine.prompt_ids(QUESTION, think=True)
    third = greedy(engine, prompt, 3, suppressed=[tags.open_id])[2]
    with torch.no_grad():
        engine.model.lm_head.weight[tags.close_id] = 2 * engine.model.lm_head.weight[third]
    return engine


def greedy(engine: ChatEngine, ids: list[int], count: int, *, suppressed: list[int], ends: tuple = ()) -> list[int]:
    """Up to `count` greedy tokens after `ids`, never one of `suppressed`, cut before the first of `ends`."""
    import torch

    with torch.inference_mode():
        output = engine.model.generate(
            input_ids=torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=count,
            do_sample=False,
            suppress_tokens=suppressed,
            eos_token_id=[engine.tokenizer.eos_token_id, *ends],
            pad_token_id=engine.tokenizer.pad_token_id,
        )[0][len(ids) :].tolist()
    cut = [index for index, token in enumerate(output) if token in ends]
    return output[: cut[0]] if cut else output


def expected_answer(engine: ChatEngine, thought: list[int], max_tokens: int) -> str:
    """What the model answers greedily after the question, its thought and `\\n</think>\\n\\n`."""
    tags = engine.thinking_tags
    text = engine.tokenizer.decode(thought, skip_special_tokens=True)
    close = engine.tokenizer(("" if text.endswith("\n") else "\n") + "</think>\n\n", add_special_tokens=False)
    answer_prompt = [*engine.prompt_ids(QUESTION, think=True), *thought, *close["input_ids"]]
    answer = greedy(engine, answer_prompt, max_tokens, suppressed=[tags.open_id, tags.close_id])
    return engine.tokenizer.decode(answer, skip_special_tokens=True)


def channels(generation) -> tuple[str, str, list[str]]:
    parts = list(generation.parts())
    order = [channel for channel, _ in parts]
    thinking = "".join(piece for channel, piece in parts if channel == THINKING)
    return thinking, "".join(piece for channel, piece in parts if channel == CONTENT), order


# --- the engine ----------------------------------------------------------------------------------


def test_a_qwen3_style_template_is_a_thinking_template_and_a_plain_one_is_not(thinker, tiny_models):
    plain = load(tiny_models["tiny/chat"])

    assert thinker.thinking_tags is not None
    assert thinker.tokenizer.convert_ids_to_tokens([thinker.thinking_tags.open_id, thinker.thinking_tags.close_id]) == [
        "<think>",
        "</think>",
    ]
    assert plain.thinking_tags is None


def test_thinking_stops_at_the_budget_exactly_is_closed_and_the_answer_gets_max_tokens_on_top(thinker):
    tags = thinker.thinking_tags
    generation = thinker.chat(
        messages=QUESTION, options=ChatOptions(max_tokens=10, temperature=0, think=True, thinking_budget=8)
    )

    thinking, answer, order = channels(generation)

    thought = greedy(
        thinker, thinker.prompt_ids(QUESTION, think=True), 8, suppressed=[tags.open_id], ends=(tags.close_id,)
    )
    assert len(thought) == 8  # this model does not close by itself: the budget does
    assert generation.thinking.tokens == 8
    assert generation.thinking.content == thinking.strip("\n") == thinker.tokenizer.decode(thought).strip("\n")
    assert answer == expected_answer(thinker, thought, 10)  # the answer follows `\n</think>\n\n`
    assert (generation.usage.completion_tokens, generation.usage.finish_reason) == (8 + 10, "length")
    assert order == sorted(order, key=[THINKING, CONTENT].index)  # all thinking, then the answer
    assert not any(tag in text for tag in TAGS for text in (answer, generation.thinking.content))


def test_a_model_that_closes_its_thinking_itself_is_not_closed_again(early_closer):
    tags = early_closer.thinking_tags
    generation = early_closer.chat(
        messages=QUESTION, options=ChatOptions(max_tokens=6, temperature=0, think=True, thinking_budget=50)
    )

    thinking, answer, _ = channels(generation)

    thought = greedy(
        early_closer,
        early_closer.prompt_ids(QUESTION, think=True),
        50,
        suppressed=[tags.open_id],
        ends=(tags.close_id,),
    )
    assert len(thought) < 3 and generation.thinking.tokens == len(thought)
    assert "</think>" not in thinking and answer == expected_answer(early_closer, thought, 6)
    assert generation.usage.completion_tokens == len(thought) + 6


def test_without_think_the_templates_empty_block_is_in_the_prompt_and_no_tag_reaches_the_answer(early_closer):
    prompt = early_closer.tokenizer.decode(early_closer.prompt_ids(QUESTION, think=False))
    generation = early_closer.chat(messages=QUESTION, options=ChatOptions(max_tokens=12, temperature=0))

    thinking, answer, order = channels(generation)

    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # Qwen3's enable_thinking=False
    assert generation.thinking is None and thinking == "" and set(order) == {CONTENT}
    assert answer and not any(tag in answer for tag in TAGS)  # this model would write `</think>` third


def test_think_is_ignored_by_a_model_without_a_thinking_template(tiny_models):
    plain = load(tiny_models["tiny/chat"])

    thinking = plain.chat(messages=QUESTION, options=ChatOptions(max_tokens=8, temperature=0, think=True))
    text = thinking.text()

    assert thinking.thinking is None
    assert text == plain.chat(messages=QUESTION, options=ChatOptions(max_tokens=8, temperature=0)).text()


# --- over HTTP -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_answer_and_the_thinking_come_apart_whole_and_streamed(runtime_client, stored_tiny):
    stored_tiny("tiny/thinker")
    request = {
        "model": "tiny/thinker",
        "messages": QUESTION,
        "temperature": 0,
        "max_tokens": 6,
        "think": True,
        "thinking_budget": 5,
    }

    whole = runtime_client.post("/v1/chat/completions", request)
    streamed = sse_data(
        runtime_client.post(
            "/v1/chat/completions", {**request, "stream": True, "stream_options": {"include_usage": True}}
        )
    )
    plain = runtime_client.post("/v1/chat/completions", {**request, "think": False}).json()

    assert whole.status_code == 200, whole.content
    body = whole.json()
    message = body["choices"][0]["message"]
    assert body["thinking"]["tokens"] == 5 and body["thinking"]["content"]
    assert message["reasoning_content"] == body["thinking"]["content"]
    assert not any(tag in message["content"] for tag in TAGS)
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}
    assert body["usage"]["completion_tokens"] == 5 + 6
    *chunks, usage_chunk, done = streamed
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert "".join(delta.get("reasoning_content", "") for delta in deltas).strip("\n") == body["thinking"]["content"]
    assert "".join(delta.get("content", "") for delta in deltas) == message["content"]
    assert not any("content" in delta for delta in deltas if "reasoning_content" in delta)
    assert usage_chunk["usage"] == body["usage"] and done == "[DONE]"
    assert "thinking" not in plain and "reasoning_content" not in plain["choices"][0]["message"]


@pytest.mark.django_db
def test_a_thinking_budget_below_one_is_openais_400(runtime_client):
    response = runtime_client.post(
        "/v1/chat/completions", {"model": "tiny/thinker", "messages": QUESTION, "think": True, "thinking_budget": 0}
    )

    assert response.status_code == 400 and "thinking_budget" in response.json()["error"]["message"]
