"""Ollama through its native API: /api/tags + /api/show, /api/chat, /api/generate, /api/embed, /api/pull.

Streams are NDJSON (one JSON object a line); an answer is complete at the line with
`"done": true`, a pull at `{"status": "success"}`. `think` goes at the top level of a request and
the thinking comes back in `message.thinking` (/api/chat) or `thinking` (/api/generate). Ollama
reports failures inside a stream as `{"error": "..."}` lines.
"""

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

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

# /api/show is asked once per model; a few at a time keeps a large Ollama responsive.
SHOW_CONCURRENCY = 8
# Options of OpenAI's API that have another name in Ollama's `options`.
OPTION_NAMES = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict"}
# Options that Ollama takes at the top level of the request rather than in `options`.
TOP_LEVEL_OPTIONS = frozenset({"format", "keep_alive", "think"})
# Request fields with no meaning to Ollama: dropped rather than sent as unknown options (it has
# `think` but no thinking budget).
OPENAI_ONLY_OPTIONS = frozenset(
    {
        "thinking_budget",
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
# OpenAI roles that Ollama's chat templates know under another name.
ROLES = {"developer": "system", "function": "tool"}
# What a failed pull says when the name is wrong (the caller's mistake, not the backend's), and its status.
REFUSED_PULL_MARKERS = (("file does not exist", 404), ("not found", 404), ("invalid model name", 400))


def ollama_options(options: dict | None) -> tuple[dict, dict]:
    """(top-level fields, `options`) of an Ollama request from OpenAI-style options."""
    options = options or {}
    top: dict = {}
    native: dict = {}
    for key, value in options.items():
        if value is None or key in OPENAI_ONLY_OPTIONS:
            continue
        if key == "tools":
            tools = offered_tools(value, options.get("tool_choice"))
            if tools:
                top["tools"] = tools
        elif key in TOP_LEVEL_OPTIONS:
            top[key] = value
        elif key == "response_format":
            output_format = ollama_format(value)
            if output_format is not None:
                top["format"] = output_format
        elif key == "stop":
            native["stop"] = [value] if isinstance(value, str) else list(value)
        else:
            native[OPTION_NAMES.get(key, key)] = value
    return top, native


def offered_tools(tools: list[dict], tool_choice: Any) -> list[dict]:
    """The tools to offer Ollama, which has no `tool_choice`: none for "none", only the named
    one for `{"type": "function", "function": {"name"}}`, all of them otherwise ("auto", and
    "required", which Ollama cannot enforce)."""
    if tool_choice == "none":
        return []
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or {}).get("name")
        return [tool for tool in tools if (tool.get("function") or {}).get("name") == wanted]
    return list(tools)


def ollama_format(response_format: Any) -> str | dict | None:
    """Ollama's `format` for OpenAI's `response_format`: "json" for `json_object`, the schema
    itself for `json_schema`, nothing for `text`."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or "json"
    return None


def ollama_messages(messages: list[dict]) -> list[dict]:
    """OpenAI messages as Ollama's /api/chat takes them.

    Content parts are flattened to text, with data-URL images in `images`; `developer` is
    Ollama's `system`; an assistant's `tool_calls` carry their arguments as an object, not JSON
    text; a tool result names its tool in `tool_name` (found from the `tool_call_id` of the
    assistant message that asked for it) and keeps `tool_call_id` for Ollama versions that read it.
    The deprecated `function_call` / `function` messages are the same, with one call.
    """
    tool_names: dict[str, str] = {}
    converted = []
    for message in messages:
        role = message.get("role")
        text, images = message_text_and_images(message.get("content"))
        native: dict = {"role": ROLES.get(role, role), "content": text}
        images = [*(message.get("images") or []), *images]
        if images:
            native["images"] = images
        calls = message.get("tool_calls") or []
        if isinstance(message.get("function_call"), dict):
            calls = [*calls, {"type": "function", "function": message["function_call"]}]
        if calls:
            native["tool_calls"] = [ollama_tool_call(call) for call in calls]
            tool_names.update(
                (call["id"], native_call["function"]["name"])
                for call, native_call in zip(calls, native["tool_calls"], strict=True)
                if call.get("id")
            )
        if role == "tool" and message.get("tool_call_id"):
            call_id = message["tool_call_id"]
            if call_id in tool_names:
                native["tool_name"] = tool_names[call_id]
            native["tool_call_id"] = call_id
        elif role == "function" and message.get("name"):
            native["tool_name"] = message["name"]
        converted.append(native)
    return converted


def message_text_and_images(content: Any) -> tuple[str, list[str]]:
    """The text of a message's content (a string, content parts or null) and its images, base64.

    Ollama takes images inline only: a `data:` URL becomes one of its `images`; a remote URL, or a
    part Ollama has no place for (audio, files), is refused (400) rather than silently dropped.
    """
    if not isinstance(content, list):
        return ("" if content is None else str(content)), []
    texts, images = [], []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in {"text", "refusal"}:
            texts.append(str(part.get(kind, "")))
        elif kind == "image_url":
            image = part.get("image_url")
            images.append(inline_image(image.get("url", "") if isinstance(image, dict) else str(image or "")))
        else:
            raise ProviderRequestError(f"Ollama takes text and image_url content parts only, not {kind!r}", status=400)
    return "\n".join(texts), images


def inline_image(url: str) -> str:
    """The base64 data of an image given as a `data:` URL (base64 or percent-encoded), as Ollama's
    `images` take it; a remote URL is refused: Ollama does not fetch images."""
    if not url.startswith("data:"):
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise ProviderRequestError(
            f"Ollama needs inline images: send the image as a data: URL (data:image/png;base64,...), not {shown!r}",
            status=400,
        )
    header, separator, payload = url[len("data:") :].partition(",")
    media_type = header.split(";")[0] or "text/plain"
    if not separator or not media_type.startswith("image/"):
        raise ProviderRequestError(f"not an image data: URL (media type {media_type!r})", status=400)
    if ";base64" not in header:
        return base64.b64encode(unquote_to_bytes(payload)).decode()
    try:
        base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise ProviderRequestError("the image data: URL is not valid base64", status=400) from None
    return payload


def ollama_tool_call(call: dict) -> dict:
    """An OpenAI tool call as Ollama writes one: arguments as a JSON object, not text."""
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            arguments = None
    if not isinstance(arguments, dict):
        raise ProviderRequestError(
            f"the arguments of tool call {function.get('name')!r} are not a JSON object: Ollama needs one", status=400
        )
    native: dict = {"function": {"name": function.get("name"), "arguments": arguments}}
    if call.get("id"):
        native["id"] = call["id"]
    return native


def openai_tool_calls(message: Any, *, first_index: int = 0, streamed: bool = False) -> tuple[dict, ...]:
    """Ollama's `message.tool_calls` in OpenAI's shape: arguments as JSON text, an id for each.

    `streamed`: as `delta.tool_calls` items, numbered from `first_index` (Ollama sends each call
    whole, so one delta carries all of it).
    """
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    converted = []
    for offset, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        openai_call = {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": str(function.get("name") or ""),
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
            },
        }
        converted.append({"index": first_index + offset, **openai_call} if streamed else openai_call)
    return tuple(converted)


def finish_reason(item: dict, *, tool_calls: bool = False) -> str:
    """OpenAI's finish reason of a done line; Ollama says "stop" after tool calls too."""
    if item.get("done_reason") == "length":
        return "length"
    return "tool_calls" if tool_calls else "stop"


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
        tool_calls = openai_tool_calls(data.get("message"))
        thinking = thinking_text(data)
        return ChatResult(
            text=text_of(data),
            model=data.get("model") or model,
            finish_reason=finish_reason(data, tool_calls=bool(tool_calls)),
            prompt_tokens=as_int(data.get("prompt_eval_count")),
            completion_tokens=as_int(data.get("eval_count")),
            tool_calls=tool_calls,
            # Ollama counts thinking within `eval_count`, not apart.
            thinking=Thinking(content=thinking) if thinking else None,
        )

    async def _stream(self, path: str, body: dict, text_of: Any) -> AsyncIterator[ChatChunk]:
        calls_sent = 0
        async with self.http.stream_lines("POST", path, body) as lines:
            async for line in lines:
                item = self.http.parse_line(line, path)
                if "error" in item:
                    raise self.http.unavailable(f"{path}: {item['error']}")
                text, thinking = text_of(item), thinking_text(item)
                # Ollama streams each tool call whole, in a line of its own before the done line.
                tool_calls = openai_tool_calls(item.get("message"), first_index=calls_sent, streamed=True)
                calls_sent += len(tool_calls)
                if item.get("done"):
                    yield ChatChunk(
                        text=text,
                        done=True,
                        finish_reason=finish_reason(item, tool_calls=calls_sent > 0),
                        prompt_tokens=as_int(item.get("prompt_eval_count")),
                        completion_tokens=as_int(item.get("eval_count")),
                        tool_calls=tool_calls,
                        thinking=thinking,
                    )
                    return
                if text or tool_calls or thinking:
                    yield ChatChunk(text=text, tool_calls=tool_calls, thinking=thinking)
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

    async def embed(
        self, *, model: str, inputs: list[str] | list[list[int]], dimensions: int | None = None
    ) -> Embeddings:
        if not inputs:
            return Embeddings(vectors=[])
        if not all(isinstance(text, str) for text in inputs):
            raise ProviderRequestError("Ollama embeds text only, not token ids: send the input as text", status=400)
        body: dict[str, Any] = {"model": model, "input": list(inputs)}
        if dimensions is not None:
            body["dimensions"] = dimensions  # newer Ollama honours it; an older one ignores it
        data = await self.http.post_json("/api/embed", body)
        vectors = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(vectors, list) or len(vectors) != len(inputs):
            raise self.http.bad_body("/api/embed", f"expected {len(inputs)} embeddings")
        try:
            floats = [[float(value) for value in vector] for vector in vectors]
        except (TypeError, ValueError) as exc:
            raise self.http.bad_body("/api/embed", "embeddings are not lists of numbers") from exc
        return Embeddings(vectors=floats, prompt_tokens=data.get("prompt_eval_count"))

    async def rerank(
        self, *, model: str, query: str, documents: list[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """Ollama has no rerank API."""
        raise ProviderRequestError("ollama backends cannot rerank: use a runtime with /v1/rerank", status=400)

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


def thinking_text(item: dict) -> str:
    """The thinking of an answer or a streamed line (`think: true`): `message.thinking` from
    /api/chat, top-level `thinking` from /api/generate; "" when there is none."""
    message = item.get("message")
    value = message.get("thinking") if isinstance(message, dict) else item.get("thinking")
    return value if isinstance(value, str) else ""
