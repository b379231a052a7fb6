"""The provider interface: one adapter per kind of inference backend (ollama, openai, vllm…).

Adapters are async (httpx.AsyncClient): the gateway serves many concurrent requests from one
event loop. Workers call them through `asyncio.run`. Every call has a timeout; a failure that
another backend might not have (connection refused, timeout, 5xx) is a `ProviderUnavailable`,
anything the caller did wrong (unknown model, bad request, 4xx) is a `ProviderRequestError`.

Requests and answers are in OpenAI's chat shapes whatever the backend speaks: messages as OpenAI
writes them (tool calls and tool results included), options named as OpenAI names them (`tools`,
`tool_choice`, `response_format`…), and tool calls handed back in OpenAI's shape. Each adapter
translates to and from its backend's own wire format.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class ProviderError(Exception):
    """A backend call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ProviderUnavailable(ProviderError):
    """The backend could not answer (connection error, timeout, 5xx): try another one."""


class ProviderRequestError(ProviderError):
    """The backend refused the request (4xx): another backend would too."""


class ProviderModelNotFound(ProviderRequestError):
    """The backend does not have the model (any more): another backend that has it may answer."""


@dataclass(frozen=True)
class PulledModel:
    """A model a backend has, with what the backend tells about it."""

    name: str
    can_chat: bool = True
    can_embed: bool = False
    can_prompt: bool = True
    can_stream: bool = True
    context_length: int | None = None
    size: int | None = None
    digest: str = ""
    modified_at: datetime | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Embeddings:
    """One vector per input, in order; `prompt_tokens` when the backend counts them, and what it
    warns about (the model runtime names inputs it truncated: never silently)."""

    vectors: list[list[float]]
    prompt_tokens: int | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RerankResult:
    """One document of a rerank answer: its position in the request's `documents` and its
    relevance to the query as the backend's cross-encoder scored it (higher is more relevant)."""

    index: int
    relevance_score: float


@dataclass(frozen=True)
class Thinking:
    """What a model wrote while it thought before answering (a reasoning model with `think` on):
    `content`, and `tokens` when the backend counts them (else None)."""

    content: str
    tokens: int | None = None


@dataclass(frozen=True)
class ChatResult:
    """A whole answer. `tool_calls` are OpenAI's `message.tool_calls`:
    `{"id", "type": "function", "function": {"name", "arguments": <JSON text>}}`, and
    `finish_reason` is then "tool_calls". `thinking` is None when the model did not think."""

    text: str
    model: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: tuple[dict, ...] = ()
    thinking: Thinking | None = None


@dataclass(frozen=True)
class ChatChunk:
    """One piece of a streamed answer; the last one has `done=True` and may carry usage.

    `tool_calls` are OpenAI's streamed `delta.tool_calls`: `{"index", "id"?, "type"?,
    "function": {"name"?, "arguments"}}`, the arguments' text possibly spread over several chunks.
    `thinking` is a piece of the model's thinking ("" when the chunk has none); it comes before the
    answer's text.
    """

    text: str
    done: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: tuple[dict, ...] = ()
    thinking: str = ""


@dataclass(frozen=True)
class PullProgress:
    """One status line of a model pull (Ollama's wire format)."""

    status: str
    digest: str = ""
    total: int | None = None
    completed: int | None = None


class Provider(Protocol):
    """What every adapter implements. `options` carries temperature, max_tokens, top_p, stop…, and
    `think` (bool: let a reasoning model think first) with `thinking_budget` (max thinking tokens),
    each passed on as the backend's protocol takes them, or dropped where it has no such control."""

    type: str  # "ollama", "openai", "vllm"

    def __init__(self, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None: ...

    async def list_models(self) -> list[PulledModel]: ...

    async def chat(self, *, model: str, messages: list[dict], options: dict | None = None) -> ChatResult: ...

    def chat_stream(
        self, *, model: str, messages: list[dict], options: dict | None = None
    ) -> AsyncIterator[ChatChunk]: ...

    async def generate(self, *, model: str, prompt: str, options: dict | None = None) -> ChatResult: ...

    async def embed(
        self, *, model: str, inputs: list[str] | list[list[int]], dimensions: int | None = None
    ) -> Embeddings:
        """One vector per input: texts, or token-id lists (OpenAI-compatible servers only);
        `dimensions`, when given, is passed on (the caller checks it was honoured)."""
        ...

    async def rerank(
        self, *, model: str, query: str, documents: list[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """`documents` scored against `query` by a cross-encoder, most relevant first, at most
        `top_n`; servers with a `/v1/rerank` route (the model runtime, vLLM, llama.cpp); others
        raise ProviderRequestError("… cannot rerank")."""
        ...

    def pull(self, *, model: str) -> AsyncIterator[PullProgress]:
        """Ollama only; others raise ProviderRequestError("… cannot pull models")."""
        ...

    async def aclose(self) -> None: ...
