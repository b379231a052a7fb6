"""OpenAPI building blocks shared by every app: the error bodies, and how our authentication
appears in the schema (a drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from project.surfaces import FORECAST, NODE


class DetailErrorSerializer(serializers.Serializer):
    """`{"detail": "..."}`: the platform's error body (model store, projects)."""

    detail = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """`{"error": "..."}`: the error body of the runtime, node and forecast specs."""

    error = serializers.CharField()


class NodeIdentitySerializer(serializers.Serializer):
    """`{"name", "os"}`: the node in every surface's `/health` and in the node-fit API."""

    name = serializers.CharField()
    os = serializers.CharField()


class DiskUsageSerializer(serializers.Serializer):
    """One disk as `apps.core.system.disk_usage` describes it (projects spec, model store)."""

    total_bytes = serializers.IntegerField()
    used_bytes = serializers.IntegerField()
    free_bytes = serializers.IntegerField()
    path = serializers.CharField()
    percent_free = serializers.FloatField()


ERROR_RESPONSE = OpenApiResponse(ErrorSerializer, description='`{"error": …}`')


class RuntimeApi:
    # Views of specs/runtime-api.md answer errors as `{"error": "..."}` on the platform port,
    # whose other specs say `{"detail": ...}` (a comment, not a docstring: the schema would show a
    # docstring as every operation's description).
    error_key = "error"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.auth.ApiKeyAuthentication"
    name = ["bearer", "apiKey"]

    def get_security_definition(self, auto_schema: object) -> list[dict]:
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]


# --- Swagger UI: operations grouped by the spec they implement ----------------------------------------

# One tag per spec (ARCHITECTURE.md's table), in the order Swagger UI lists them.
SPEC_TAGS = {
    "runtime": "specs/runtime-api.md: backends, pools, models, associations, providers, hooks, download queue, "
    '/execute, /embed, /tasks. Errors are `{"error": …}`.',
    "OpenAI gateway": "OpenAI's chat completions, embeddings and models, routed to the pools' backends.",
    "model store": "specs/model-store-api.txt: search the hub, download, list, show, delete, status, clean, export. "
    'Errors are `{"detail": …}`.',
    "projects / models cache": "specs/projects-rag-api.txt: the models cache, system info and disk, the hub mirror. "
    'Errors are `{"detail": …}`.',
    "node fit": "specs/node-fit-api.txt, on the node port (schema: /api/schema/node/).",
    "forecast": "specs/forecast-api.txt, on the forecast port (schema: /api/schema/forecast/).",
    "platform": "Modelyard's own: health, jobs and their event streams, known nodes and placement.",
}

# The spec of each platform path, by prefix (the longest that matches wins); any other is "platform".
# `GET /v1/models` is one list for two clients, so it is in both groups.
SPEC_OF_PATH_PREFIX = {
    "/backend": "runtime",
    "/pool": "runtime",
    "/models/": "runtime",
    "/model-associations/": "runtime",
    "/internal/models": "runtime",
    "/providers/": "runtime",
    "/queue": "runtime",
    "/state": "runtime",
    "/defaultmodel": "runtime",
    "/execute": "runtime",
    "/embed": "runtime",
    "/tasks": "runtime",
    "/supported": "runtime",
    "/hooks/": "runtime",
    "/v1/chat/completions": "OpenAI gateway",
    "/v1/embeddings": "OpenAI gateway",
    "/v1/models/{model_id}": "projects / models cache",
    "/v1/models/download": "projects / models cache",
    "/v1/models/validate-download": "projects / models cache",
    "/v1/system/": "projects / models cache",
    "/info": "projects / models cache",
    "/hub/": "projects / models cache",
    "/api/v1/search": "model store",
    "/api/v1/downloads": "model store",
    "/api/v1/models": "model store",
    "/api/v1/status": "model store",
    "/api/v1/clean": "model store",
    "/api/v1/export": "model store",
}
SPEC_OF_OPERATION = {
    "models_cache_list": ["OpenAI gateway", "projects / models cache"],
    "retrieveModel": ["OpenAI gateway"],
}


# The specs' request body examples, by operation id (writable fields only: the runtime spec's
# examples also show the id and timestamps that the server sets). Swagger UI fills "Try it out" with
# them, and the browsable API its content form.
REQUEST_EXAMPLES = {
    "createBackend": {"name": "ollama-production", "baseUrl": "http://ollama-prod.internal:11434", "type": "ollama"},
    "updateBackend": {"name": "ollama-production", "baseUrl": "http://ollama-prod.internal:11434", "type": "ollama"},
    "createPool": {"name": "production-chat", "purposeType": "Internal Tasks"},
    "updatePool": {"name": "production-chat", "purposeType": "Internal Tasks"},
    "createModel": {
        "model": "mistral:instruct",
        "contextLength": 8192,
        "canChat": True,
        "canEmbed": False,
        "canPrompt": True,
        "canStream": True,
    },
    "create": {"name": "send-email", "endpointUrl": "http://hooks-endpoint:8080", "method": "POST", "timeoutMs": 5000},
    "update": {"name": "send-email", "endpointUrl": "http://hooks-endpoint:8080", "method": "POST", "timeoutMs": 5000},
    "generateEmbeddings": {"text": "Hello, world!"},
    "executeSimpleTask": {
        "prompt": "Hello, how are you?",
        "model_name": "mistral:instruct",
        "model_provider": "ollama",
    },
    "executeTaskChain": {
        "input": "What is the capital of France",
        "inputType": "string",
        "chain": {
            "id": "answer",
            "tasks": [
                {
                    "id": "answer",
                    "handler": "raw_string",
                    "prompt_template": "Answer briefly: {{.input}}",
                    "execute_config": {"model": "mistral:instruct", "provider": "ollama"},
                    "transition": {"branches": [{"operator": "default", "goto": "end"}]},
                }
            ],
        },
    },
    "createChatCompletion": {
        "model": "mistral:instruct",
        "messages": [{"role": "user", "content": "Say hello in one word."}],
    },
    "createEmbedding": {"model": "nomic-embed-text", "input": "Hello, world!"},
    "modelstore_download": {"model_id": "Qwen/Qwen2.5-7B-Instruct", "source": "huggingface", "force": False},
    "modelstore_clean": {"unused": True, "days": 30, "all": False, "dry_run": True},
    "modelstore_export": {"format": "kitt"},
    "models_cache_download": {"provider": "universal", "model_name": "cross-encoder/ms-marco-MiniLM-L-6-v2"},
    "models_cache_validate_download": {"model_name": "unsloth/Qwen3-1.7B-GGUF"},
}


def spec_tags_of(path: str, operation_id: str, urlconf: str | None) -> list[str]:
    """The spec tags of one operation of the schema generated from `urlconf`."""
    if urlconf == NODE.urlconf:
        return ["node fit"]
    if urlconf == FORECAST.urlconf:
        return ["forecast"]
    if operation_id in SPEC_OF_OPERATION:
        return SPEC_OF_OPERATION[operation_id]
    prefixes = [prefix for prefix in SPEC_OF_PATH_PREFIX if path.startswith(prefix)]
    return [SPEC_OF_PATH_PREFIX[max(prefixes, key=len)]] if prefixes else ["platform"]


def _add_request_example(operation: dict) -> None:
    example = REQUEST_EXAMPLES.get(operation["operationId"])
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if example is not None and body is not None:
        body["examples"] = {"spec": {"summary": "the spec's example", "value": example}}


def group_operations_by_spec(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: each operation's tags are the spec it implements, so
    Swagger UI groups them by spec (`SPEC_TAGS`, in that order); the main request bodies get the
    spec's example (`REQUEST_EXAMPLES`)."""
    urlconf = getattr(generator, "urlconf", None)
    used: set[str] = set()
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["tags"] = spec_tags_of(path, operation["operationId"], urlconf)
                used.update(operation["tags"])
                _add_request_example(operation)
    result["tags"] = [{"name": name, "description": text} for name, text in SPEC_TAGS.items() if name in used]
    return result
