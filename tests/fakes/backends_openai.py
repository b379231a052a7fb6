"""A fake OpenAI-compatible server: stands for OpenAI, vLLM, llama.cpp server and LM Studio.

`GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions` (one JSON, or SSE chunks
with `choices[0].delta` ending in `data: [DONE]`, `stream_options.include_usage` honoured),
`POST /v1/embeddings` (floats, or base64 as the `openai` package asks by default; `dimensions`
as OpenAI takes it: for `text-embedding-3-*` models only, up to the model's width). With
`api_key` set, a missing or wrong bearer key is a 401. Errors use OpenAI's body
`{"error": {"message", "type", "param", "code"}}`.

Tools and structured output as OpenAI has them: with `tools` and the user's turn last, the model
calls the first tool (`tool_calls` with JSON-text arguments, `finish_reason: "tool_calls"`;
streamed as `delta.tool_calls` pieces); a `tool` message answering no earlier call is a 400; after
a tool result it answers naming the tool and echoing the result; with `response_format`
json_object / json_schema the answer is a JSON object.

Reasoning: a model with the "thinking" capability thinks first when asked — `think: true` (the
model runtime's and LlamaFarm's field, with `thinking_budget` cutting the thinking), or, for vLLM,
unless `chat_template_kwargs.enable_thinking` is false. The thinking comes in
`message.reasoning_content` / `delta.reasoning_content` (vLLM flavor: `reasoning`, its newer name),
counted in `usage.completion_tokens_details.reasoning_tokens`.

`flavor="vllm"` answers like vLLM instead: `/v1/models` items carry `max_model_len`, `root`,
`parent`; `GET /health` and `GET /version` exist; errors are vLLM's `{"object": "error",
"message", "type", "param", "code"}` and a bad key is `{"error": "Unauthorized"}`.
"""

import base64
import itertools
import json
import struct
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from tests.fakes.backends_common import (
    FakeHTTPServer,
    FakeModel,
    FakeRequest,
    FakeResponse,
    as_model,
    count_tokens,
    embedding_for,
    json_response,
    last_user_text,
    message_text,
    prompt_tokens,
    reply_pieces,
    serve_from_command_line,
    sha256_hex,
    structured_reply,
    thinking_text,
    tool_call_for,
    tool_result_reply,
    wants_tool_call,
)

CREATED = 1_715_000_000
FLAVORS = ("openai", "vllm")
VLLM_ERROR_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError", 500: "InternalServerError"}


def tool_call_names(messages: list) -> dict[str, str] | None:
    """The function name of every tool call in the conversation by its id; None when a tool
    message answers no earlier call (OpenAI refuses such a conversation)."""
    names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or []:
            names[call.get("id")] = (call.get("function") or {}).get("name", "")
        if message.get("role") == "tool" and message.get("tool_call_id") not in names:
            return None
    return names


class FakeOpenAI(FakeHTTPServer):
    """A fake OpenAI-compatible server (`flavor` "openai" or "vllm")."""

    def __init__(
        self,
        *,
        name: str = "openai",
        models: Iterable["str | FakeModel"] = ("gpt-4o-mini", "text-embedding-3-small"),
        api_key: str = "",
        flavor: str = "openai",
        embedding_dim: int = 32,
        done_marker: bool = True,
        **controls: Any,
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {FLAVORS}")
        super().__init__(name=name, **controls)
        self.server_header = f"fake-{flavor}"
        self.flavor = flavor
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        # Some servers (older llama.cpp) end a stream after the finish_reason chunk, with no `[DONE]`.
        self.done_marker = done_marker
        self._models: dict[str, FakeModel] = {}
        self._ids = itertools.count(1)
        for spec in models:
            self.add_model(spec)

    def add_model(self, spec: "str | FakeModel") -> FakeModel:
        model = as_model(spec)
        with self._lock:
            self._models[model.name] = model
        return model

    def remove_model(self, name: str) -> None:
        with self._lock:
            self._models.pop(name, None)

    @property
    def model_names(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def _find(self, name: Any) -> FakeModel | None:
        with self._lock:
            return self._models.get(name) if isinstance(name, str) else None

    # --- errors -------------------------------------------------------------------------

    def error_response(self, status: int, message: str, *, code: str | None = None) -> FakeResponse:
        if self.flavor == "vllm":
            error_type = VLLM_ERROR_TYPES.get(status, "BadRequestError" if status < 500 else "InternalServerError")
            return json_response(
                {"object": "error", "message": message, "type": error_type, "param": None, "code": status}, status
            )
        error_type = "server_error" if status >= 500 else "invalid_request_error"
        return json_response({"error": {"message": message, "type": error_type, "param": None, "code": code}}, status)

    def _unauthorized(self, request: FakeRequest) -> FakeResponse | None:
        if not self.api_key:
            return None
        given = request.headers.get("authorization", "")
        if given == f"Bearer {self.api_key}":
            return None
        if self.flavor == "vllm":
            return json_response({"error": "Unauthorized"}, 401)
        if not given:
            message = "You didn't provide an API key. You need to provide your API key in an Authorization header."
            return self.error_response(401, message)
        shown = given.removeprefix("Bearer ")
        message = f"Incorrect API key provided: {shown[:3]}***{shown[-4:]}."
        return self.error_response(401, message, code="invalid_api_key")

    # --- HTTP ---------------------------------------------------------------------------

    async def route(self, request: FakeRequest) -> FakeResponse:
        method, path = request.method, request.path
        if self.flavor == "vllm" and method == "GET" and path == "/health":
            return FakeResponse(content_type="application/json")
        if self.flavor == "vllm" and method == "GET" and path == "/version":
            return json_response({"version": "0.8.5"})
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        if method == "GET" and path == "/v1/models":
            with self._lock:
                models = list(self._models.values())
            return json_response({"object": "list", "data": [self._model_object(m) for m in models]})
        if method == "GET" and path.startswith("/v1/models/"):
            model = self._find(path.removeprefix("/v1/models/"))
            if model is None:
                return self._model_not_found(path.removeprefix("/v1/models/"))
            return json_response(self._model_object(model))
        if method == "POST" and path in {"/v1/chat/completions", "/v1/embeddings"}:
            body = request.json
            if not isinstance(body, dict):
                return self.error_response(400, "We could not parse the JSON body of your request.")
            if path == "/v1/chat/completions":
                return await self._chat(body)
            return await self._embeddings(body)
        return self.error_response(404, f"Invalid URL ({method} {path})")

    def _model_object(self, model: FakeModel) -> dict:
        item = {"id": model.name, "object": "model", "created": CREATED, "owned_by": self.flavor}
        if self.flavor == "vllm":
            item.update(root=model.name, parent=None, max_model_len=model.context_length)
        return item

    def _model_not_found(self, name: str) -> FakeResponse:
        message = f"The model `{name}` does not exist or you do not have access to it."
        return self.error_response(404, message, code="model_not_found")

    def _model_for(self, body: dict) -> FakeModel | FakeResponse:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            return self.error_response(400, "you must provide a model parameter")
        model = self._find(name)
        return self._model_not_found(name) if model is None else model

    # --- chat ---------------------------------------------------------------------------

    async def _chat(self, body: dict) -> FakeResponse:
        model = self._model_for(body)
        if isinstance(model, FakeResponse):
            return model
        if not model.can_chat:
            return self.error_response(
                404, "This is not a chat model and thus not supported in the v1/chat/completions endpoint."
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error_response(400, "'messages' is a required property and must be a non-empty array")
        called = tool_call_names(messages)
        if called is None:
            return self.error_response(
                400,
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'.",
            )
        if wants_tool_call(body):
            return self._tool_call(body, model, messages)
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        if last.get("role") == "tool":
            tool = called.get(last.get("tool_call_id"), "tool")
            text = tool_result_reply(
                backend=self.name, model=model.name, tool=tool, result=message_text(last.get("content"))
            )
        else:
            text = self.reply(model=model.name, prompt=last_user_text(messages))
        response_format = body.get("response_format") or {}
        if response_format.get("type") in {"json_object", "json_schema"}:
            text = structured_reply((response_format.get("json_schema") or {}).get("schema"), text)
        pieces, cut = reply_pieces(text, max_tokens if isinstance(max_tokens, int) else None)
        finish_reason = "length" if cut else "stop"
        thoughts = self._thoughts(body, model, last_user_text(messages))
        reasoning_field = "reasoning" if self.flavor == "vllm" else "reasoning_content"
        usage = {
            "prompt_tokens": prompt_tokens(messages),
            "completion_tokens": len(thoughts) + len(pieces),
            "total_tokens": prompt_tokens(messages) + len(thoughts) + len(pieces),
        }
        if thoughts:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(thoughts)}
        completion_id = f"chatcmpl-{sha256_hex(f'{self.name}/{next(self._ids)}')[:24]}"
        created = int(time.time())
        if not body.get("stream"):
            return json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model.name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "".join(pieces),
                                "refusal": None,
                                **({reasoning_field: "".join(thoughts)} if thoughts else {}),
                            },
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                    "system_fingerprint": "fp_fake",
                }
            )
        stream_options = body.get("stream_options") or {}
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model.name,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                data["usage"] = None
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        async def events() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            for thought in thoughts:
                await self.pause()
                yield chunk({reasoning_field: thought})
            for content in pieces:
                await self.pause()
                yield chunk({"content": content})
            yield chunk({}, finish_reason)
            if include_usage:
                last = {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model.name,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
                yield b"data: " + json.dumps(last).encode() + b"\n\n"
            if self.done_marker:
                yield b"data: [DONE]\n\n"

        return FakeResponse(
            content_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"}, stream=events()
        )

    def _thoughts(self, body: dict, model: FakeModel, prompt: str) -> list[str]:
        """The thinking pieces of an answer: none unless the model thinks and was asked to."""
        if not model.can_think:
            return []
        if self.flavor == "vllm":
            kwargs = body.get("chat_template_kwargs")
            wanted = not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)
        else:
            wanted = body.get("think") is True
        if not wanted:
            return []
        budget = body.get("thinking_budget") if self.flavor == "openai" else None
        thoughts, _ = reply_pieces(
            thinking_text(model=model.name, prompt=prompt), budget if isinstance(budget, int) else None
        )
        return thoughts

    def _tool_call(self, body: dict, model: FakeModel, messages: list) -> FakeResponse:
        """The model calls a tool, as OpenAI answers it: `message.tool_calls` with the arguments as
        JSON text and `finish_reason: "tool_calls"`; streamed, the first delta carries the call's
        id, name and empty arguments, the next ones the arguments' text in pieces."""
        name, arguments = tool_call_for(body["tools"], last_user_text(messages))
        call_id = f"call_{sha256_hex(f'{self.name}/{next(self._ids)}')[:24]}"
        arguments_text = json.dumps(arguments)
        completion_id, created = f"chatcmpl-{call_id[5:]}", int(time.time())
        usage = {"prompt_tokens": prompt_tokens(messages), "completion_tokens": 12, "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": completion_id, "created": created, "model": model.name, "system_fingerprint": "fp_fake"}
        if not body.get("stream"):
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments_text}}
            message = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}
            return json_response({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        stream_options = body.get("stream_options") or {}
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))

        def event(delta: dict | None, finish: str | None = None, **extra: Any) -> bytes:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return (
                b"data: "
                + json.dumps({**head, "object": "chat.completion.chunk", "choices": choices, **extra}).encode()
                + b"\n\n"
            )

        async def events() -> AsyncIterator[bytes]:
            first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            yield event({"role": "assistant", "content": None, "tool_calls": [first]})
            for start in range(0, len(arguments_text), 8):
                await self.pause()
                yield event(
                    {"tool_calls": [{"index": 0, "function": {"arguments": arguments_text[start : start + 8]}}]}
                )
            yield event({}, "tool_calls")
            if include_usage:
                yield event(None, usage=usage)
            if self.done_marker:
                yield b"data: [DONE]\n\n"

        return FakeResponse(
            content_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"}, stream=events()
        )

    # --- embeddings ---------------------------------------------------------------------

    async def _embeddings(self, body: dict) -> FakeResponse:
        model = self._model_for(body)
        if isinstance(model, FakeResponse):
            return model
        if not model.can_embed:
            return self.error_response(400, f"The model `{model.name}` does not support embeddings.")
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not inputs:
            return self.error_response(400, "'input' must be a non-empty string or array")
        texts = [text if isinstance(text, str) else json.dumps(text) for text in inputs]
        encoding = body.get("encoding_format") or "float"
        if encoding not in {"float", "base64"}:
            return self.error_response(400, f"invalid encoding_format {encoding!r}")
        dimensions = body.get("dimensions", self.embedding_dim)
        if dimensions != self.embedding_dim and not model.name.startswith("text-embedding-3"):
            return self.error_response(400, "This model does not support specifying dimensions.")
        if not isinstance(dimensions, int) or not 1 <= dimensions <= self.embedding_dim:
            return self.error_response(400, f"dimensions must be an integer from 1 to {self.embedding_dim}")
        data = []
        for index, text in enumerate(texts):
            vector: Any = embedding_for(text, dimensions)
            if encoding == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(count_tokens(text) for text in texts)
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": model.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


if __name__ == "__main__":
    serve_from_command_line(FakeOpenAI)
