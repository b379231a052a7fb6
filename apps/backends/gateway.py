"""The OpenAI-compatible gateway and the runtime spec's `/execute` and `/embed`, on routing.

Answers are shaped as OpenAI's API shapes them, so the official clients work unchanged.
"""

import base64
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from apps.backends import routing
from apps.backends.providers.base import ChatChunk, ChatResult, ProviderUnavailable
from apps.core.errors import Invalid

# Request fields passed through to the backend as options; each adapter translates them
# (Ollama: `tools`, `format` from `response_format`, no `tool_choice`), an OpenAI-compatible one as is.
# `think` / `thinking_budget` (the projects spec's) reach the backends whose protocol has them.
OPTION_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "think",
    "thinking_budget",
)


def chat_options(request: dict[str, Any]) -> dict[str, Any]:
    """The backend options of a validated chat-completions request."""
    options = {name: request[name] for name in OPTION_FIELDS if request.get(name) is not None}
    if request.get("max_completion_tokens") is not None:
        options.setdefault("max_tokens", request["max_completion_tokens"])
    return options


def _usage(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int] | None:
    if prompt_tokens is None and completion_tokens is None:
        return None
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def chat_completion(*, model: str, messages: list[dict], options: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/chat/completions without streaming."""
    result, route = await routing.route_call(
        model, lambda provider, name: provider.chat(model=name, messages=messages, options=options)
    )
    return completion_body(result, model=model, backend=route.name)


def completion_body(result: ChatResult, *, model: str, backend: str) -> dict[str, Any]:
    """OpenAI's `chat.completion` object for a whole answer `backend` gave for `model` (also the
    projects' chat, which adds its own fields)."""
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model or model,
        "choices": [
            {
                "index": 0,
                "message": assistant_message(result),
                "finish_reason": result.finish_reason or "stop",
            }
        ],
        "system_fingerprint": f"modelyard:{backend}",
    }
    usage = _usage(result.prompt_tokens, result.completion_tokens)
    if usage:
        body["usage"] = usage
    if result.thinking is not None:  # the projects spec's shape, beside the message's reasoning_content
        body["thinking"] = {"content": result.thinking.content, "tokens": result.thinking.tokens}
    return body


def assistant_message(result: ChatResult) -> dict[str, Any]:
    """OpenAI's `choices[0].message`: content is null when the model only called tools. A model's
    thinking is `reasoning_content` (DeepSeek's name, which most OpenAI-compatible clients read)."""
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.tool_calls:
        message.update(content=result.text or None, tool_calls=list(result.tool_calls))
    if result.thinking is not None:
        message["reasoning_content"] = result.thinking.content
    return message


async def chat_completion_stream(
    *, model: str, messages: list[dict], options: dict[str, Any], include_usage: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """POST /v1/chat/completions with `stream: true`: the chunks, which the view sends as `data:`
    lines ending in `data: [DONE]` (`core.sse.sse_data_response`, with `stream_error_chunk`).

    The backend is chosen (with failover) before the first byte is sent, so a request no backend
    can serve still gets a plain JSON error; a stream that breaks later ends with an error chunk.
    """
    stream, route = await routing.route_chat_stream(model, messages, options)
    return completion_chunks(stream, model=model, backend=route.name, include_usage=include_usage)


def completion_chunks(
    stream: AsyncIterator[ChatChunk], *, model: str, backend: str, include_usage: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """OpenAI's `chat.completion.chunk` objects of a started stream `backend` is giving for `model`
    (also the projects' chat): a role chunk, thinking (`delta.reasoning_content`), content, tool-call
    and finish chunks, the usage chunk when asked for. A stream that breaks ends with
    `stream_error_chunk` (the caller adds `[DONE]`).
    """
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk_of(delta: dict, finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": f"modelyard:{backend}",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        yield chunk_of({"role": "assistant", "content": ""})
        usage = None
        try:
            async for chunk in stream:
                if chunk.thinking:
                    yield chunk_of({"reasoning_content": chunk.thinking})
                if chunk.text:
                    yield chunk_of({"content": chunk.text})
                if chunk.tool_calls:
                    yield chunk_of({"tool_calls": list(chunk.tool_calls)})
                if chunk.done:
                    usage = _usage(chunk.prompt_tokens, chunk.completion_tokens)
                    yield chunk_of({}, chunk.finish_reason or "stop")
        except ProviderUnavailable as error:
            yield stream_error_chunk(f"backend {backend} failed mid-stream: {error.message}", code="backend_error")
        else:
            if include_usage:
                yield {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
        finally:
            if hasattr(stream, "aclose"):
                await stream.aclose()

    return chunks()


def stream_error_chunk(message: str, *, code: str = "server_error") -> dict[str, Any]:
    """The chunk that ends a chat stream that failed after its headers were sent (then `[DONE]`):
    OpenAI's error object, whose `code` is a string."""
    return {"error": {"message": message, "type": "server_error", "param": None, "code": code}}


async def embeddings(
    *, model: str, inputs: list[str] | list[list[int]], encoding_format: str = "float", dimensions: int | None = None
) -> dict[str, Any]:
    """POST /v1/embeddings: `inputs` are texts, or token-id lists.

    `dimensions` is passed to the backend; one that answers vectors of another length cannot honour
    it (an Ollama that predates it ignores it), and that is a 400 rather than a silent mismatch.
    """
    embedded, route = await routing.route_call(
        model, lambda provider, name: provider.embed(model=name, inputs=inputs, dimensions=dimensions)
    )
    given = {len(vector) for vector in embedded.vectors}
    if dimensions is not None and given != {dimensions}:
        raise Invalid(
            f"'dimensions' is not supported for model {model!r} on backend {route.name}: asked for {dimensions}, "
            f"it gave {', '.join(map(str, sorted(given)))}; leave 'dimensions' out",
            param="dimensions",
        )
    prompt_tokens = embedded.prompt_tokens or 0
    answer: dict[str, Any] = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)}
            for index, vector in enumerate(embedded.vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
    if embedded.warnings:  # what the backend warns about (inputs it truncated) reaches the client
        answer["warnings"] = list(embedded.warnings)
    return answer


def _encode(vector: list[float], encoding_format: str) -> list[float] | str:
    # The openai client asks for base64 (little-endian float32) unless told otherwise.
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def execute_prompt(*, prompt: str, model: str, backend_type: str = "") -> dict[str, Any]:
    """POST /execute: one prompt on a model; the text plus model, backend and timing."""
    started = time.monotonic()
    result, route = await routing.route_call(
        model,
        lambda provider, name: provider.generate(model=name, prompt=prompt, options={}),
        backend_type=backend_type,
    )
    return _execution(result, route, model, started)


def _execution(result: ChatResult, route: routing.Route, model: str, started: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "response": result.text,
        "model": result.model or model,
        "backend": route.name,
        "backendType": route.type,
        "durationMs": round((time.monotonic() - started) * 1000, 1),
    }


async def embed_text(*, text: str, model: str) -> list[float]:
    """POST /embed: the vector of one text."""
    embedded, _route = await routing.route_call(model, lambda provider, name: provider.embed(model=name, inputs=[text]))
    return embedded.vectors[0]
