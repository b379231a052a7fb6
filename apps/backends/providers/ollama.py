"""Ollama through its native API: /api/tags + /api/show, /api/chat, /api/generate, /api/embed, /api/pull.

Streams are NDJSON (one JSON object a line); an answer is complete at the line with
`"done": true`, a pull at `{"status": "success"}`. Ollama reports failures inside a stream as
`{"error": "..."}` lines.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from apps.backends.providers.base import ChatChunk, ChatResult, ProviderRequestError, PulledModel, PullProgress
from apps.backends.providers.capabilities import looks_like_embedding_model
from apps.backends.providers.transport import HTTPProvider

# /api/show is asked once per model; a few at a time keeps a large Ollama responsive.
SHOW_CONCURRENCY = 8
# Options of OpenAI's API that have another name in Ollama's `options`.
OPTION_NAMES = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict"}
# Options that Ollama takes at the top level of the request rather than in `options`.
TOP_LEVEL_OPTIONS = frozenset({"format", "keep_alive", "think", "tools"})
# OpenAI request fields with no meaning to Ollama: dropped rather than sent as unknown options.
OPENAI_ONLY_OPTIONS = frozenset(
    {
        "n",
        "user",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "stream_options",
        "tool_choice",
        "parallel_tool_calls",
        "store",
        "metadata",
        "service_tier",
        "reasoning_effort",
    }
)
# What a failed pull says when the name is wrong (the caller's mistake, not the backend's), and its status.
REFUSED_PULL_MARKERS = (("file does not exist", 404), ("not found", 404), ("invalid model name", 400))


def ollama_options(options: dict | None) -> tuple[dict, dict]:
    """(top-level fields, `options`) of an Ollama request from OpenAI-style options."""
    top: dict = {}
    native: dict = {}
    for key, value in (options or {}).items():
        if value is None or key in OPENAI_ONLY_OPTIONS:
            continue
        if key in TOP_LEVEL_OPTIONS:
            top[key] = value
        elif key == "response_format":
            response_format = value if isinstance(value, dict) else {}
            if response_format.get("type") == "json_object":
                top["format"] = "json"
            elif response_format.get("type") == "json_schema":
                top["format"] = (response_format.get("json_schema") or {}).get("schema", "json")
        elif key == "stop":
            native["stop"] = [value] if isinstance(value, str) else list(value)
        else:
            native[OPTION_NAMES.get(key, key)] = value
    return top, native


def ollama_messages(messages: list[dict]) -> list[dict]:
    """Messages as Ollama wants them: text content, images apart (OpenAI content parts are flattened)."""
    converted = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            texts, images = [], list(message.get("images") or [])
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    image = part.get("image_url")
                    url = image.get("url", "") if isinstance(image, dict) else str(image or "")
                    if url.startswith("data:") and "," in url:
                        images.append(url.split(",", 1)[1])
            message = {**message, "content": "\n".join(texts)}
            if images:
                message["images"] = images
        elif content is None:
            message = {**message, "content": ""}
        converted.append(message)
    return converted


def finish_reason(item: dict) -> str:
    return "length" if item.get("done_reason") == "length" else "stop"


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def context_length_of(model_info: dict) -> int | None:
    """`<architecture>.context_length` from /api/show's model_info."""
    arch = model_info.get("general.architecture")
    value = model_info.get(f"{arch}.context_length") if arch else None
    if value is None:
        value = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
    return as_int(value)


def pulled_model(entry: dict, show: dict) -> PulledModel:
    """A PulledModel from a /api/tags entry and the model's /api/show answer."""
    name = entry.get("name") or entry.get("model") or ""
    details = dict(entry.get("details") or show.get("details") or {})
    capabilities = show.get("capabilities")
    if isinstance(capabilities, list):
        can_embed = "embedding" in capabilities
        can_chat = "completion" in capabilities
        details["capabilities"] = capabilities
    else:
        can_embed = looks_like_embedding_model(name, str(details.get("family", "")))
        can_chat = not can_embed
    digest = entry.get("digest") or ""
    # /api/tags gives the bare hex; the rest of the platform writes digests as "sha256:<hex>".
    if digest and ":" not in digest:
        digest = f"sha256:{digest}"
    return PulledModel(
        name=name,
        can_chat=can_chat,
        can_embed=can_embed,
        can_prompt=can_chat,
        can_stream=can_chat,
        context_length=context_length_of(show.get("model_info") or {}),
        size=as_int(entry.get("size")),
        digest=digest,
        modified_at=parse_time(entry.get("modified_at")),
        details=details,
    )


class OllamaProvider(HTTPProvider):
    """An Ollama server, through its native API."""

    type = "ollama"

    async def list_models(self) -> list[PulledModel]:
        tags = await self.http.get_json("/api/tags")
        entries = tags.get("models") if isinstance(tags, dict) else None
        if not isinstance(entries, list):
            raise self.http.bad_body("/api/tags", "no 'models' list")
        limit = asyncio.Semaphore(SHOW_CONCURRENCY)

        async def describe(entry: dict) -> PulledModel | None:
            name = entry.get("name") or entry.get("model")
            async with limit:
                try:
                    show = await self.http.post_json("/api/show", {"model": name})
                except ProviderRequestError:
                    return None  # deleted between the two calls
            return pulled_model(entry, show if isinstance(show, dict) else {})

        described = await asyncio.gather(*(describe(e) for e in entries if isinstance(e, dict)))
        return [model for model in described if model is not None]

    def _request(self, model: str, options: dict | None, **fields: Any) -> dict:
        top, native = ollama_options(options)
        body = {"model": model, **fields, **top}
        if native:
            body["options"] = native
        return body

    async def _complete(self, path: str, body: dict, text_of: Any, model: str) -> ChatResult:
        data = await self.http.post_json(path, body)
        if not isinstance(data, dict):
            raise self.http.bad_body(path, "not an object")
        if "error" in data:
            raise self.http.unavailable(f"{path}: {data['error']}")
        return ChatResult(
            text=text_of(data),
            model=data.get("model") or model,
            finish_reason=finish_reason(data),
            prompt_tokens=as_int(data.get("prompt_eval_count")),
            completion_tokens=as_int(data.get("eval_count")),
        )

    async def _stream(self, path: str, body: dict, text_of: Any) -> AsyncIterator[ChatChunk]:
        async with self.http.stream_lines("POST", path, body) as lines:
            async for line in lines:
                item = self.http.parse_line(line, path)
                if "error" in item:
                    raise self.http.unavailable(f"{path}: {item['error']}")
                text = text_of(item)
                if item.get("done"):
                    yield ChatChunk(
                        text=text,
                        done=True,
                        finish_reason=finish_reason(item),
                        prompt_tokens=as_int(item.get("prompt_eval_count")),
                        completion_tokens=as_int(item.get("eval_count")),
                    )
                    return
                if text:
                    yield ChatChunk(text=text)
        raise self.http.unavailable(f"{path}: stream ended before the answer was done")

    async def chat(self, *, model: str, messages: list[dict], options: dict | None = None) -> ChatResult:
        body = self._request(model, options, messages=ollama_messages(messages), stream=False)
        return await self._complete("/api/chat", body, chat_text, model)

    def chat_stream(self, *, model: str, messages: list[dict], options: dict | None = None) -> AsyncIterator[ChatChunk]:
        body = self._request(model, options, messages=ollama_messages(messages), stream=True)
        return self._stream("/api/chat", body, chat_text)

    async def generate(self, *, model: str, prompt: str, options: dict | None = None) -> ChatResult:
        body = self._request(model, options, prompt=prompt, stream=False)
        return await self._complete("/api/generate", body, generate_text, model)

    async def embed(self, *, model: str, inputs: list[str]) -> list[list[float]]:
        if not inputs:
            return []
        data = await self.http.post_json("/api/embed", {"model": model, "input": list(inputs)})
        vectors = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(vectors, list) or len(vectors) != len(inputs):
            raise self.http.bad_body("/api/embed", f"expected {len(inputs)} embeddings")
        try:
            return [[float(value) for value in vector] for vector in vectors]
        except (TypeError, ValueError) as exc:
            raise self.http.bad_body("/api/embed", "embeddings are not lists of numbers") from exc

    async def pull(self, *, model: str) -> AsyncIterator[PullProgress]:
        path = "/api/pull"
        async with self.http.stream_lines("POST", path, {"model": model, "stream": True}) as lines:
            async for line in lines:
                item = self.http.parse_line(line, path)
                if "error" in item:
                    message = str(item["error"])
                    for marker, status in REFUSED_PULL_MARKERS:
                        if marker in message:
                            raise ProviderRequestError(message, status=status)
                    raise self.http.unavailable(f"{path}: {message}")
                progress = PullProgress(
                    status=str(item.get("status", "")),
                    digest=str(item.get("digest") or ""),
                    total=as_int(item.get("total")),
                    completed=as_int(item.get("completed")),
                )
                yield progress
                if progress.status == "success":
                    return
        raise self.http.unavailable(f"{path}: stream ended before the pull succeeded")


def chat_text(item: dict) -> str:
    message = item.get("message")
    return str(message.get("content") or "") if isinstance(message, dict) else ""


def generate_text(item: dict) -> str:
    return str(item.get("response") or "")
