"""A project's RAG databases, as the spec's `rag/databases` routes show and edit them.

The truth is the project's config (`rag.databases[]`, `rag.default_database`): every change goes
through `project_config_replace` (validated, 422 with paths), then `apps.rag.services` makes the
storage match (`database_ensure` on create and update, `database_drop` on delete).
"""

import copy
from typing import Any

from django.db import transaction

from apps.core.errors import Conflict, Invalid
from apps.projects.config import config_masked
from apps.projects.models import Project
from apps.projects.services import database_config_get, project_config_replace
from apps.rag import services as rag

IMMUTABLE_FIELDS = ("name", "type")
UPDATABLE_FIELDS = (
    "config",
    "embedding_strategies",
    "retrieval_strategies",
    "default_embedding_strategy",
    "default_retrieval_strategy",
)


def _rag_section(config: dict) -> dict:
    return config.get("rag") or {}


def default_database_name(project: Project) -> str | None:
    """The config's `default_database`, else its first database, else None."""
    rag_config = _rag_section(project.config)
    databases = rag_config.get("databases") or []
    return rag_config.get("default_database") or (databases[0]["name"] if databases else None)


def _default_embedding(database: dict) -> str | None:
    strategies = database.get("embedding_strategies") or []
    return database.get("default_embedding_strategy") or (strategies[0]["name"] if strategies else None)


def _default_retrieval(database: dict) -> str | None:
    strategies = database.get("retrieval_strategies") or []
    flagged = [strategy["name"] for strategy in strategies if strategy.get("default")]
    if database.get("default_retrieval_strategy"):
        return database["default_retrieval_strategy"]
    if flagged:
        return flagged[0]
    return strategies[0]["name"] if strategies else None


def database_summary(*, project: Project, database: dict) -> dict[str, Any]:
    """One database as the list shows it: name, type, is_default, strategies with their defaults."""
    embedding_default, retrieval_default = _default_embedding(database), _default_retrieval(database)
    return {
        "name": database["name"],
        "type": database["type"],
        "is_default": database["name"] == default_database_name(project),
        "embedding_strategies": [
            {
                "name": strategy["name"],
                "type": strategy["type"],
                "priority": strategy.get("priority", 0),
                "is_default": strategy["name"] == embedding_default,
            }
            for strategy in database.get("embedding_strategies") or []
        ],
        "retrieval_strategies": [
            {"name": strategy["name"], "type": strategy["type"], "is_default": strategy["name"] == retrieval_default}
            for strategy in database.get("retrieval_strategies") or []
        ],
    }


def database_detail(*, project: Project, database: dict) -> dict[str, Any]:
    """One database in full: its config, strategies with their configs, defaults, dependent datasets;
    secrets (an embedder's `api_key`, ...) masked as every config answer masks them (`config_masked`)."""
    retrieval_default = _default_retrieval(database)
    database = config_masked(database)
    return {
        "name": database["name"],
        "type": database["type"],
        "config": database.get("config") or {},
        "embedding_strategies": [
            {
                "name": strategy["name"],
                "type": strategy["type"],
                "config": strategy.get("config") or {},
                "priority": strategy.get("priority", 0),
            }
            for strategy in database.get("embedding_strategies") or []
        ],
        "retrieval_strategies": [
            {
                "name": strategy["name"],
                "type": strategy["type"],
                "config": strategy.get("config") or {},
                "default": strategy["name"] == retrieval_default,
            }
            for strategy in database.get("retrieval_strategies") or []
        ],
        "default_embedding_strategy": _default_embedding(database),
        "default_retrieval_strategy": retrieval_default,
        "dependent_datasets": dependent_datasets(project=project, name=database["name"]),
    }


def dependent_datasets(*, project: Project, name: str) -> list[str]:
    """The names of the project's datasets stored in database `name`."""
    return list(project.datasets.filter(database=name).order_by("name").values_list("name", flat=True))


def databases_list(*, project: Project) -> dict[str, Any]:
    """{"databases": [summary], "default_database": name or None}."""
    databases = _rag_section(project.config).get("databases") or []
    return {
        "databases": [database_summary(project=project, database=database) for database in databases],
        "default_database": default_database_name(project),
    }


def database_get(*, project: Project, name: str) -> dict[str, Any]:
    """The database's detail. Raises NotFound naming the databases that exist."""
    return database_detail(project=project, database=database_config_get(project=project, name=name))


@transaction.atomic
def database_create(*, project: Project, database: dict) -> dict[str, Any]:
    """Add a database to the project's config and create its storage; its summary.

    Raises Conflict when the name is taken, ConfigInvalid (422) when the config would be invalid."""
    names = [entry["name"] for entry in _rag_section(project.config).get("databases") or []]
    if database["name"] in names:
        raise Conflict(f"Database '{database['name']}' already exists")
    config = copy.deepcopy(project.config)
    config.setdefault("rag", {}).setdefault("databases", []).append(database)
    project = project_config_replace(project=project, config=config)
    created = database_config_get(project=project, name=database["name"])
    rag.database_ensure(scope=project.scope, config=created)
    return database_summary(project=project, database=created)


@transaction.atomic
def database_update(*, project: Project, name: str, changes: dict) -> dict[str, Any]:
    """Change a database's mutable fields (`config` is merged key by key; the others replace);
    its detail. Raises NotFound, Invalid when `name` or `type` would change, ConfigInvalid (422)."""
    current = database_config_get(project=project, name=name)
    for field in IMMUTABLE_FIELDS:
        if field in changes and changes[field] != current[field]:
            raise Invalid(f"Database {field} is immutable: '{current[field]}' cannot become '{changes[field]}'")
    config = copy.deepcopy(project.config)
    entry = next(item for item in config["rag"]["databases"] if item["name"] == name)
    for field in UPDATABLE_FIELDS:
        if field not in changes:
            continue
        if field == "config":
            entry["config"] = {**(entry.get("config") or {}), **changes["config"]}
        else:
            entry[field] = changes[field]
    project = project_config_replace(project=project, config=config)
    updated = database_config_get(project=project, name=name)
    rag.database_ensure(scope=project.scope, config=updated)
    return database_detail(project=project, database=updated)


def database_delete(*, project: Project, name: str, delete_collection: bool = True) -> dict[str, Any]:
    """Remove a database from the config and, with `delete_collection`, its vectors.

    Raises NotFound; Conflict, with the spec's message, while datasets use it; ConfigInvalid when
    the config would be invalid without it."""
    current = database_config_get(project=project, name=name)
    dependents = dependent_datasets(project=project, name=name)
    if dependents:
        raise Conflict(
            f"Cannot delete database '{name}': {len(dependents)} dataset(s) depend on it. "
            f"Delete or reassign these datasets first: {dependents!r}"
        )
    snapshot = database_detail(project=project, database=current)
    config = copy.deepcopy(project.config)
    config["rag"]["databases"] = [item for item in config["rag"]["databases"] if item["name"] != name]
    if config["rag"].get("default_database") == name:
        remaining = config["rag"]["databases"]
        if remaining:
            config["rag"]["default_database"] = remaining[0]["name"]
        else:
            config["rag"].pop("default_database")
    project_config_replace(project=project, config=config)
    if delete_collection:
        rag.database_drop(scope=project.scope, name=name)
    return {
        "message": f"Database '{name}' deleted successfully",
        "database": snapshot,
        "collection_deleted": delete_collection,
    }
