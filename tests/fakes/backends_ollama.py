"""A fake Ollama server speaking Ollama's native API (the wire format of Ollama 0.6).

`GET /api/tags`, `POST /api/show`, `POST /api/pull` (streamed NDJSON progress; the model appears
in the tags once pulled), `DELETE /api/delete` (as `ollama rm`: the model is gone at once),
`POST /api/chat` and `POST /api/generate` (streamed NDJSON or one JSON),
`POST /api/embed`, `POST /api/embeddings` (legacy), `GET /api/version`, `GET /`.

Tools and structured output as Ollama has them: with `tools` and the user's turn last, the model
calls the first tool (`message.tool_calls[{function: {name, arguments: {…}}}]`, see
`tool_call_for`); after a `tool` message it answers naming the `tool_name` and echoing the
result; with `format` ("json" or a JSON schema) the answer is a JSON object (`structured_reply`).

    with FakeOllama(name="ollama-a", models=["llama3:8b", "nomic-embed-text"]) as ollama:
        httpx.get(f"{ollama.url}/api/tags")

Answers are deterministic: a chat echoes the last user message, naming this backend and the
model (see `reply_text`); embeddings come from the hashed words of the text.
"""

import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
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
    text_response,
    thinking_text,
    tool_call_for,
    tool_result_reply,
    wants_tool_call,
)

NDJSON = "application/x-ndjson"
MANIFEST_MISSING = "pull model manifest: file does not exist"


def ollama_name(name: str) -> str:
    """Ollama's full name of a model: a tag-less name means ':latest'."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def created_at() -> str:
    """Now, as Ollama writes it (RFC 3339 with nanoseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def model_details(model: FakeModel) -> dict:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.family,
        "families": [model.family],
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization_level,
    }


class FakeOllama(FakeHTTPServer):
    """A fake Ollama. `registry`: the models `/api/pull` can fetch (None: any name)."""

    server_header = "fake-ollama"
    version = "0.6.5"

    def __init__(
        self,
        *,
        name: str = "ollama",
        models: Iterable["str | FakeModel"] = ("llama3:8b", "nomic-embed-text"),
        registry: Iterable["str | FakeModel"] | None = None,
        pull_steps: int = 4,
        pull_delay_s: float = 0.0,
        embedding_dim: int = 32,
        api_key: str = "",
        legacy_show: bool = False,
        **controls: Any,
    ) -> None:
        super().__init__(name=name, **controls)
        self.pull_steps = pull_steps
        self.pull_delay_s = pull_delay_s
        self.embedding_dim = embedding_dim
        self.api_key = api_key
        # Ollama before 0.6.4 had no `capabilities` in /api/show.
        self.legacy_show = legacy_show
        self._models: dict[str, FakeModel] = {}
        for spec in models:
            self.add_model(spec)
        self._registry = None if registry is None else {ollama_name(as_model(s).name): as_model(s) for s in registry}

    # --- what it has --------------------------------------------------------------------

    def add_model(self, spec: "str | FakeModel") -> FakeModel:
        model = as_model(spec)
        model.name = ollama_name(model.name)
        with self._lock:
            self._models[model.name] = model
        return model

    def remove_model(self, name: str) -> None:
        with self._lock:
            self._models.pop(ollama_name(name), None)

    @property
    def model_names(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def _find(self, name: Any) -> FakeModel | None:
        if not isinstance(name, str) or not name:
            return None
        with self._lock:
            return self._models.get(ollama_name(name))

    # --- HTTP ---------------------------------------------------------------------------

    async def route(self, request: FakeRequest) -> FakeResponse:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "unauthorized")
        method, path = request.method, request.path
        if method in {"GET", "HEAD"} and path == "/":
            return text_response("Ollama is running")
        if method == "GET" and path == "/api/version":
            return json_response({"version": self.version})
        if method == "GET" and path == "/api/tags":
            return self._tags()
        if method == "DELETE" and path == "/api/delete":
            return self._delete(request.json)
        handlers = {
            "/api/show": self._show,
            "/api/pull": self._pull,
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/api/embed": self._embed,
            "/api/embeddings": self._embeddings_legacy,
        }
        if method == "POST" and path in handlers:
            body = request.json
            if not isinstance(body, dict):
                return self.error_response(400, "missing request body" if not request.body else "invalid JSON body")
            return await handlers[path](body)
        return text_response("404 page not found", 404)

    def _tags(self) -> FakeResponse:
        with self._lock:
            models = list(self._models.values())
        return json_response(
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": m.modified_at,
                        "size": m.size,
                        "digest": m.digest,
                        "details": model_details(m),
                    }
                    for m in models
                ]
            }
        )

    async def _show(self, body: dict) -> FakeResponse:
        name = body.get("model") or body.get("name")
        model = self._find(name)
        if model is None:
            return self.error_response(404, f"model '{name}' not found")
        arch = model.family
        answer = {
            "license": "fake license",
            "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.name}\n',
            "parameters": 'stop "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": model_details(model),
            "model_info": {
                "general.architecture": arch,
                "general.basename": model.name.split(":")[0],
                "general.parameter_count": model.size // 2,
                f"{arch}.context_length": model.context_length,
                f"{arch}.embedding_length": 4096 if model.can_chat else self.embedding_dim,
                f"{arch}.block_count": 32,
            },
            "modified_at": model.modified_at,
        }
        if not self.legacy_show:
            answer["capabilities"] = list(model.capabilities)
        return json_response(answer)

    def _delete(self, body: Any) -> FakeResponse:
        """`DELETE /api/delete {"model": …}`: 200 with an empty body, or Ollama's 404."""
        name = (body.get("model") or body.get("name")) if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return self.error_response(400, "model is required")
        if self._find(name) is None:
            return self.error_response(404, f"model '{name}' not found")
        self.remove_model(name)
        return text_response("")

    # --- pull ---------------------------------------------------------------------------

    def _pullable(self, name: str) -> FakeModel | None:
        if self._registry is None:
            return as_model(name)
        return self._registry.get(ollama_name(name))

    async def _pull(self, body: dict) -> FakeResponse:
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            return self.error_response(400, "model is required")
        source = self._pullable(name)
        progress = self._pull_progress(name, source)
        if body.get("stream", True):
            return FakeResponse(content_type=NDJSON, stream=self._ndjson(progress))
        last: dict = {}
        async for last in progress:
            if "error" in last:
                return self.error_response(500, last["error"])
        return json_response(last)

    async def _pull_progress(self, name: str, source: FakeModel | None) -> AsyncIterator[dict]:
        yield {"status": "pulling manifest"}
        if source is None:
            yield {"error": MANIFEST_MISSING}
            return
        layers = [
            (source.digest, source.size),
            (sha256_hex(f"{source.name}/template"), 1_400),
            (sha256_hex(f"{source.name}/params"), 96),
        ]
        for digest, total in layers:
            await self.pause(self.pull_delay_s)
            yield {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}", "total": total}
            for step in range(1, self.pull_steps + 1):
                await self.pause(self.pull_delay_s)
                completed = total * step // self.pull_steps
                yield {
                    "status": f"pulling {digest[:12]}",
                    "digest": f"sha256:{digest}",
                    "total": total,
                    "completed": completed,
                }
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        pulled = FakeModel(**{**source.__dict__, "name": ollama_name(name), "modified_at": created_at()})
        self.add_model(pulled)
        yield {"status": "success"}

    async def _ndjson(self, items: AsyncIterator[dict]) -> AsyncIterator[bytes]:
        async for item in items:
            yield json.dumps(item).encode() + b"\n"

    # --- chat, generate -----------------------------------------------------------------

    def _model_for_completion(self, body: dict) -> FakeModel | FakeResponse:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            return self.error_response(400, "model is required")
        model = self._find(name)
        if model is None:
            return self.error_response(404, f"model '{name}' not found")
        if not model.can_chat:
            return self.error_response(400, f'"{name}" does not support chat')
        return model

    def _prompt_of(self, body: dict) -> str:
        messages = body.get("messages")
        return last_user_text(messages) if isinstance(messages, list) else str(body.get("prompt") or "")

    def _max_tokens(self, body: dict) -> int | None:
        options = body.get("options") or {}
        value = options.get("num_predict") if isinstance(options, dict) else None
        return value if isinstance(value, int) and value >= 0 else None

    async def _chat(self, body: dict) -> FakeResponse:
        model = self._model_for_completion(body)
        if isinstance(model, FakeResponse):
            return model
        messages = body.get("messages") or []
        if not isinstance(messages, list):
            return self.error_response(400, "messages must be a list")
        refused = self._refused_tools(body, model, messages)
        if refused is not None:
            return refused
        if wants_tool_call(body):
            name, arguments = tool_call_for(body["tools"], last_user_text(messages))
            return self._tool_call(body, model, name, arguments, prompt_tokens(messages))
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            tool = last.get("tool_name") or "tool"
            text = tool_result_reply(
                backend=self.name, model=model.name, tool=tool, result=message_text(last["content"])
            )
        else:
            text = self.reply(model=model.name, prompt=last_user_text(messages))
        if body.get("format"):
            text = structured_reply(body["format"], text)
        return self._answer(body, model, text, prompt_tokens(messages), empty=not messages, kind="chat")

    def _refused_tools(self, body: dict, model: FakeModel, messages: list) -> FakeResponse | None:
        """Ollama's 400s: tools for a model without the capability, a tool call whose arguments are
        not an object (Go cannot decode them into api.ToolCallFunctionArguments)."""
        if body.get("tools") and "tools" not in model.capabilities:
            return self.error_response(400, f"registry.ollama.ai/library/{model.name} does not support tools")
        for message in messages:
            for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
                arguments = (call.get("function") or {}).get("arguments")
                if not isinstance(arguments, dict):
                    return self.error_response(
                        400,
                        f"json: cannot unmarshal {type(arguments).__name__} into Go struct field "
                        "ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments",
                    )
        return None

    def _tool_call(self, body: dict, model: FakeModel, name: str, arguments: dict, prompt_count: int) -> FakeResponse:
        """The model calls a tool, in Ollama's wire format: `message.tool_calls` with the arguments
        as an object; streamed, the calls come whole in one line before the done line, whose
        `done_reason` is "stop" (Ollama has no "tool_calls" reason)."""
        message = {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": name, "arguments": arguments}}],
        }
        stats = {
            "done_reason": "stop",
            "done": True,
            "total_duration": 2_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": prompt_count,
            "prompt_eval_duration": 200_000,
            "eval_count": 12,
            "eval_duration": 800_000,
        }
        head = {"model": model.name, "created_at": created_at()}
        if not body.get("stream", True):
            return json_response({**head, "message": message, **stats})

        async def lines() -> AsyncIterator[bytes]:
            yield json.dumps({**head, "message": message, "done": False}).encode() + b"\n"
            await self.pause()
            yield json.dumps({**head, "message": {"role": "assistant", "content": ""}, **stats}).encode() + b"\n"

        return FakeResponse(content_type=NDJSON, stream=lines())

    async def _generate(self, body: dict) -> FakeResponse:
        model = self._model_for_completion(body)
        if isinstance(model, FakeResponse):
            return model
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            return self.error_response(400, "prompt must be a string")
        text = self.reply(model=model.name, prompt=prompt)
        return self._answer(body, model, text, count_tokens(prompt), empty=not prompt, kind="generate")

    def _answer(
        self, body: dict, model: FakeModel, text: str, prompt_count: int, *, empty: bool, kind: str
    ) -> FakeResponse:
        # `think: true`: a thinking model thinks first (`message.thinking` / `thinking` pieces, counted
        # in eval_count); any other model is a 400, as Ollama refuses it.
        thoughts: list[str] = []
        if body.get("think") is True:
            if not model.can_think:
                return self.error_response(400, f'"{model.name}" does not support thinking')
            if not empty:
                thoughts, _ = reply_pieces(thinking_text(model=model.name, prompt=self._prompt_of(body)))
        if empty:
            # Ollama answers an empty conversation by loading the model, with no text.
            pieces, stats = [], {"done_reason": "load", "done": True}
        else:
            pieces, cut = reply_pieces(text, self._max_tokens(body))
            stats = {
                "done_reason": "length" if cut else "stop",
                "done": True,
                "total_duration": 1_000_000 * (len(pieces) + 1),
                "load_duration": 100_000,
                "prompt_eval_count": prompt_count,
                "prompt_eval_duration": 200_000,
                "eval_count": len(thoughts) + len(pieces),
                "eval_duration": 800_000 * len(pieces),
            }
            if kind == "generate":
                stats["context"] = list(range(1, prompt_count + len(pieces) + 1))

        def piece(content: str, thinking: str = "") -> dict:
            if kind == "chat":
                message = {"role": "assistant", "content": content}
                if thinking:
                    message["thinking"] = thinking
                return {"model": model.name, "created_at": created_at(), "message": message}
            line = {"model": model.name, "created_at": created_at(), "response": content}
            if thinking:
                line["thinking"] = thinking
            return line

        if not body.get("stream", True):
            return json_response({**piece("".join(pieces), "".join(thoughts)), **stats})

        async def chunks() -> AsyncIterator[bytes]:
            for thought in thoughts:
                yield json.dumps({**piece("", thought), "done": False}).encode() + b"\n"
                await self.pause()
            for index, content in enumerate(pieces):
                if index:
                    await self.pause()
                yield json.dumps({**piece(content), "done": False}).encode() + b"\n"
            await self.pause()
            yield json.dumps({**piece(""), **stats}).encode() + b"\n"

        return FakeResponse(content_type=NDJSON, stream=chunks())

    # --- embeddings ---------------------------------------------------------------------

    def _model_for_embedding(self, body: dict) -> FakeModel | FakeResponse:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            return self.error_response(400, "model is required")
        model = self._find(name)
        if model is None:
            return self.error_response(404, f"model '{name}' not found")
        if not model.can_embed:
            return self.error_response(400, f'"{name}" does not support embeddings')
        return model

    async def _embed(self, body: dict) -> FakeResponse:
        model = self._model_for_embedding(body)
        if isinstance(model, FakeResponse):
            return model
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            return self.error_response(400, "invalid input type")
        return json_response(
            {
                "model": model.name,
                "embeddings": [embedding_for(text, self.embedding_dim) for text in inputs],
                "total_duration": 1_000_000,
                "load_duration": 100_000,
                "prompt_eval_count": sum(count_tokens(text) for text in inputs),
            }
        )

    async def _embeddings_legacy(self, body: dict) -> FakeResponse:
        model = self._model_for_embedding(body)
        if isinstance(model, FakeResponse):
            return model
        return json_response({"embedding": embedding_for(str(body.get("prompt") or ""), self.embedding_dim)})


if __name__ == "__main__":
    serve_from_command_line(FakeOllama)
