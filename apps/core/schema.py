"""OpenAPI building blocks shared by every app: the error bodies, how our authentication appears in
the schema (a drf-spectacular extension), the errors every operation can answer (`ModelyardAutoSchema`),
and Swagger UI's grouping by spec."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from project.surfaces import FORECAST, NODE, RUNTIME, Surface, surface_of_urlconf


class DetailErrorSerializer(serializers.Serializer):
    """`{"detail": "..."}`: the platform's error body (model store, projects)."""

    detail = serializers.CharField()


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class LocationPartField(serializers.Field):
    """One step of a field error's location: a name, or an index into a list."""


class FieldErrorSerializer(serializers.Serializer):
    """One invalid field, FastAPI-style: `{"type": "missing", "loc": ["body", "url"], "msg": "…"}`."""

    type = serializers.CharField()
    loc = serializers.ListField(child=LocationPartField())
    msg = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """`{"detail": [field errors]}`: invalid input (422) on the surfaces whose errors are `{"detail": …}`."""

    detail = FieldErrorSerializer(many=True)


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


# --- the errors every operation can answer ---------------------------------------------------------


class SurfaceSchemaGenerator(SchemaGenerator):
    """drf-spectacular's generator, telling each view the surface it is generated for (its error
    body, when the view does not set its own, is the surface's, as at run time)."""

    def create_view(self, callback: Any, method: str, request: Any = None) -> Any:
        view = super().create_view(callback, method, request)
        view.schema_surface = surface_of_urlconf(self.urlconf)
        return view


def surface_schema(urlconf: str | None = None) -> dict[str, Any]:
    """The OpenAPI schema `/api/schema/` serves for a URLconf (the platform's by default), built
    without a request, by the configured generator."""
    generator_class = spectacular_settings.DEFAULT_GENERATOR_CLASS
    return generator_class(urlconf=urlconf).get_schema(request=None, public=True)


class ModelyardAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding to each operation the errors that core answers for any
    view (`core.error_handlers`), unless the operation documents that status or a `default`:

    - invalid input, for an operation with parameters or a body: 400 (`{"error"}` surfaces and
      OpenAI's envelope), or 422 with field errors and 400 (`{"detail"}` surfaces);
    - 401 when it requires a key; 404 when its path has parameters; 413 when it takes a body;
    - 503 when the database cannot be reached (with `Retry-After`).

    The body is the view's error envelope: its `error_serializer` (a view with its own, such as
    OpenAI's), else `{"error"}` or `{"detail"}` by the view's `error_key` or its surface's.
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or "default" in operation["responses"]:
            return operation
        for status_code, serializer in self._shared_errors(operation).items():
            if str(status_code) not in operation["responses"]:
                operation["responses"][str(status_code)] = self._get_response_for_code(serializer, str(status_code))
        return operation

    def _shared_errors(self, operation: dict) -> dict[int, Any]:
        error = getattr(self.view, "error_serializer", None) or (
            ErrorSerializer if self._error_key() == "error" else DetailErrorSerializer
        )
        parameters = operation.get("parameters", [])
        takes_input = bool(parameters) or "requestBody" in operation
        errors: dict[int, Any] = {}
        if takes_input:
            errors[400] = _described(error, "Invalid input")
            if error is DetailErrorSerializer:
                errors[422] = _described(ValidationErrorSerializer, "Invalid fields")
        security = operation.get("security", [])
        if security and {} not in security:
            errors[401] = _described(error, "Invalid or missing API key")
        if any(parameter["in"] == "path" for parameter in parameters):
            errors[404] = _described(error, "Not found")
        if "requestBody" in operation:
            errors[413] = _described(error, "Request body too large")
        errors[503] = _described(error, "Database unavailable; retry after `Retry-After` seconds")
        return errors

    def _error_key(self) -> str:
        view_key = getattr(self.view, "error_key", None)
        surface: Surface | None = getattr(self.view, "schema_surface", None)
        return view_key or (surface.error_key if surface else "detail")


def _described(serializer: Any, description: str) -> OpenApiResponse:
    return OpenApiResponse(serializer, description=description)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.auth.ApiKeyAuthentication"
    name = ["bearer", "apiKey"]

    def get_security_definition(self, auto_schema: object) -> list[dict]:
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]

    def get_security_requirement(self, auto_schema: object) -> list[dict]:
        # Either header is enough: two alternatives, not one requirement naming both.
        return [{"bearer": []}, {"apiKey": []}]


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
    "projects / RAG and chat": "specs/projects-rag-api.txt: projects and their config, datasets and uploads, "
    "processing tasks, RAG databases and queries, chat completions, sessions, event logs. "
    'Errors are `{"detail": …}` (422: every field\'s path).',
    "projects / examples": "specs/projects-rag-api.txt: example projects to import "
    "(manifests, datasets, import into a project).",
    "projects / ML": "specs/projects-rag-api.txt: few-shot text classifiers (SetFit) and anomaly detectors, "
    'versioned as name_YYYYMMDD_HHMMSS, with name-latest. Errors are `{"detail": …}`.',
    "projects / vision": 'specs/projects-rag-api.txt: OCR and document extraction. Errors are `{"detail": …}`.',
    "node fit": "specs/node-fit-api.txt, on the node port (schema: /api/schema/node/).",
    "forecast": "specs/forecast-api.txt, on the forecast port (schema: /api/schema/forecast/).",
    "model runtime": "The store's models served by Modelyard, on the runtime port (schema: /api/schema/runtime/): "
    "OpenAI's chat completions, embeddings and models, plus rerank and classify.",
    "platform": "Modelyard's own: health, jobs and their event streams, known nodes and placement.",
}

# The surfaces other than the platform: one spec each.
SPEC_OF_SURFACE = {NODE.urlconf: "node fit", FORECAST.urlconf: "forecast", RUNTIME.urlconf: "model runtime"}

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
    "/v1/projects/": "projects / RAG and chat",
    "/v1/examples": "projects / examples",
    "/v1/ml/": "projects / ML",
    "/v1/vision/": "projects / vision",
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
# The projects spec's temperature sensor: 20 normal readings (°C) its anomaly example fits on.
SPEC_TEMPERATURES = (22.1, 23.5, 21.8, 24.2, 22.7, 23.1, 21.5, 24.8, 22.3, 23.9)
SPEC_TEMPERATURES += (21.2, 24.5, 22.8, 23.2, 21.9, 24.1, 22.5, 23.7, 21.6, 24.3)
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
    "updateModel": {
        "model": "mistral:instruct",
        "contextLength": 8192,
        "canChat": True,
        "canEmbed": False,
        "canPrompt": True,
        "canStream": True,
    },
    "configureProvider": {"apiKey": "sk-your-key"},
    "nodes_register": {"url": "http://10.0.0.5:8787", "name": "gpu-node-1"},
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
    # The projects spec's ML examples, made one flow that "Try it out" can run in order: the spec's
    # classifier texts (less its predict example's complaint, a label its fit example lacks); its
    # temperature sensor for anomalies (its first fit example has 2 features
    # where its score example sends 1); save and load by `-latest` (its versioned names never exist).
    "ml_classifier_fit": {
        "model": "intent-classifier",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "training_data": [
            {"text": "I need to book a flight to NYC", "label": "booking"},
            {"text": "Reserve a hotel room for me", "label": "booking"},
            {"text": "Cancel my reservation please", "label": "cancellation"},
            {"text": "I want to cancel my booking", "label": "cancellation"},
            {"text": "What time does the flight leave?", "label": "inquiry"},
            {"text": "How much does it cost?", "label": "inquiry"},
        ],
        "num_iterations": 20,
        "batch_size": 16,
        "overwrite": False,
    },
    "ml_classifier_predict": {
        "model": "intent-classifier-latest",
        "texts": [
            "Book me a flight to Paris tomorrow",
            "Cancel my upcoming trip",
            "What are the check-in times?",
        ],
    },
    "ml_classifier_save": {"model": "intent-classifier-latest", "description": "Travel intents"},
    "ml_classifier_load": {"model": "intent-classifier-latest"},
    "ml_anomaly_fit": {
        "model": "sensor_anomaly_detector",
        "backend": "isolation_forest",
        "data": [[reading] for reading in SPEC_TEMPERATURES],
        "contamination": 0.05,
    },
    "ml_anomaly_score": {
        "model": "sensor_anomaly_detector-latest",
        "backend": "isolation_forest",
        "data": [[22.0], [23.5], [0.0], [100.0], [21.5]],
        "threshold": 0.5,
    },
    "ml_anomaly_detect": {
        "model": "sensor_anomaly_detector-latest",
        "backend": "isolation_forest",
        "data": [[22.0], [23.5], [0.0], [21.5], [100.0], [24.0], [-10.0], [22.8], [35.0], [23.2]],
        "threshold": 0.5,
    },
    "ml_anomaly_save": {"model": "sensor_anomaly_detector-latest", "backend": "isolation_forest"},
    "ml_anomaly_load": {"model": "sensor_anomaly_detector-latest", "backend": "isolation_forest"},
}


def spec_tags_of(path: str, operation_id: str, urlconf: str | None) -> list[str]:
    """The spec tags of one operation of the schema generated from `urlconf`."""
    if urlconf in SPEC_OF_SURFACE:
        return [SPEC_OF_SURFACE[urlconf]]
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
