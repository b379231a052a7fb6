"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, LM Studio…): /v1/models,
/v1/chat/completions (one JSON, or SSE `data:` chunks ending in `data: [DONE]`), /v1/embeddings.

A reasoning model's thinking is read from `reasoning_content` / `reasoning` (message and stream
deltas) and the top-level `thinking` object; OpenAI's API has no `think` switch (its reasoning
models take `reasoning_effort`), so `think` / `thinking_budget` are dropped here and passed by the
subclasses whose servers take them (the model runtime, vLLM).

`base_url` may be given with or without its `/v1` (`http://host:8000` or `https://api.openai.com/v1`).
These servers cannot pull models; `generate` is a chat with one user message.
"""

import base64
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from apps.backends.providers.base import (
    ChatChunk,
    ChatResult,
    Embeddings,
    ProviderRequestError,
    PulledModel,
    PullProgress,
    RerankResult,
    Thinking,
)
from apps.backends.providers.capabilities import looks_like_embedding_model
from apps.backends.providers.transport import HTTPProvider

# What an answer's embeddings must be, by the `encoding_format` asked for.
EMBEDDING_SHAPES = {"float": "lists of numbers", "base64": "base64 float32 vectors"}
# Request fields of OpenAI's chat API that are passed on as they are; any other option belongs
# to another provider (num_ctx, keep_alive…) and is dropped, since OpenAI answers 400 to unknown fields.
CHAT_OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
    }
)
# Where servers tell a model's context window in /v1/models: vLLM (max_model_len), LM Studio, others;
# llama.cpp's server puts it in `meta.n_ctx_train`. OpenAI itself does not tell.
CONTEXT_LENGTH_FIELDS = ("context_length", "context_window", "max_context_length", "max_model_len")


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def reasoning_text(message: dict) -> str:
    """The thinking in a message or a streamed delta: `reasoning_content` (DeepSeek's name, which the
    model runtime, vLLM and llama.cpp's server write) or `reasoning` (vLLM's newer name, OpenRouter's)."""
    for name in ("reasoning_content", "reasoning"):
        if isinstance(message.get(name), str) and message[name]:
            return message[name]
    return ""


def thinking_of(data: dict, message: dict, usage: dict) -> Thinking | None:
    """A whole answer's thinking: the message's reasoning text, else the projects spec's top-level
    `thinking: {content, tokens}` (the model runtime writes both); its tokens from that object or
    OpenAI's `usage.completion_tokens_details.reasoning_tokens`. None when the model did not think."""
    top = data.get("thinking") if isinstance(data.get("thinking"), dict) else {}
    content = reasoning_text(message) or (top.get("content") if isinstance(top.get("content"), str) else "")
    if not content:
        return None
    details = usage.get("completion_tokens_details")
    tokens = as_int(top.get("tokens"))
    if tokens is None and isinstance(details, dict):
        tokens = as_int(details.get("reasoning_tokens"))
    return Thinking(content=content, tokens=tokens)


def tool_calls_of(message: dict) -> tuple[dict, ...]:
    """The `tool_calls` of a message or a streamed delta, as the server wrote them (OpenAI's shape)."""
    calls = message.get("tool_calls")
    return tuple(call for call in calls if isinstance(call, dict)) if isinstance(calls, list) else ()


class OpenAIProvider(HTTPProvider):
    """An OpenAI-compatible server; the API key, when set, goes as `Authorization: Bearer`."""

    type = "openai"
    chat_options: frozenset[str] = CHAT_OPTIONS

    def __init__(self, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout_s=timeout_s)
        # The client's base URL is the one configured; paths carry the /v1 unless it already does.
        self.api = "" if self.base_url.endswith("/v1") else "/v1"

    # --- models -------------------------------------------------------------------------

    def context_length(self, item: dict) -> int | None:
        for name in CONTEXT_LENGTH_FIELDS:
            if as_int(item.get(name)):
                return item[name]
        meta = item.get("meta")
        return as_int(meta.get("n_ctx_train")) if isinstance(meta, dict) else None

    def pulled_model(self, item: dict) -> PulledModel:
        name = str(item["id"])
        can_embed = looks_like_embedding_model(name)
        created = as_int(item.get("created"))
        return PulledModel(
            name=name,
            can_chat=not can_embed,
            can_embed=can_embed,
            can_prompt=not can_embed,
            can_stream=not can_embed,
            context_length=self.context_length(item),
            modified_at=datetime.fromtimestamp(created, UTC) if created else None,
            details={k: v for k, v in item.items() if k not in {"id", "object", "created", "permission"}},
        )

    async def list_models(self) -> list[PulledModel]:
        path = f"{self.api}/models"
        data = await self.http.get_json(path)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.http.bad_body(path, "no 'data' list")
        return [self.pulled_model(item) for item in items if isinstance(item, dict) and item.get("id")]

    # --- chat ---------------------------------------------------------------------------

    def _chat_body(self, model: str, messages: list[dict], options: dict | None) -> dict:
        body = {key: value for key, value in (options or {}).items() if key in self.chat_options and value is not None}
        body.update(model=model, messages=messages)
        return body

    async def chat(self, *, model: str, messages: list[dict], options: dict | None = None) -> ChatResult:
        path = f"{self.api}/chat/completions"
        data = await self.http.post_json(path, self._chat_body(model, messages, options))
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.http.bad_body(path, "no choices")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return ChatResult(
            text=content_text(message.get("content")),
            model=data.get("model") or model,
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=as_int(usage.get("prompt_tokens")),
            completion_tokens=as_int(usage.get("completion_tokens")),
            tool_calls=tool_calls_of(message),
            thinking=thinking_of(data, message, usage),
        )

    def chat_stream(self, *, model: str, messages: list[dict], options: dict | None = None) -> AsyncIterator[ChatChunk]:
        body = self._chat_body(model, messages, options)
        body.update(stream=True, stream_options={"include_usage": True})
        return self._stream(f"{self.api}/chat/completions", body)

    async def _stream(self, path: str, body: dict) -> AsyncIterator[ChatChunk]:
        finish: str | None = None
        usage: dict = {}

        def last() -> ChatChunk:
            return ChatChunk(
                text="",
                done=True,
                finish_reason=finish or "stop",
                prompt_tokens=as_int(usage.get("prompt_tokens")),
                completion_tokens=as_int(usage.get("completion_tokens")),
            )

        async with self.http.stream_lines("POST", path, body) as lines:
            async for line in lines:
                # Server-sent events: only `data:` lines carry chunks (one JSON each on every known server).
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    yield last()
                    return
                item = self.http.parse_line(payload, path)
                if "error" in item:
                    error = item["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise self.http.unavailable(f"{path}: {message}")
                if isinstance(item.get("usage"), dict):
                    usage = item["usage"]
                for choice in item.get("choices") or []:
                    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                        continue
                    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
                    text, thinking = content_text(delta.get("content")), reasoning_text(delta)
                    tool_calls = tool_calls_of(delta)
                    if text or tool_calls or thinking:
                        yield ChatChunk(text=text, tool_calls=tool_calls, thinking=thinking)
                    finish = choice.get("finish_reason") or finish
        # Some servers close the stream without `[DONE]`; a finish reason means the answer was whole.
        if finish is not None:
            yield last()
            return
        raise self.http.unavailable(f"{path}: stream ended before the answer was done")

    async def generate(self, *, model: str, prompt: str, options: dict | None = None) -> ChatResult:
        return await self.chat(model=model, messages=[{"role": "user", "content": prompt}], options=options)

    # --- embeddings ---------------------------------------------------------------------

    # How embeddings are asked for: "float" (lists of numbers) or "base64" (little-endian float32).
    embedding_encoding = "float"

    async def embed(
        self, *, model: str, inputs: list[str] | list[list[int]], dimensions: int | None = None
    ) -> Embeddings:
        if not inputs:
            return Embeddings(vectors=[])
        path = f"{self.api}/embeddings"
        body: dict[str, Any] = {"model": model, "input": list(inputs), "encoding_format": self.embedding_encoding}
        if dimensions is not None:
            body["dimensions"] = dimensions
        data = await self.http.post_json(path, body)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(inputs):
            raise self.http.bad_body(path, f"expected {len(inputs)} embeddings")
        try:
            ordered = sorted(items, key=lambda item: item.get("index", 0))
            vectors = [self._embedding_vector(item["embedding"]) for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError, struct.error) as exc:
            raise self.http.bad_body(path, f"embeddings are not {EMBEDDING_SHAPES[self.embedding_encoding]}") from exc
        return Embeddings(
            vectors=vectors,
            prompt_tokens=(data.get("usage") or {}).get("prompt_tokens"),
            warnings=tuple(str(warning) for warning in data.get("warnings") or ()),  # the model runtime's
        )

    def _embedding_vector(self, value: Any) -> list[float]:
        if self.embedding_encoding == "base64":
            raw = base64.b64decode(value, validate=True)
            return list(struct.unpack(f"<{len(raw) // 4}f", raw))
        return [float(number) for number in value]

    # --- rerank -------------------------------------------------------------------------------

    async def rerank(
        self, *, model: str, query: str, documents: list[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """`POST /v1/rerank` as the model runtime, vLLM and llama.cpp's server take it (Jina/Cohere's
        shape: `{model, query, documents, top_n}` → `results[{index, relevance_score}]`; a few
        servers answer `data` instead of `results`). A server without the route answers 404: a
        ProviderRequestError the caller reports."""
        if not documents:
            return []
        path = f"{self.api}/rerank"
        body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
        if top_n is not None:
            body["top_n"] = top_n
        data = await self.http.post_json(path, body)
        items = data.get("results", data.get("data")) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.http.bad_body(path, "no 'results' list")
        try:
            ranked = [
                RerankResult(index=int(item["index"]), relevance_score=float(item["relevance_score"])) for item in items
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise self.http.bad_body(path, "results are not {index, relevance_score} objects") from exc
        if any(not 0 <= item.index < len(documents) for item in ranked):
            raise self.http.bad_body(path, "a result's index is outside the documents sent")
        return sorted(ranked, key=lambda item: item.relevance_score, reverse=True)

    def pull(self, *, model: str) -> AsyncIterator[PullProgress]:
        """Raises at once (before any iteration): these servers load what they serve themselves."""
        raise ProviderRequestError(f"{self.type} backends cannot pull models", status=400)
