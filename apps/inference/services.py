"""The model runtime's public Python API: serve the store's models in this process.

Every call names a model by its store id (`HuggingFaceTB/SmolLM2-135M-Instruct`). `model_resolve`
finds it in the store (NotFound, 404, with how to pull it), checks that its kind suits the call
(Invalid, 400: embedding a chat model) and marks it used; the other calls lease it from the
residency (loading it if needed) and answer in OpenAI's shapes.

`model_resolve` reads the database; the others do not, and block while the model computes: async
callers run them in a thread of their own (the views use a pool for that), never on the event loop.
"""

import asyncio
import base64
import contextlib
import struct
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.errors import Invalid, NotFound
from apps.inference.engines import CHAT, CLASSIFY, EMBEDDING, ENGINES, RERANK
from apps.inference.engines.chat import DEFAULT_THINKING_BUDGET, THINKING, ChatOptions, Generation, Thinking
from apps.inference.kinds import model_kind
from apps.inference.residency import Lease, ModelFiles, budget_bytes, estimate_bytes, residency
from apps.modelstore import owners
from apps.modelstore import selectors as store_selectors
from apps.modelstore import services as store
from apps.modelstore.models import LocalModel

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
# What each endpoint is called in errors.
ENDPOINTS = {
    CHAT: "/v1/chat/completions",
    EMBEDDING: "/v1/embeddings",
    RERANK: "/v1/rerank",
    CLASSIFY: "/v1/classify",
}


# --- models --------------------------------------------------------------------------------------


def not_in_store_message(model: str) -> str:
    """Why the runtime has no model `model`: an entry another app keeps for itself (an ML classifier:
    where it is used instead), or not in the store at all (how to pull it)."""
    owned = owners.owned_ids().get(model)
    if owned:
        return f"model {model!r} is {owned}; the model runtime does not serve it"
    return (
        f"model {model!r} is not in the model store. Pull it first: "
        f"`manage.py pull huggingface {model}`, or POST /api/v1/downloads with "
        f'{{"model_id": "{model}"}} on the platform port; then retry.'
    )


def model_files(row: LocalModel) -> ModelFiles | None:
    """The runtime's view of a stored model; None when no engine serves its kind."""
    folder = Path(row.path)
    kind = model_kind(folder, list(row.files))
    if kind is None:
        return None
    metadata = row.metadata or {}
    parameters = None
    for source in ("safetensors", "gguf"):
        facts = metadata.get(source)
        if isinstance(facts, dict) and isinstance(facts.get("total"), int):
            parameters = facts["total"]
            break
    weights = [name for name in row.files if name.lower().endswith(WEIGHT_SUFFIXES)]
    if any(name.lower().endswith(".gguf") for name in weights) and "config.json" not in row.files:
        weights = weights[:1]  # one quantization is loaded, not every file of the repo
    weight_bytes = sum(int((row.manifest.get(name) or {}).get("size", 0)) for name in weights)
    return ModelFiles(
        key=f"{row.source}/{row.model_id}",
        name=row.model_id,
        folder=folder,
        files=tuple(row.files),
        kind=kind,
        estimated_bytes=estimate_bytes(parameters=parameters, weight_bytes=weight_bytes),
    )


def model_resolve(*, model: str, kind: str) -> ModelFiles:
    """The stored model `model` for an endpoint of `kind`, marked used (always when it is about to be
    loaded, at most once a minute otherwise).

    NotFound (404) when it is not in the store, or is an entry an app keeps for itself (an ML
    classifier, a forecasting checkpoint: `modelstore.owners`), answered exactly as for an unknown
    model; Invalid (400) when it is not a `kind` model.
    """
    ENGINES.check(kind)
    row = store_selectors.inference_model_for_id(model_id=model)
    if row is None or not Path(row.path).is_dir():
        raise NotFound(not_in_store_message(model), code="model_not_found")
    files = model_files(row)
    if files is None:
        pipeline = (row.metadata or {}).get("pipeline_tag") or "unknown"
        raise Invalid(
            f"model {model!r} ({pipeline}) cannot be served by the runtime: it serves chat, embedding, "
            "rerank and classify models",
            param="model",
        )
    if files.kind != kind:
        raise Invalid(
            f"model {model!r} is {_a(files.kind)} model; {ENDPOINTS[kind]} needs {_a(kind)} model",
            param="model",
        )
    store.local_model_touch(model=row, force=not residency().is_loaded(files.key))
    return files


def models_list() -> list[dict[str, Any]]:
    """Every stored model the runtime can serve (never an entry an app keeps for itself), in OpenAI's
    `/v1/models` item shape plus its kind, size and whether it is loaded."""
    loaded = {item["key"]: item for item in residency().residents()}
    items = []
    for row in store.inference_model_list():
        files = model_files(row)
        if files is None:
            continue
        resident = loaded.get(files.key)
        items.append(
            {
                "id": files.name,
                "object": "model",
                "created": int(row.downloaded_at.timestamp()),
                "owned_by": row.author or row.source,
                "kind": files.kind,
                "size_bytes": row.size_bytes,
                "estimated_memory_bytes": files.estimated_bytes,
                "loaded": resident is not None,
                "memory_bytes": resident["memory_bytes"] if resident else None,
                "last_used": int(resident["last_used"]) if resident else None,
                "keep_loaded": bool(resident and resident["keep_loaded"]),
            }
        )
    return items


def runtime_status() -> dict[str, Any]:
    """The loaded models and the memory they take, against the budget."""
    loaded = residency().residents()
    return {
        "loaded": loaded,
        "memory_used_bytes": sum(item["memory_bytes"] for item in loaded),
        "memory_budget_bytes": budget_bytes(),
    }


def model_key(*, model: str) -> str:
    """The residency key (`source/model_id`) of the stored model `model`; NotFound when not stored."""
    row = store_selectors.inference_model_for_id(model_id=model)
    if row is None:
        raise NotFound(not_in_store_message(model), code="model_not_found")
    return f"{row.source}/{row.model_id}"


def model_unload(*, key: str) -> bool:
    """Unload the model stored as `key` from this process once its current call ends (a kept-loaded
    one too: an operator's explicit unload wins); False when it was not loaded. Blocks meanwhile."""
    return residency().unload(key)


def model_preload(*, model: str) -> None:
    """Load `model` now and keep it loaded (MODELYARD_RUNTIME_KEEP_LOADED at start)."""
    row = store_selectors.inference_model_for_id(model_id=model)
    if row is None:
        raise NotFound(not_in_store_message(model))
    files = model_files(row)
    if files is None:
        raise Invalid(f"model {model!r} cannot be served by the runtime")
    with residency().lease(files, keep_loaded=True):
        store.local_model_touch(model=row, force=True)


# --- chat ----------------------------------------------------------------------------------------


def chat_options(request: dict[str, Any]) -> ChatOptions:
    """Sampling options of a validated chat request; OpenAI's defaults where it sets none."""
    stop = request.get("stop")
    max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
    temperature = request.get("temperature")
    return ChatOptions(
        max_tokens=max_tokens or settings.MODELYARD_RUNTIME_MAX_TOKENS,
        temperature=1.0 if temperature is None else float(temperature),
        top_p=request.get("top_p"),
        top_k=request.get("top_k"),
        stop=tuple([stop] if isinstance(stop, str) else stop or ()),
        seed=request.get("seed"),
        think=bool(request.get("think")),
        thinking_budget=request.get("thinking_budget") or DEFAULT_THINKING_BUDGET,
    )


def _usage(prompt_tokens: int, completion_tokens: int, thinking: Thinking | None = None) -> dict[str, Any]:
    """OpenAI's usage; with thinking, its `completion_tokens_details.reasoning_tokens` (part of
    `completion_tokens`, as OpenAI counts its reasoning models' tokens)."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if thinking is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": thinking.tokens}
    return usage


def _chat_generation(lease: Lease, messages: list[dict], options: ChatOptions) -> Generation:
    try:
        return lease.engine.chat(messages=messages, options=options)
    except BaseException:
        lease.release()
        raise


def chat_complete(*, model: ModelFiles, messages: list[dict], options: ChatOptions) -> dict[str, Any]:
    """A whole answer as OpenAI's `chat.completion` object. When the model thought (`think` on a
    thinking model), `content` is the answer only and the thinking comes twice: as the projects
    spec's top-level `thinking: {content, tokens}` and as the message's `reasoning_content` (DeepSeek's
    name, which LiteLLM and most OpenAI-compatible clients read; a stream's thinking deltas too)."""
    with residency().lease(model) as lease:
        generation = _chat_generation(lease, messages, options)
        text = generation.text()
    usage, thinking = generation.usage, generation.thinking
    message = {"role": "assistant", "content": text}
    if thinking is not None:
        message["reasoning_content"] = thinking.content
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.name,
        "choices": [{"index": 0, "message": message, "finish_reason": usage.finish_reason}],
        "usage": _usage(usage.prompt_tokens, usage.completion_tokens, thinking),
    }
    if thinking is not None:
        body["thinking"] = {"content": thinking.content, "tokens": thinking.tokens}
    return body


class ChatStream:
    """An answer about to be streamed: the model is held and the prompt checked, so every error a
    client can cause has been raised before the first byte goes out."""

    def __init__(self, *, model: ModelFiles, lease: Lease, generation: Generation) -> None:
        self.model = model
        self.lease = lease
        self.generation = generation
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._started = False
        # A stream dropped before its first chunk (the client left while it was being set up) still
        # frees the model when it is collected; `release` is idempotent.
        weakref.finalize(self, lease.release)

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model.name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def _pieces(self) -> Iterator[tuple[str, str]]:
        try:
            yield from self.generation.parts()
        finally:
            self.lease.release()

    async def chunks(self, *, include_usage: bool = False) -> AsyncIterator[dict[str, Any]]:
        """OpenAI's `chat.completion.chunk`s: the role, the text as it comes, the finish reason, and
        (with `include_usage`) a last chunk with the usage. Thinking, when the model thinks, comes
        first, in `delta.reasoning_content` (DeepSeek's name, which LiteLLM, Open WebUI and most
        OpenAI-compatible SDKs read; vLLM's newer `reasoning` is mapped to it by them), never in
        `delta.content`. A consumer that stops iterating (the client went
        away) stops the generation after the current token."""
        try:
            yield self._chunk({"role": "assistant", "content": ""})
            self._started = True  # from here the thread that runs the generation releases the model
            async for channel, piece in iterate_in_thread(self._pieces(), self.generation.cancelled):
                yield self._chunk({"reasoning_content": piece} if channel == THINKING else {"content": piece})
        finally:
            if not self._started:
                self.lease.release()
        usage = self.generation.usage
        yield self._chunk({}, usage.finish_reason)
        if include_usage:
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = _usage(usage.prompt_tokens, usage.completion_tokens, self.generation.thinking)
            yield chunk


def chat_stream_open(*, model: ModelFiles, messages: list[dict], options: ChatOptions) -> ChatStream:
    """Hold the model (waiting in its queue, loading it if needed) and check the prompt; the stream
    starts when `ChatStream.chunks()` is iterated."""
    lease = residency().lease(model)
    return ChatStream(model=model, lease=lease, generation=_chat_generation(lease, messages, options))


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


async def iterate_in_thread(items: Iterator[Any], cancelled: threading.Event) -> AsyncIterator[Any]:
    """Iterate the blocking iterator `items` in a thread of its own, handing its items to the event
    loop as they come. When the consumer stops (or is cancelled), `cancelled` is set; `items` must
    end soon after it is (a generation stops after its current token)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        try:
            for item in items:
                put(item)
                if cancelled.is_set():
                    break
        except BaseException as error:  # noqa: BLE001  (handed to the consumer)
            put(_Failed(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            put(_END)

    threading.Thread(target=run, name="runtime-stream", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        cancelled.set()


# --- embeddings, rerank, classify ----------------------------------------------------------------


def embeddings_create(
    *, model: ModelFiles, inputs: list[str], dimensions: int | None = None, encoding_format: str = "float"
) -> dict[str, Any]:
    """OpenAI's embeddings list, with `warnings` naming every input the model truncated."""
    if any(not isinstance(item, str) for item in inputs):
        raise Invalid("this runtime embeds texts only, not token ids", param="input")
    with residency().lease(model) as lease:
        result = lease.engine.embed(texts=inputs, dimensions=dimensions)
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding_format)}
        for index, vector in enumerate(result.vectors)
    ]
    body: dict[str, Any] = {
        "object": "list",
        "data": data,
        "model": model.name,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
        "dimension": result.dimension,
    }
    if result.warnings:
        body["warnings"] = result.warnings
    return body


def _encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # OpenAI's: little-endian float32, base64
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def rerank(*, model: ModelFiles, query: str, documents: list[str], top_n: int | None = None) -> dict[str, Any]:
    """`{model, results: [{index, relevance_score, document}]}`, most relevant first."""
    with residency().lease(model) as lease:
        results = lease.engine.rerank(query=query, documents=documents, top_n=top_n)
    return {"object": "list", "model": model.name, "results": results}


def classify(*, model: ModelFiles, texts: list[str]) -> dict[str, Any]:
    """`{model, data: [{index, label, score, scores}]}` in input order."""
    with residency().lease(model) as lease:
        results = lease.engine.classify(texts=texts)
    return {"object": "list", "model": model.name, "data": results}


def _a(word: str) -> str:
    """`word` with its indefinite article: "an embedding", "a chat"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
