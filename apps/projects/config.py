"""A project's config: the `llamafarm.yaml` model — legacy forms, validation, templates, YAML.

The JSON Schema is ours (`config_schema.json`, Draft 2020-12), modelled on LlamaFarm's
`config/schema.yaml` and `rag/schema.yaml`. The type names a config may use (parsers, chunk
strategies, embedders, retrieval strategies, stores, distance functions) are the rag app's own
tuples, read when a config is validated, so the schema never lists a type rag cannot run.

What a schema cannot say is checked after it (`config_references_check`): names unique, defaults and
datasets naming entries that exist. Every problem is reported with its path
(`rag.databases[0].type: …`) in the platform's 422 shape (`ConfigInvalid`).
"""

import copy
import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from django.conf import settings
from jsonschema import Draft202012Validator

from apps.core.errors import NotFound, Unprocessable

T = TypeVar("T")

SCHEMA_PATH = Path(__file__).with_name("config_schema.json")
CONFIG_VERSION = "v1"
# The name a legacy flat `runtime` and a legacy prompt list get once converted.
LEGACY_MODEL_NAME = "default"
LEGACY_PROMPT_SET_NAME = "default"
# Keys a legacy flat runtime keeps on its model; every other key is a request parameter.
MODEL_KEYS = ("provider", "model", "base_url", "api_key", "instructor_mode", "model_api_parameters", "extra_body")
# Embedding dimensions of models whose size is known without loading them.
KNOWN_EMBEDDING_DIMENSIONS = {"sentence-transformers/all-MiniLM-L6-v2": 384}

# (module, attribute) of the rag app's type lists, and the schema locations each constrains.
RAG_ENUMS: dict[str, tuple[tuple[str, str], list[tuple[str, ...]]]] = {
    "parser types": (("apps.rag.parsers", "PARSER_TYPES"), [("parser", "properties", "type")]),
    "chunk strategies": (
        ("apps.rag.parsers", "CHUNK_STRATEGIES"),
        [("parser", "properties", "config", "properties", "chunk_strategy")],
    ),
    "embedder types": (
        ("apps.rag.services", "EMBEDDER_TYPES"),
        [("database", "properties", "embedding_strategies", "items", "properties", "type")],
    ),
    "retrieval strategy types": (
        ("apps.rag.services", "RETRIEVAL_STRATEGY_TYPES"),
        [("database", "properties", "retrieval_strategies", "items", "properties", "type")],
    ),
    "store types": (("apps.rag.services", "STORE_TYPES"), [("database", "properties", "type")]),
    "distance functions": (  # every name the storage layer maps (euclidean, inner_product, dot, ...)
        ("apps.rag.storage", "DISTANCE_SYNONYMS"),
        [("database", "properties", "config", "properties", "distance_function")],
    ),
}


class ConfigInvalid(Unprocessable):
    """A config that breaks the schema or its cross-references: 422 with one entry per problem.

    The body is the platform's `{"detail": [{"type", "loc", "msg"}, ...]}` list (as its serializer
    validation answers), `loc` starting `["body", "config", ...]`, `msg` leading with the dotted path.
    """

    def __init__(self, problems: list[tuple[tuple, str, str]], *, prefix: tuple[str, ...] = ("body", "config")) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path_dotted(loc)}: {msg}" for loc, msg, _type in problems))
        self.message = [  # the surface's handler renders `message` as the body's "detail"
            {"type": kind, "loc": [*prefix, *loc], "msg": f"{path_dotted(loc) or prefix[-1]}: {msg}"}
            for loc, msg, kind in problems
        ]


def path_dotted(loc: tuple | list) -> str:
    """`("rag", "databases", 0, "type")` → `"rag.databases[0].type"`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- legacy forms ---------------------------------------------------------------------------------


def config_normalize(config: dict) -> dict:
    """A copy of `config` with LlamaFarm's legacy forms converted to the current ones:

    - `runtime: {provider, model, base_url, api_key, instructor_mode, <params>...}` (one flat model)
      → `runtime: {default_model: "default", models: [{name: "default", provider, model, ...,
      model_api_parameters: {<params>}}]}`; keys other than the model's own (e.g. `temperature`)
      become request parameters, as LlamaFarm passed them.
    - `prompts: [{role, content}, ...]` (one flat message list) → one named set
      `[{name: "default", messages: [...]}]`; models without `prompts` use every set anyway.
    Anything else is returned as is (validation reports what is wrong with it).
    """
    config = copy.deepcopy(config)
    runtime = config.get("runtime")
    if isinstance(runtime, dict) and "models" not in runtime and ("provider" in runtime or "model" in runtime):
        model: dict[str, Any] = {"name": LEGACY_MODEL_NAME}
        parameters = dict(runtime.get("model_api_parameters") or {})
        for key, value in runtime.items():
            if key in MODEL_KEYS and key != "model_api_parameters":
                model[key] = value
            elif key not in {"model_api_parameters", "default_model"}:
                parameters[key] = value
        if parameters:
            model["model_api_parameters"] = parameters
        config["runtime"] = {"default_model": LEGACY_MODEL_NAME, "models": [model]}
    prompts = config.get("prompts")
    if (
        isinstance(prompts, list)
        and prompts
        and all(isinstance(item, dict) and "role" in item and "messages" not in item for item in prompts)
    ):
        config["prompts"] = [{"name": LEGACY_PROMPT_SET_NAME, "messages": prompts}]
    return config


# --- validation -----------------------------------------------------------------------------------


@cache
def _schema_file() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def rag_enums() -> dict[str, tuple[str, ...]]:
    """The rag app's type lists that exist now, by description (see `RAG_ENUMS`); a list whose
    module or name does not exist yet leaves that field a free string."""
    found = {}
    for label, ((module_name, attribute), _where) in RAG_ENUMS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        values = getattr(module, attribute, None)
        if values:
            found[label] = tuple(values)
    return found


def config_schema() -> dict:
    """Our JSON Schema with the rag app's current type lists as enums (a fresh copy each call)."""
    schema = copy.deepcopy(_schema_file())
    enums = rag_enums()
    for label, (_source, locations) in RAG_ENUMS.items():
        if label not in enums:
            continue
        for location in locations:
            node = schema["$defs"]
            for key in location:
                node = node[key]
            node["enum"] = list(enums[label])
    return schema


def config_validate(config: dict) -> dict:
    """Validate a config (after `config_normalize`) and return it.

    Raises ConfigInvalid listing every schema violation and every broken reference, each with its
    path, all at once: the references are checked on whatever has the shape they read (an entry
    that is not an object, or a name that is not a string, is skipped: the schema reports it), and a
    reference problem at a path the schema already reports is left out.
    """
    if not isinstance(config, dict):
        raise ConfigInvalid([((), "must be an object", "type_error")])
    validator = Draft202012Validator(config_schema())
    problems = [
        (tuple(error.absolute_path), error.message, f"schema.{error.validator}")
        for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    reported = {loc for loc, _msg, _kind in problems}
    references = config_references_check(config, invalid=reported)
    problems += [problem for problem in references if problem[0] not in reported]
    problems += [problem for problem in config_secrets_check(config) if problem[0] not in reported]
    if problems:
        raise ConfigInvalid(problems)
    return config


def _mapping(value: object) -> dict:
    """`value` when it is an object, else an empty one (the schema reports the wrong shape)."""
    return value if isinstance(value, dict) else {}


def _entries(value: object) -> list[tuple[int, dict]]:
    """The (index, entry) pairs of a list's object entries; nothing when `value` is no list."""
    return (
        [(index, item) for index, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []
    )


def _names(entries: list[tuple[int, dict]], loc: tuple, invalid: set[tuple]) -> list[str] | None:
    """The entries' names; None (nothing can be checked against them) when an entry or its name
    is itself invalid (`invalid`: the paths the schema reported)."""
    if any((*loc, index) in invalid or (*loc, index, "name") in invalid for index, _entry in entries):
        return None
    return [entry["name"] for _index, entry in entries if isinstance(entry.get("name"), str)]


def _duplicates(entries: list[tuple[int, dict]], key: str, loc: tuple) -> list[tuple[tuple, str, str]]:
    seen: set[str] = set()
    problems = []
    for index, item in entries:
        value = item.get(key)
        if not isinstance(value, str):
            continue
        if value in seen:
            problems.append(((*loc, index, key), f"duplicate name {value!r}", "value_error.duplicate"))
        seen.add(value)
    return problems


def _missing(value: object, names: list[str] | None, loc: tuple, what: str) -> list[tuple[tuple, str, str]]:
    if names is None or not isinstance(value, str) or value in names:  # invalid input: the schema reports it
        return []
    return [(loc, f"{what} {value!r} does not exist; defined: {', '.join(names) or 'none'}", "value_error.reference")]


def config_references_check(config: dict, *, invalid: set[tuple] = frozenset()) -> list[tuple[tuple, str, str]]:
    """The problems a schema cannot express, as (path, message, type): duplicate names; a default
    model, database, embedding or retrieval strategy that names no entry; a dataset naming a
    database or processing strategy that does not exist (one naming none gets the first strategy);
    a model naming an unknown prompt set. Works on any shape: parts that are not what the schema
    asks for are skipped (a check never raises), so it runs alongside the schema's own errors;
    `invalid` (the paths the schema reported) skips a reference whose list of names has an invalid entry."""
    problems: list[tuple[tuple, str, str]] = []
    runtime = _mapping(config.get("runtime"))
    models = _entries(runtime.get("models"))
    problems += _duplicates(models, "name", ("runtime", "models"))
    model_names = _names(models, ("runtime", "models"), invalid)
    if "default_model" in runtime:
        problems += _missing(runtime["default_model"], model_names, ("runtime", "default_model"), "model")
    prompts = _entries(config.get("prompts"))
    problems += _duplicates(prompts, "name", ("prompts",))
    prompt_names = _names(prompts, ("prompts",), invalid)
    for index, model in models:
        wanted = model.get("prompts")
        for position, name in enumerate(wanted if isinstance(wanted, list) else []):
            problems += _missing(name, prompt_names, ("runtime", "models", index, "prompts", position), "prompt set")

    rag = _mapping(config.get("rag"))
    databases = _entries(rag.get("databases"))
    strategies = _entries(rag.get("data_processing_strategies"))
    problems += _duplicates(databases, "name", ("rag", "databases"))
    problems += _duplicates(strategies, "name", ("rag", "data_processing_strategies"))
    database_names = _names(databases, ("rag", "databases"), invalid)
    strategy_names = _names(strategies, ("rag", "data_processing_strategies"), invalid)
    if "default_database" in rag:
        problems += _missing(rag["default_database"], database_names, ("rag", "default_database"), "database")
    for index, database in databases:
        loc = ("rag", "databases", index)
        for kind in ("embedding", "retrieval"):
            entries = _entries(database.get(f"{kind}_strategies"))
            problems += _duplicates(entries, "name", (*loc, f"{kind}_strategies"))
            default = database.get(f"default_{kind}_strategy")
            if default is not None:
                names = _names(entries, (*loc, f"{kind}_strategies"), invalid)
                problems += _missing(default, names, (*loc, f"default_{kind}_strategy"), f"{kind} strategy")
        retrieval = _entries(database.get("retrieval_strategies"))
        flagged = [str(entry.get("name")) for _index, entry in retrieval if entry.get("default") is True]
        if len(flagged) > 1:
            message = f"only one retrieval strategy may be the default; marked: {', '.join(flagged)}"
            problems.append(((*loc, "retrieval_strategies"), message, "value_error.default"))

    datasets = _entries(config.get("datasets"))
    problems += _duplicates(datasets, "name", ("datasets",))
    for index, dataset in datasets:
        if "database" in dataset:
            problems += _missing(dataset["database"], database_names, ("datasets", index, "database"), "database")
        loc = ("datasets", index, "data_processing_strategy")
        if "data_processing_strategy" in dataset:
            problems += _missing(dataset["data_processing_strategy"], strategy_names, loc, "data processing strategy")
        elif strategy_names == []:  # the default is the first strategy: there must be one
            problems.append((loc, "required: the config has no data processing strategy to default to", "missing"))
    return problems


# --- secrets and key order -----------------------------------------------------------------------

# A key names a secret when it contains one of these, or is `token` / ends in `_token` (not `max_tokens`).
SECRET_KEY_PARTS = ("api_key", "apikey", "secret", "password")


def secret_key(key: object) -> bool:
    """Whether a config key holds a secret: `api_key` anywhere (`runtime.models[].api_key`, an
    embedder's `config.api_key`, `openai_api_key`), `*secret*`, `*password*`, `token`, `*_token`."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS) or lowered == "token" or lowered.endswith("_token")


def config_masked(value: T) -> T:
    """A copy of a config (or any part of one) with every non-empty string under a secret key masked
    as provider keys are (`apps.backends.encryption.mask`: `sk-…wxyz`, all `*` when 8 characters or
    fewer), at any depth. What every answer that shows a config shows."""
    from apps.backends.encryption import mask

    if isinstance(value, dict):
        return {
            key: mask(item) if secret_key(key) and isinstance(item, str) and item else config_masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [config_masked(item) for item in value]
    return value


def _looks_masked(value: str) -> bool:
    return "…" in value or (len(value) <= 8 and set(value) == {"*"})


def config_secrets_check(value: object, loc: tuple = ()) -> list[tuple[tuple, str, str]]:
    """Secrets a config cannot hold, as (path, message, type): a masked value that no stored secret
    stood behind (`config_secrets_restored` runs first: an entry renamed, or a value copied from
    elsewhere, would otherwise store the mask itself and lose the key), and one that is not
    printable ASCII (it travels in an HTTP header: `Authorization: Bearer <key>`)."""
    problems: list[tuple[tuple, str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if secret_key(key) and isinstance(item, str) and item:
                if _looks_masked(item):
                    message = (
                        "a masked secret with no stored secret behind it (the entry was renamed or added): "
                        "send the secret itself"
                    )
                    problems.append(((*loc, key), message, "value_error.masked_secret"))
                elif not (item.isascii() and item.isprintable()):
                    problems.append(
                        ((*loc, key), "must be printable ASCII (it is sent in an HTTP header)", "value_error.secret")
                    )
            else:
                problems += config_secrets_check(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += config_secrets_check(item, (*loc, index))
    return problems


def config_secrets_restored(value: T, stored: object) -> T:
    """A copy of an incoming config in which every secret sent back exactly as `config_masked`
    showed it takes the `stored` config's secret again, so GET → edit → PUT loses nothing; any other
    value (a new key, or none) stands. Named list entries (models, databases, embedders, ...) are
    matched by `name`, others by position."""
    from apps.backends.encryption import mask

    if isinstance(value, dict):
        old = stored if isinstance(stored, dict) else {}
        restored = {}
        for key, item in value.items():
            kept = old.get(key)
            if secret_key(key) and isinstance(item, str) and isinstance(kept, str) and kept and item == mask(kept):
                restored[key] = kept
            else:
                restored[key] = config_secrets_restored(item, kept)
        return restored
    if isinstance(value, list):
        old_items = stored if isinstance(stored, list) else []
        by_name = {
            item["name"]: item for item in old_items if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        restored_items = []
        for position, item in enumerate(value):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                match = by_name.get(item["name"])
            else:
                match = old_items[position] if position < len(old_items) else None
            restored_items.append(config_secrets_restored(item, match))
        return restored_items
    return value


def _schema_node(node: object) -> dict:
    """A schema node with its local `$ref` (`#/$defs/<name>`) followed; {} for none."""
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _schema_file()["$defs"].get(ref.removeprefix("#/$defs/"), {})
    return node


def config_ordered(config: T) -> T:
    """A copy of a config with its keys in the schema's property order (top level: version, name,
    namespace, runtime, prompts, rag, datasets, mcp; nested known objects likewise), keys the schema
    does not name after them in alphabetical order (stored configs are jsonb, which keeps no order)."""
    return _ordered(config, _schema_file())


def _ordered(value: object, schema: object) -> object:
    node = _schema_node(schema)
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        known = [key for key in properties if key in value]
        unknown = sorted((key for key in value if key not in properties), key=str)
        return {key: _ordered(value[key], properties.get(key)) for key in [*known, *unknown]}
    if isinstance(value, list):
        return [_ordered(item, node.get("items")) for item in value]
    return value


# --- templates ------------------------------------------------------------------------------------


def _runtime_default() -> dict:
    return {
        "default_model": "default",
        "models": [
            {
                "name": "default",
                "description": "The local runtime's default chat model",
                "provider": "universal",
                "model": settings.MODELYARD_DEFAULT_MODEL,
            }
        ],
    }


def _prompts_default() -> list[dict]:
    return [{"name": "default", "messages": [{"role": "system", "content": "You are a helpful assistant."}]}]


def _template_server(*, namespace: str, name: str) -> dict:
    """A chat project on the local runtime, no RAG."""
    return {
        "version": CONFIG_VERSION,
        "name": name,
        "namespace": namespace,
        "runtime": _runtime_default(),
        "prompts": _prompts_default(),
        "datasets": [],
    }


def _parser(type_: str, patterns: list[str], chunk_size: int, chunk_overlap: int, strategy: str) -> dict:
    return {
        "type": type_,
        "file_include_patterns": patterns,
        "priority": 50,
        "config": {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap, "chunk_strategy": strategy},
    }


# One parser per format the rag app reads: (type, include patterns, chunk size, overlap, chunk strategy).
RAG_TEMPLATE_PARSERS = [
    ("PDFParser_PyPDF2", ["*.pdf", "*.PDF"], 1000, 150, "paragraphs"),
    ("DocxParser_PythonDocx", ["*.docx", "*.DOCX"], 1000, 150, "paragraphs"),
    ("MarkdownParser_Python", ["*.md", "*.markdown", "README*"], 1000, 100, "sections"),
    ("HTMLParser_BeautifulSoup", ["*.html", "*.htm"], 1000, 100, "sections"),
    ("CSVParser_Python", ["*.csv", "*.tsv"], 1000, 0, "rows"),
    ("ExcelParser_OpenPyXL", ["*.xlsx", "*.XLSX"], 1000, 0, "rows"),
    ("JSONParser_Python", ["*.json", "*.jsonl"], 1000, 100, "characters"),
    ("TextParser_Python", ["*.txt", "*.text", "*.log", "*.rst"], 1000, 100, "sentences"),
    # Scans and photos of documents: their text read by OCR (apps.rag.parsers.image).
    ("ImageParser_OCR", ["*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp", "*.bmp", "*.tif*"], 1000, 100, "paragraphs"),
]


def _template_rag(*, namespace: str, name: str) -> dict:
    """The server template plus one database (declared ChromaStore as LlamaFarm's template does;
    stored in pgvector) embedding with the runtime's default embedding model, one universal
    processing strategy with a parser for every format we read, and basic similarity retrieval."""
    embed_model = settings.MODELYARD_EMBED_MODEL
    embedder_config: dict[str, Any] = {"model": embed_model, "batch_size": 32, "timeout": 60}
    if embed_model in KNOWN_EMBEDDING_DIMENSIONS:
        embedder_config["dimension"] = KNOWN_EMBEDDING_DIMENSIONS[embed_model]
    parsers = [_parser(*entry) for entry in RAG_TEMPLATE_PARSERS]
    known = rag_enums()
    if "parser types" in known:  # only the parsers this installation has
        parsers = [parser for parser in parsers if parser["type"] in known["parser types"]]
    config = _template_server(namespace=namespace, name=name)
    config["rag"] = {
        "default_database": "main_database",
        "databases": [
            {
                "name": "main_database",
                "type": "ChromaStore",
                "config": {"distance_function": "cosine", "collection_name": "documents"},
                "embedding_strategies": [
                    {"name": "default_embeddings", "type": "UniversalEmbedder", "config": embedder_config}
                ],
                "retrieval_strategies": [
                    {
                        "name": "basic_search",
                        "type": "BasicSimilarityStrategy",
                        "config": {"top_k": 10},
                        "default": True,
                    }
                ],
                "default_embedding_strategy": "default_embeddings",
                "default_retrieval_strategy": "basic_search",
            }
        ],
        "data_processing_strategies": [
            {
                "name": "universal_processor",
                "description": "One strategy for every format this installation parses",
                "parsers": parsers,
            }
        ],
    }
    return config


TEMPLATES = {"server": _template_server, "rag": _template_rag}


def config_template(*, template: str, namespace: str, name: str) -> dict:
    """A new project's config from the template named `template` (`server` or `rag`).
    Raises NotFound naming the valid templates."""
    build = TEMPLATES.get(template)
    if build is None:
        raise NotFound(f"Unknown config template {template!r}; valid templates: {', '.join(TEMPLATES)}")
    return build(namespace=namespace, name=name)


# --- YAML -----------------------------------------------------------------------------------------


def config_to_yaml(config: object) -> str:
    """The config (or any JSON data) as `llamafarm.yaml`-style block YAML, keys in their given order."""
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=False)
