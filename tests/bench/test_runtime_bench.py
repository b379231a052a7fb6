"""The model runtime's overhead, measured in one run on this machine (`make bench`).

- Chat: SmolLM2-135M-Instruct (the packaged default), greedy, 128 new tokens: tokens/s through the
  gateway (platform port → `local` backend → runtime process, streamed) against `generate` on the
  same converted model in this process (aim ≥ 0.9×), and the time to the first token.
- Embeddings: all-MiniLM-L6-v2 on the same 2,000 sentences: sentences/s of `POST /v1/embeddings`
  through the gateway against `SentenceTransformer.encode()` here (aim ≥ 0.8×).
Both sides run with MODELYARD_TORCH_THREADS (1 by default), as the runtime does.
"""

import json
import time
from pathlib import Path

import httpx
import pytest

from apps.core.threads import apply_model_thread_policy
from apps.inference.defaults import DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL, defaults_install
from apps.inference.engines.chat import CONVERTED_DIR
from apps.modelstore import layout
from tests.fakes.servers import free_port, start_live_server

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."}]
NEW_TOKENS = 128
SENTENCES = [
    f"Sentence number {index} talks about {topic}."
    for index in range(400)
    for topic in ("cats", "rivers", "markets", "stars", "bread")
][:2000]


def wait_for_models(url: str, models: set[str], timeout: float = 120) -> None:
    """Until the `local` backend reports `models` (registration, then a sync)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(models <= set(backend["models"]) for backend in httpx.get(f"{url}/backends").json()):
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the local backend did not report {models}")


def stream_tokens(url: str) -> tuple[float, float, int]:
    """(seconds to the first token, seconds in all, completion tokens) of one streamed answer."""
    body = {
        "model": DEFAULT_CHAT_MODEL,
        "messages": PROMPT,
        "temperature": 0,
        "max_tokens": NEW_TOKENS,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first, tokens = None, 0
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as response:
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter() - started
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return first or 0.0, time.perf_counter() - started, tokens


def direct_generate(folder: Path) -> float:
    """Tokens/s of `generate` on the converted SmolLM2 in this process."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=8, do_sample=False)  # warm-up
        started = time.perf_counter()
        output = model.generate(**ids, max_new_tokens=NEW_TOKENS, do_sample=False)
        elapsed = time.perf_counter() - started
    return (output.shape[1] - ids["input_ids"].shape[1]) / elapsed


def direct_encode(folder: Path) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    model.encode(SENTENCES[:64], show_progress_bar=False)
    started = time.perf_counter()
    model.encode(SENTENCES, batch_size=32, show_progress_bar=False)  # the runtime's batch size
    return len(SENTENCES) / (time.perf_counter() - started)


def test_runtime_throughput_through_the_gateway_against_the_libraries_directly(tmp_path):
    apply_model_thread_policy()
    defaults_install()
    port = free_port()
    server = start_live_server(
        tmp_path / "serve.log", MODELYARD_RUNTIME_PORT=str(port), MODELYARD_RUNTIME_REGISTER="true"
    )
    try:
        wait_for_models(server.url, {DEFAULT_CHAT_MODEL, DEFAULT_EMBED_MODEL})
        stream_tokens(server.url)  # loads (and on a fresh store converts) the model
        ttft, elapsed, tokens = stream_tokens(server.url)
        gateway_tps = tokens / elapsed
        httpx.post(
            f"{server.url}/v1/embeddings", json={"model": DEFAULT_EMBED_MODEL, "input": SENTENCES[:64]}, timeout=600
        )
        started = time.perf_counter()
        response = httpx.post(
            f"{server.url}/v1/embeddings", json={"model": DEFAULT_EMBED_MODEL, "input": SENTENCES}, timeout=600
        )
        gateway_sps = len(SENTENCES) / (time.perf_counter() - started)
        assert response.status_code == 200 and len(response.json()["data"]) == len(SENTENCES)
        # The direct side runs while the server is still up (idle), so both share the machine alike.
        chat_folder = layout.model_dir("local", DEFAULT_CHAT_MODEL) / CONVERTED_DIR / "SmolLM2-135M-Instruct.Q4_1"
        direct_tps = direct_generate(chat_folder)
        direct_sps = direct_encode(layout.model_dir("local", DEFAULT_EMBED_MODEL))
    finally:
        server.stop()

    print(
        f"\nchat (SmolLM2-135M, {NEW_TOKENS} tokens, greedy): gateway {gateway_tps:.1f} tok/s, "
        f"direct generate {direct_tps:.1f} tok/s, ratio {gateway_tps / direct_tps:.2f}; "
        f"time to first token {ttft * 1000:.0f} ms"
        f"\nembeddings (all-MiniLM-L6-v2, {len(SENTENCES)} sentences): gateway {gateway_sps:.0f}/s, "
        f"direct encode {direct_sps:.0f}/s, ratio {gateway_sps / direct_sps:.2f}"
    )
    assert tokens > 0 and gateway_tps > 0 and gateway_sps > 0
