"""Public Python API of projects: projects and their config, datasets, stored files, uploads.

Processing (ingestion jobs, tasks) is `apps.projects.processing`. Vectors belong to the rag app:
deleting a project, a dataset or a file removes its chunks through `apps.rag.services`.
"""

import os
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from apps.core.errors import Conflict, NotFound
from apps.core.validation import model_fields_check
from apps.projects.config import (
    ConfigInvalid,
    config_masked,
    config_normalize,
    config_ordered,
    config_secrets_restored,
    config_template,
    config_validate,
)
from apps.projects.models import Dataset, DatasetFile, Project, StoredFile
from apps.projects.uploads import ReceivedFile
from apps.rag import services as rag_services

FILES_DIR = Path("projects") / "files"  # under MODELYARD_HOME
DEFAULT_TEMPLATE = "server"


# --- projects -------------------------------------------------------------------------------------


def projects_list(*, namespace: str) -> list[Project]:
    """The projects of `namespace`, by name (an unknown namespace has none)."""
    return list(Project.objects.filter(namespace=namespace).order_by("name"))


def project_get(*, namespace: str, name: str) -> Project:
    """The project `namespace/name`. Raises NotFound "Project ns/name not found"."""
    project = Project.objects.filter(namespace=namespace, name=name).first()
    if project is None:
        raise NotFound(f"Project {namespace}/{name} not found")
    return project


@transaction.atomic
def project_create(*, namespace: str, name: str, config_template_name: str | None = None) -> Project:
    """Create `namespace/name` with the config of the template named (`server` when None).
    Raises Invalid for a bad namespace or name, NotFound for an unknown template, Conflict when
    the project exists."""
    project = Project(namespace=namespace, name=name)
    model_fields_check(project)
    config = config_validate(
        config_template(template=config_template_name or DEFAULT_TEMPLATE, namespace=namespace, name=name)
    )
    project.config = _config_stored(config)
    try:
        with transaction.atomic():  # a savepoint: a concurrent create of the same name is a 409 too
            project.save()
    except IntegrityError:
        raise Conflict(f"Project {namespace}/{name} already exists") from None
    return project


def project_config_render(*, project: Project) -> dict:
    """The project's config as clients see it: the stored config with `datasets[]` rendered from
    the project's Dataset rows (name, database, data_processing_strategy), secrets masked
    (`config_masked`; a PUT sending a masked value back keeps the secret) and keys in the schema's
    order (`config_ordered`)."""
    config = dict(project.config)
    config["datasets"] = [
        {
            "name": dataset.name,
            "database": dataset.database,
            "data_processing_strategy": dataset.data_processing_strategy,
        }
        for dataset in project.datasets.order_by("name")
    ]
    return config_ordered(config_masked(config))


def project_config_check(*, project: Project, config: object) -> dict:
    """`config` as `project_config_replace` would store it: legacy forms converted, `name` and
    `namespace` defaulted to the project's (and required to match it), `datasets` defaulted to the
    project's datasets, secrets sent back masked restored from the stored config
    (`config_secrets_restored`); validated. Raises ConfigInvalid (422) listing every problem with its path."""
    if isinstance(config, dict):
        config = config_secrets_restored(config_normalize(config), project.config)
        config.setdefault("name", project.name)
        config.setdefault("namespace", project.namespace)
        if "datasets" not in config:
            config["datasets"] = project_config_render(project=project)["datasets"]
    config_validate(config)
    mismatched = [
        ((key,), f"must be the project's {key} {expected!r}", "value_error.mismatch")
        for key, expected in (("name", project.name), ("namespace", project.namespace))
        if config[key] != expected
    ]
    if mismatched:
        raise ConfigInvalid(mismatched)
    return config


@transaction.atomic
def project_config_replace(*, project: Project, config: dict) -> Project:
    """Replace the project's config with `config`, checked by `project_config_check`.

    Without a `datasets` key the project's datasets are kept (and must still name existing
    databases and strategies); with one, the rows are made to match it: new datasets are created,
    changed ones updated, missing ones deleted (with their chunks and files, as `dataset_delete`).
    Raises ConfigInvalid (422) listing every problem with its path.
    """
    config = project_config_check(project=project, config=config)
    wanted = {entry["name"]: entry for entry in config["datasets"]}
    for dataset in list(project.datasets.all()):
        entry = wanted.pop(dataset.name, None)
        if entry is None:
            dataset_delete(dataset=dataset)
            continue
        strategy = entry.get("data_processing_strategy", dataset.data_processing_strategy)
        if (dataset.database, dataset.data_processing_strategy) != (entry["database"], strategy):
            dataset.database, dataset.data_processing_strategy = entry["database"], strategy
            dataset.save(update_fields=["database", "data_processing_strategy"])
    for entry in wanted.values():
        Dataset.objects.create(
            project=project,
            name=entry["name"],
            database=entry["database"],
            data_processing_strategy=entry.get("data_processing_strategy") or _default_strategy_name(config),
        )
    project.config = _config_stored(config)
    project.save(update_fields=["config", "updated_at"])
    return project


def _config_stored(config: dict) -> dict:
    """What is kept on the row: everything but `datasets[]`, whose truth is the Dataset rows."""
    return {key: value for key, value in config.items() if key != "datasets"}


def _default_strategy_name(config: dict) -> str:
    """The strategy of a dataset that names none: the first (validation made sure there is one)."""
    return config["rag"]["data_processing_strategies"][0]["name"]


def project_delete(*, project: Project) -> dict:
    """Delete the project and everything it owns: datasets, their files no other project holds, its
    vectors (`apps.rag.services.scope_drop`). Returns the project as it was (`{namespace, name,
    config}`), which the spec's DELETE answers."""
    snapshot = {"namespace": project.namespace, "name": project.name, "config": project_config_render(project=project)}
    scope = project.scope
    with transaction.atomic():
        held = list(StoredFile.objects.filter(dataset_files__dataset__project=project).distinct())
        project.delete()
        _stored_files_prune(held)
    rag_services.scope_drop(scope=scope)
    return snapshot


# --- config lookups -------------------------------------------------------------------------------


def database_config_get(*, project: Project, name: str | None) -> dict:
    """The `rag.databases[]` entry named `name`, or the default database when None (the config's
    `default_database`, else the first). Raises NotFound naming the databases that exist."""
    rag = project.config.get("rag") or {}
    databases = rag.get("databases") or []
    names = [database["name"] for database in databases]
    if name is None:
        name = rag.get("default_database") or (names[0] if names else None)
        if name is None:
            raise NotFound(f"Project {project.scope} has no RAG database")
    for database in databases:
        if database["name"] == name:
            return database
    raise NotFound(f"Database {name!r} not found in project {project.scope}; databases: {', '.join(names) or 'none'}")


def strategy_config_get(*, project: Project, name: str) -> dict:
    """The `rag.data_processing_strategies[]` entry named `name`. Raises NotFound naming those that exist."""
    strategies = (project.config.get("rag") or {}).get("data_processing_strategies") or []
    for strategy in strategies:
        if strategy["name"] == name:
            return strategy
    names = ", ".join(strategy["name"] for strategy in strategies) or "none"
    raise NotFound(f"Data processing strategy {name!r} not found in project {project.scope}; strategies: {names}")


def strategies_list(*, project: Project) -> list[str]:
    """The names of the project's data processing strategies, in config order."""
    return [strategy["name"] for strategy in (project.config.get("rag") or {}).get("data_processing_strategies") or []]


# --- datasets -------------------------------------------------------------------------------------


def datasets_list(*, project: Project) -> list[Dataset]:
    """The project's datasets by name, annotated with `total_files` and `total_size_bytes`."""
    return list(
        project.datasets.annotate(
            total_files=Count("files"), total_size_bytes=Sum("files__file__size_bytes", default=0)
        ).order_by("name")
    )


def dataset_get(*, project: Project, name: str) -> Dataset:
    """The dataset `name` of the project. Raises NotFound "Dataset name not found"."""
    dataset = project.datasets.filter(name=name).first()
    if dataset is None:
        raise NotFound(f"Dataset {name} not found")
    return dataset


@transaction.atomic
def dataset_create(*, project: Project, name: str, database: str | None, data_processing_strategy: str) -> Dataset:
    """Create a dataset using a database (the default when None) and a strategy of the project's
    config. Raises Invalid for a bad name, ConfigInvalid (422, `loc` ["body", field]) naming the
    valid databases and strategies for every one of the two that the config lacks, Conflict when the
    dataset exists."""
    problems = []
    database_name = ""
    try:
        database_name = database_config_get(project=project, name=database)["name"]
    except NotFound as error:
        problems.append((("database",), error.message, "value_error.reference"))
    try:
        strategy_config_get(project=project, name=data_processing_strategy)
    except NotFound as error:
        problems.append((("data_processing_strategy",), error.message, "value_error.reference"))
    if problems:
        raise ConfigInvalid(problems, prefix=("body",))
    dataset = Dataset(
        project=project, name=name, database=database_name, data_processing_strategy=data_processing_strategy
    )
    model_fields_check(dataset)
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:
        raise Conflict(f"Dataset {name} already exists") from None
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete the dataset: each of its files' chunks in its database (`document_revert`) unless
    another dataset of the project holds the same file, then the rows, then the bytes no other
    dataset holds."""
    project = dataset.project
    files = list(StoredFile.objects.filter(dataset_files__dataset=dataset))
    for stored in files:
        others = DatasetFile.objects.filter(
            dataset__project=project, dataset__database=dataset.database, file=stored
        ).exclude(dataset=dataset)
        if not others.exists():
            rag_services.document_revert(scope=project.scope, file_hash=stored.sha256, database=dataset.database)
    with transaction.atomic():
        dataset.delete()
        _stored_files_prune(files)


# --- files ----------------------------------------------------------------------------------------


def stored_file_path(file: StoredFile) -> Path:
    """The absolute path of a stored file's bytes."""
    return settings.MODELYARD_HOME / file.path


def stored_file_relative_path(sha256: str) -> Path:
    """Where content with this SHA-256 lives, relative to MODELYARD_HOME: `projects/files/<sha[:2]>/<sha>`."""
    return FILES_DIR / sha256[:2] / sha256


def upload_temp_dir() -> Path:
    """Where uploads are written while they arrive: on the same filesystem as the stored files, so
    that keeping one is a rename."""
    path = settings.MODELYARD_HOME / FILES_DIR / "incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


def dataset_file_add(*, dataset: Dataset, received: ReceivedFile) -> tuple[DatasetFile, bool]:
    """Keep an upload (already on disk, hashed, in `upload_temp_dir`) in the dataset.

    The bytes move to their content-addressed path unless that content is stored already (then the
    temporary file is removed). Returns the dataset's file row and whether it was new; the same
    content uploaded to the same dataset again is not new (`skipped` in the spec's answer).
    """
    target = settings.MODELYARD_HOME / stored_file_relative_path(received.sha256)
    try:
        with transaction.atomic():
            stored, created = StoredFile.objects.select_for_update().get_or_create(
                sha256=received.sha256,
                defaults={"size_bytes": received.size, "path": str(stored_file_relative_path(received.sha256))},
            )
            if created or not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(received.temp_path, target)
            entry, added = DatasetFile.objects.get_or_create(
                dataset=dataset,
                file=stored,
                defaults={"original_filename": received.filename, "mime_type": received.content_type},
            )
    finally:
        received.temp_path.unlink(missing_ok=True)
    return entry, added


def dataset_file_get(*, dataset: Dataset, file_hash: str) -> DatasetFile:
    """The dataset's file with this SHA-256. Raises NotFound."""
    entry = dataset.files.select_related("file").filter(file__sha256=file_hash.lower()).first()
    if entry is None:
        raise NotFound(f"File {file_hash} not found in dataset {dataset.name}")
    return entry


def dataset_file_remove(*, dataset: Dataset, file_hash: str, remove_from_disk: bool) -> None:
    """Remove a file from a dataset: its chunks from every database of the project
    (`document_revert` with no database) unless another dataset of the project still holds it,
    the dataset's row, and with `remove_from_disk` the bytes unless any dataset still holds them.
    Raises NotFound for a hash the dataset does not have."""
    entry = dataset_file_get(dataset=dataset, file_hash=file_hash)
    project = dataset.project
    stored = entry.file
    held_elsewhere = DatasetFile.objects.filter(dataset__project=project, file=stored).exclude(pk=entry.pk).exists()
    if not held_elsewhere:
        rag_services.document_revert(scope=project.scope, file_hash=stored.sha256, database=None)
    with transaction.atomic():
        entry.delete()
        if remove_from_disk:
            _stored_files_prune([stored])


def _stored_files_prune(files: list[StoredFile]) -> None:
    """Delete the rows and bytes of those `files` that no dataset holds any more."""
    for stored in files:
        if DatasetFile.objects.filter(file=stored).exists():
            continue
        path = stored_file_path(stored)
        stored.delete()
        transaction.on_commit(lambda path=path: path.unlink(missing_ok=True))
