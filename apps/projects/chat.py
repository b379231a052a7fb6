"""A project's chat completions: model resolution, prompts, RAG context, the backend call, sessions.

    turn = chat_prepare(project=…, request=…, session_id=…, stateless=…)   # sync: DB, retrieval
    body = await chat_answer(turn)                                          # JSON answer
    chunks = await chat_stream(turn)                                        # started stream

Rules (LlamaFarm's server, with its gaps closed):
- The model is one of the project's `runtime.models` by name (the request's `model`), else
  `default_model`, else the first; a `model` matching no name but exactly one model's `model` (the
  backend model id OpenAI clients send) picks that one; otherwise 404 naming the project's models. `universal`
  (and `local`) is the model runtime, routed by model name to the `local` backends; `ollama`,
  `openai`, `vllm`, `lemonade` with a `base_url` are that endpoint (`universal` with one: an
  OpenAI-compatible endpoint); without one, the registered backends of that type.
- Messages sent: the project's prompts (the model's `prompts` sets, else every set, in config
  order), the session's history, the request's messages; this turn's RAG context is a system message
  just before the last user message and is never stored in the session.
- RAG runs when `rag_enabled` (default: the project has databases) on `database` (default: the
  config's default; unknown: 404), with the database's default retrieval strategy, for `rag_queries`
  (else the last user message). Several queries run concurrently; results are merged, deduplicated by
  content (best score kept), sorted by score and cut to `rag_top_k`. A failed sub-query is recorded in
  the event log and the others are used; when every one fails, the first failure is the answer.
- The answer carries `rag_sources` (document id, file name, page, chunk id, score, excerpt): in the
  JSON body, and when streaming as a last chunk before `[DONE]`.
- Every completion is an `inference` event (apps.projects.event_logs) with timed sub-events,
  recorded buffered: written once at the end (a stream's also once it has started).
"""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection

from apps.backends import gateway, routing
from apps.backends import services as backends
from apps.core.errors import DomainError, NotFound
from apps.projects import sessions
from apps.projects.event_logs import EventRecorder, event_start
from apps.projects.models import ChatSession, Project
from apps.projects.services import database_config_get
from apps.rag import services as rag

# Providers served by the model runtime (the `local` backends) when they name no endpoint.
RUNTIME_PROVIDERS = ("universal", "local")
# The backends provider that speaks each config provider's wire protocol at a `base_url`.
ENDPOINT_TYPES = {"ollama": "ollama", "openai": "openai", "vllm": "vllm", "lemonade": "openai", "universal": "openai"}
DEFAULT_THINKING_BUDGET = 1024  # the spec's default when `think` is true
EXCERPT_CHARS = 200
TOP_CHUNKS_LOGGED = 5
CONTEXT_HEADER = (
    "Answer using the following context from the project's documents when it is relevant. Cite the file names you use."
)


# --- models and prompts ---------------------------------------------------------------------------


def _runtime(project: Project) -> dict:
    return project.config.get("runtime") or {}


def default_model_name(project: Project) -> str | None:
    """The project's default model: `runtime.default_model`, else the model marked `default`, else the first."""
    runtime = _runtime(project)
    models = runtime.get("models") or []
    if runtime.get("default_model"):
        return runtime["default_model"]
    flagged = [model["name"] for model in models if model.get("default")]
    return flagged[0] if flagged else (models[0]["name"] if models else None)


def models_list(*, project: Project) -> list[dict[str, Any]]:
    """`GET …/models`: every configured model as `{name, provider, model, base_url, default,
    description}` in config order (`base_url` None when the model names no endpoint)."""
    default = default_model_name(project)
    return [
        {
            "name": model["name"],
            "provider": model["provider"],
            "model": model["model"],
            "base_url": model.get("base_url"),
            "default": model["name"] == default,
            "description": model.get("description", ""),
        }
        for model in _runtime(project).get("models") or []
    ]


def model_resolve(*, project: Project, name: str | None) -> dict[str, Any]:
    """The `runtime.models[]` entry for the request's `model`, or the default model when None.

    `name` is matched against each entry's `name` first; when none has it, against each entry's
    `model` (the store id / backend model, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct", which OpenAI
    client users send), which must then be exactly one entry's. Raises NotFound naming the project's
    models (also when several entries have that `model`: the request must name one)."""
    models = _runtime(project).get("models") or []
    wanted = name or default_model_name(project)
    for model in models:
        if model["name"] == wanted:
            return model
    by_backend_model = [model for model in models if model.get("model") == wanted]
    if len(by_backend_model) == 1:
        return by_backend_model[0]
    names = ", ".join(model["name"] for model in models) or "none"
    if by_backend_model:
        several = ", ".join(model["name"] for model in by_backend_model)
        raise NotFound(
            f"Model {wanted!r} is the model of several models of project {project.scope} ({several}); "
            f"name one: models: {names}"
        )
    raise NotFound(f"Model {wanted!r} not found in project {project.scope}; models: {names}")


def prompt_messages(*, project: Project, model: dict[str, Any]) -> list[dict[str, str]]:
    """The prompt messages for `model`: its `prompts` sets in the order it lists them, else every
    set in config order (LlamaFarm: "if omitted, all prompts stack in definition order")."""
    sets = {prompt_set["name"]: prompt_set for prompt_set in project.config.get("prompts") or []}
    chosen = [sets[name] for name in model["prompts"] if name in sets] if model.get("prompts") else sets.values()
    return [
        {"role": message["role"], "content": message["content"]}
        for prompt_set in chosen
        for message in prompt_set["messages"]
    ]


# --- RAG ------------------------------------------------------------------------------------------


@dataclass
class Retrieval:
    """What RAG found for one turn: the database, the merged results (rag_query's result shape)
    and the sub-queries that failed (query, error)."""

    database: str
    results: list[dict[str, Any]]
    failures: list[tuple[str, str]] = field(default_factory=list)


def _query_in_thread(scope: str, database: dict, query: str, options: dict[str, Any]) -> dict:
    try:
        return rag.rag_query(scope=scope, database=database, query=query, **options)
    finally:
        connection.close()  # this pool thread's own connection: no request cycle closes it


def rag_retrieve(
    *, project: Project, database: dict, queries: list[str], top_k: int | None, score_threshold: float | None
) -> Retrieval:
    """Run `queries` against `database` (its default retrieval strategy), concurrently when there
    are several; merge, deduplicate by content (the best score kept), sort by score, cut to `top_k`
    (None: the strategy's own top_k, the longest sub-answer). A sub-query that fails is kept in
    `failures`; when all fail, the first one's error is raised (NotFound, Unprocessable, Unavailable…)."""
    options = {"top_k": top_k, "score_threshold": score_threshold}
    answers: list[dict | DomainError] = []
    if len(queries) == 1:
        answers.append(rag.rag_query(scope=project.scope, database=database, query=queries[0], **options))
    else:
        with ThreadPoolExecutor(max_workers=min(len(queries), 4), thread_name_prefix="rag-subquery") as pool:
            futures = [pool.submit(_query_in_thread, project.scope, database, query, options) for query in queries]
            for future in futures:
                try:
                    answers.append(future.result())
                except DomainError as error:
                    answers.append(error)
    pairs = zip(queries, answers, strict=True)
    failures = [(query, answer.message) for query, answer in pairs if isinstance(answer, DomainError)]
    found = [answer for answer in answers if not isinstance(answer, DomainError)]
    if not found:
        raise next(answer for answer in answers if isinstance(answer, DomainError))
    best: dict[str, dict] = {}
    for answer in found:
        for result in answer["results"]:
            kept = best.get(result["content"])
            if kept is None or result["score"] > kept["score"]:
                best[result["content"]] = result
    limit = top_k if top_k is not None else max(len(answer["results"]) for answer in found)
    merged = sorted(best.values(), key=lambda result: result["score"], reverse=True)[:limit]
    return Retrieval(database=database["name"], results=merged, failures=failures)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"


def rag_sources(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer's `rag_sources`: `{document_id, filename, page, chunk_id, score, excerpt}` per result."""
    return [
        {
            "document_id": result["document_id"],
            "filename": result["metadata"].get("filename"),
            "page": result["metadata"].get("page"),
            "chunk_id": result["chunk_id"],
            "score": result["score"],
            "excerpt": _excerpt(result["content"]),
        }
        for result in results
    ]


def rag_context_message(results: list[dict[str, Any]]) -> dict[str, str]:
    """The system message of one turn carrying the retrieved chunks, numbered, with their file and page."""
    parts = [CONTEXT_HEADER]
    for number, result in enumerate(results, start=1):
        metadata = result["metadata"]
        where = metadata.get("filename") or result["document_id"]
        if metadata.get("page") is not None:
            where += f", page {metadata['page']}"
        parts.append(f"[{number}] {where}:\n{result['content']}")
    return {"role": "system", "content": "\n\n".join(parts)}


def _with_context(messages: list[dict], context: dict[str, str]) -> list[dict]:
    """`messages` with `context` inserted just before the last user message (at the end if none)."""
    last_user = max((index for index, message in enumerate(messages) if message["role"] == "user"), default=None)
    at = len(messages) if last_user is None else last_user
    return [*messages[:at], context, *messages[at:]]


def _last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return sessions.message_text(message).strip()
    return ""


# --- one turn -------------------------------------------------------------------------------------


@dataclass
class ChatTurn:
    """Everything one completion needs once prepared: what to send where, and what to record."""

    project: Project
    model: dict[str, Any]
    messages: list[dict]  # as sent to the backend
    turn_messages: list[dict]  # the request's own messages, stored in the session after the answer
    options: dict[str, Any]
    session: ChatSession | None
    recorder: EventRecorder
    sources: list[dict[str, Any]]
    think: bool | None = None
    include_usage: bool = False
    stream: bool = False  # the request asked for a stream

    @property
    def session_id(self) -> str | None:
        return self.session.session_id if self.session is not None else None


def chat_prepare(*, project: Project, request: dict[str, Any], session_id: str | None, stateless: bool) -> ChatTurn:
    """Resolve the model, open the session (unless `stateless`), retrieve RAG context and build the
    messages of one turn; starts the turn's `inference` event. `request` is the validated body.

    Raises NotFound (unknown model or database), Invalid (a bad session id), and retrieval's errors;
    each is recorded as the event's failure.
    """
    recorder = event_start(
        project=project,
        type="inference",
        data={"model": request.get("model"), "stream": bool(request.get("stream")), "stateless": stateless},
        buffered=True,
    )
    recorder.sub(
        "request_received",
        model=request.get("model"),
        messages=len(request["messages"]),
        stream=bool(request.get("stream")),
        session_id=None if stateless else session_id,
    )
    try:
        return _prepare(project, request, session_id, stateless, recorder)
    except DomainError as error:
        recorder.fail(error.message, stage="prepare")
        raise


def _prepare(
    project: Project, request: dict[str, Any], session_id: str | None, stateless: bool, recorder: EventRecorder
) -> ChatTurn:
    model = model_resolve(project=project, name=request.get("model"))
    messages = [dict(message) for message in request["messages"]]
    databases = (project.config.get("rag") or {}).get("databases") or []
    rag_enabled = request.get("rag_enabled")
    if rag_enabled is None:
        rag_enabled = bool(databases) or request.get("database") is not None
    database = database_config_get(project=project, name=request.get("database")) if rag_enabled else None

    session, history = None, []
    if not stateless:
        session, history = sessions.session_open(project=project, session_id=session_id)

    sources: list[dict[str, Any]] = []
    context = None
    queries = [query for query in request.get("rag_queries") or [] if query.strip()] or [
        text for text in [_last_user_text(messages)] if text
    ]
    if database is not None and queries:
        recorder.sub(
            "rag_query_start",
            database=database["name"],
            queries=queries,
            top_k=request.get("rag_top_k"),
            score_threshold=request.get("rag_score_threshold"),
        )
        retrieval = rag_retrieve(
            project=project,
            database=database,
            queries=queries,
            top_k=request.get("rag_top_k"),
            score_threshold=request.get("rag_score_threshold"),
        )
        for query, error in retrieval.failures:
            recorder.sub("rag_subquery_failed", query=query, error=error)
        sources = rag_sources(retrieval.results)
        recorder.sub(
            "retrieval_complete",
            database=retrieval.database,
            results=len(retrieval.results),
            failed_queries=len(retrieval.failures),
            top_chunks=[
                {"chunk_id": source["chunk_id"], "document": source["filename"], "score": source["score"]}
                for source in sources[:TOP_CHUNKS_LOGGED]
            ],
        )
        if retrieval.results:
            context = rag_context_message(retrieval.results)

    sent = [*prompt_messages(project=project, model=model), *history, *messages]
    if context is not None:
        sent = _with_context(sent, context)
    options = {**(model.get("model_api_parameters") or {}), **gateway.chat_options(request)}
    think = request.get("think")
    if think is not None:
        options["think"] = think
        if think:
            options["thinking_budget"] = request.get("thinking_budget") or DEFAULT_THINKING_BUDGET
    return ChatTurn(
        project=project,
        model=model,
        messages=sent,
        turn_messages=messages,
        options=options,
        session=session,
        recorder=recorder,
        sources=sources,
        think=think,
        include_usage=bool((request.get("stream_options") or {}).get("include_usage")),
        stream=bool(request.get("stream")),
    )


def _target(model: dict[str, Any]) -> tuple[str, str | None]:
    """(backend provider type, endpoint base URL or None for the routed backends of that type)."""
    provider, base_url = model["provider"], model.get("base_url")
    if base_url:
        return ENDPOINT_TYPES.get(provider, "openai"), base_url
    if provider in RUNTIME_PROVIDERS:
        return "local", None
    return ENDPOINT_TYPES.get(provider, provider), None


async def _backend_started(turn: ChatTurn, *, stream: bool) -> tuple[Any, str]:
    """Ask the turn's model: a whole `ChatResult`, or (`stream`) a chunk stream that has started;
    and the backend that answers (its name, or the endpoint's URL). Records `inference_start`, and
    the failure when the backend cannot answer (Unavailable 503, NotFound 404, Invalid 400: raised)."""
    kind, base_url = _target(turn.model)
    name = turn.model["model"]
    await turn.recorder.asub(
        "inference_start",
        model=name,
        project_model=turn.model["name"],
        provider=turn.model["provider"],
        backend_type=kind,
        endpoint=base_url,
        messages=len(turn.messages),
    )
    try:
        if base_url is not None:
            call = backends.endpoint_chat_stream if stream else backends.endpoint_chat
            answer = await call(
                type=kind,
                base_url=base_url,
                model=name,
                messages=turn.messages,
                options=turn.options,
                api_key=turn.model.get("api_key", ""),
            )
            return answer, base_url
        if stream:
            answer, route = await routing.route_chat_stream(name, turn.messages, turn.options, backend_type=kind)
        else:
            answer, route = await routing.route_call(
                name,
                lambda provider, own_name: provider.chat(model=own_name, messages=turn.messages, options=turn.options),
                backend_type=kind,
            )
        return answer, route.name
    except DomainError as error:
        await turn.recorder.afail(error.message, stage="inference")
        raise


def _turn_end(turn: ChatTurn, answer: str, *, summary: dict[str, Any], **data: Any) -> None:
    """The writes of a turn that ended well, in one trip to Django's sync thread: the turn into the
    session (when there is one), then the event's finish."""
    if turn.session is not None:
        try:
            sessions.session_append(
                session=turn.session, messages=[*turn.turn_messages, {"role": "assistant", "content": answer}]
            )
        except Exception as error:
            turn.recorder.fail(f"the turn could not be stored in the session: {error}", stage="session")
            raise
    turn.recorder.finish(summary=summary, **data)


async def chat_answer(turn: ChatTurn) -> dict[str, Any]:
    """The whole answer as OpenAI's `chat.completion`, plus `rag_sources`, and `thinking` when the
    request asked for it (`{content, tokens}`, null when the model gave none). Stores the turn in
    the session and finishes the event. Backend errors are raised (Unavailable 503, NotFound 404,
    Invalid 400) and recorded."""
    name = turn.model["model"]
    result, backend = await _backend_started(turn, stream=False)
    body = gateway.completion_body(result, model=name, backend=backend)
    thinking = result.thinking
    if turn.think:
        body["thinking"] = None if thinking is None else {"content": thinking.content, "tokens": thinking.tokens}
    body["rag_sources"] = turn.sources
    await turn.recorder.asub(
        "inference_complete",
        finish_reason=result.finish_reason,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        answer_chars=len(result.text),
        thinking_chars=len(thinking.content) if thinking is not None else 0,
    )
    await sync_to_async(_turn_end)(
        turn,
        result.text,
        summary={"model": name, "rag_sources": len(turn.sources), "completion_tokens": result.completion_tokens},
        backend=backend,
        rag_sources=len(turn.sources),
    )
    return body


async def chat_stream(turn: ChatTurn) -> AsyncIterator[dict[str, Any]]:
    """The answer as OpenAI's `chat.completion.chunk`s once the backend has started answering (a
    failure before that is raised and recorded, for an HTTP error). Then content (and
    `delta.reasoning_content`) chunks, a last chunk with `rag_sources` and empty `choices`; the
    caller frames them and adds `[DONE]`. A stream that breaks yields the error chunk and is recorded
    as failed; closing the iterator early (the client went away) closes the backend's stream."""
    name = turn.model["model"]
    stream, backend = await _backend_started(turn, stream=True)
    chunks = gateway.completion_chunks(stream, model=name, backend=backend, include_usage=turn.include_usage)
    return _observed(turn, chunks, name=name, backend=backend)


async def _observed(
    turn: ChatTurn, chunks: AsyncIterator[dict[str, Any]], *, name: str, backend: str
) -> AsyncIterator[dict[str, Any]]:
    """`chunks` passed on while the turn is observed: the first token, the answer's text for the
    session, a failure chunk; then the `rag_sources` chunk. The buffered event is written once the
    first chunk has gone out (so that it shows as running while the answer streams), and at the end."""
    text: list[str] = []
    thinking_chars, first, ended, flushed = 0, True, False, False
    finish_reason = None
    template: dict[str, Any] = {}
    try:
        async for chunk in chunks:
            if "error" in chunk:
                ended = True
                await turn.recorder.afail(chunk["error"]["message"], stage="stream", answer_chars=len("".join(text)))
                yield chunk
                return
            template = template or chunk
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                piece, reasoning = delta.get("content") or "", delta.get("reasoning_content") or ""
                if first and (piece or reasoning or delta.get("tool_calls")):
                    first = False
                    await turn.recorder.asub("first_token")
                text.append(piece)
                thinking_chars += len(reasoning)
                finish_reason = choice.get("finish_reason") or finish_reason
            yield chunk
            if not flushed:
                flushed = True
                await turn.recorder.aflush()
    except Exception as error:  # the caller's SSE helper ends the stream with the error chunk
        ended = True
        await turn.recorder.afail(f"{type(error).__name__}: {error}", stage="stream")
        raise
    else:
        answer = "".join(text)
        await turn.recorder.asub(
            "inference_complete", finish_reason=finish_reason, answer_chars=len(answer), thinking_chars=thinking_chars
        )
        await sync_to_async(_turn_end)(
            turn,
            answer,
            summary={"model": name, "rag_sources": len(turn.sources)},
            backend=backend,
            rag_sources=len(turn.sources),
        )
        ended = True
        yield {
            "id": template.get("id"),
            "object": "chat.completion.chunk",
            "created": template.get("created"),
            "model": name,
            "choices": [],
            "rag_sources": turn.sources,
        }
    finally:
        if not ended:  # the client went away (or the server stopped it): nothing is stored
            await asyncio.shield(turn.recorder.afail("the client disconnected before the answer ended", stage="stream"))
        if hasattr(chunks, "aclose"):
            await chunks.aclose()
