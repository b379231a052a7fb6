"""Example projects we author, importable as projects: the spec's Examples section.

Each example is a folder `apps/projects/examples/<id>/` (data only; this module is the code) with:
- `manifest.yaml`: `id`, `slug`, `title`, `description`, `primaryModel`, `tags`, `updated_at`,
  `config` (the config file's name) and `datasets: [{name, database, strategy, files: [paths]}]`,
  the paths relative to the example's folder;
- the project config it names (`llamafarm.yaml`), valid for our schema (`apps.projects.config`);
- the files of its datasets.

Importing goes through the same services as the HTTP API: `project_create` then
`project_config_replace` for the config, `dataset_create`, `dataset_file_add` for each file (as an
upload), and `apps.projects.processing.dataset_process_start` when `process` is asked. An import
is one transaction: a failure leaves no half-made project behind.
"""

import hashlib
import mimetypes
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from apps.core.errors import NotFound
from apps.projects import services
from apps.projects.models import Dataset, Project
from apps.projects.processing import dataset_process_start
from apps.projects.uploads import ReceivedFile, filename_fitted

# A folder beside this module; it has no __init__.py, so `apps.projects.examples` stays this module.
EXAMPLES_DIR = Path(__file__).with_name("examples")


@dataclass(frozen=True)
class ExampleDataset:
    """One dataset of an example's manifest, its files resolved to absolute paths."""

    name: str
    database: str
    strategy: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class Example:
    """One example project as its folder describes it."""

    id: str
    folder: Path
    manifest: dict[str, Any]
    config_path: Path
    datasets: tuple[ExampleDataset, ...]

    def config(self) -> dict[str, Any]:
        """The example's project config as its file has it (a fresh dict each call)."""
        return yaml.safe_load(self.config_path.read_text()) or {}


def size_human(size: int) -> str:
    """A size in bytes as the spec writes it: `2.0MB` for 2,097,152, `4.0KB` for 4,096, `512B`."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{int(value)}B" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TB"


def _inside(folder: Path, relative: str) -> Path:
    """`folder/relative`, refusing a path that leaves `folder` (a manifest is data, not trusted code)."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise ValueError(f"{relative!r} is not a file inside {folder}")
    return path


def _example_load(folder: Path) -> Example:
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text()) or {}
    datasets = tuple(
        ExampleDataset(
            name=entry["name"],
            database=entry["database"],
            strategy=entry["strategy"],
            files=tuple(_inside(folder, relative) for relative in entry.get("files") or []),
        )
        for entry in manifest.get("datasets") or []
    )
    return Example(
        id=manifest["id"],
        folder=folder,
        manifest=manifest,
        config_path=_inside(folder, manifest.get("config") or "llamafarm.yaml"),
        datasets=datasets,
    )


@cache
def _examples() -> dict[str, Example]:
    """Every example under EXAMPLES_DIR, by id (read once per process: they ship with the code)."""
    found = {}
    for manifest in sorted(EXAMPLES_DIR.glob("*/manifest.yaml")):
        example = _example_load(manifest.parent)
        found[example.id] = example
    return found


def examples_all() -> list[Example]:
    """The examples, by id."""
    return list(_examples().values())


def example_get(*, example_id: str) -> Example:
    """The example `example_id`. Raises NotFound naming the examples that exist."""
    example = _examples().get(example_id)
    if example is None:
        raise NotFound(f"Example '{example_id}' not found; examples: {', '.join(_examples()) or 'none'}")
    return example


def example_summary(example: Example) -> dict[str, Any]:
    """The spec's list entry: manifest fields, `dataset_count`, and real sizes on disk —
    `data_size_bytes` (every dataset file, each counted once), `project_size_bytes` (manifest
    and config) — with their human forms."""
    data_bytes = sum(path.stat().st_size for path in {p for dataset in example.datasets for p in dataset.files})
    project_bytes = (example.folder / "manifest.yaml").stat().st_size + example.config_path.stat().st_size
    manifest = example.manifest
    return {
        "id": example.id,
        "slug": manifest.get("slug") or example.id,
        "title": manifest["title"],
        "description": manifest.get("description"),
        "primaryModel": manifest.get("primaryModel"),
        "tags": list(manifest.get("tags") or []),
        "dataset_count": len(example.datasets),
        "data_size_bytes": data_bytes,
        "data_size_human": size_human(data_bytes),
        "project_size_bytes": project_bytes,
        "project_size_human": size_human(project_bytes),
        "updated_at": str(manifest["updated_at"]) if manifest.get("updated_at") else None,
    }


def example_datasets(*, example_id: str) -> list[dict[str, Any]]:
    """The example's datasets: `{example_id, example_title, name, database, strategy, files (paths
    relative to the example), file_count, size_bytes, size_human}`. Raises NotFound."""
    example = example_get(example_id=example_id)
    entries = []
    for dataset in example.datasets:
        size = sum(path.stat().st_size for path in dataset.files)
        entries.append(
            {
                "example_id": example.id,
                "example_title": example.manifest["title"],
                "name": dataset.name,
                "database": dataset.database,
                "strategy": dataset.strategy,
                "files": [str(path.relative_to(example.folder.resolve())) for path in dataset.files],
                "file_count": len(dataset.files),
                "size_bytes": size,
                "size_human": size_human(size),
            }
        )
    return entries


# --- importing ------------------------------------------------------------------------------------


def _received(path: Path) -> ReceivedFile:
    """A copy of `path` in the upload area, hashed as an upload is, for `dataset_file_add`."""
    digest = hashlib.sha256()
    with (
        path.open("rb") as source,
        tempfile.NamedTemporaryFile(dir=services.upload_temp_dir(), prefix="example-", delete=False) as target,
    ):
        while block := source.read(1024 * 1024):
            digest.update(block)
            target.write(block)
    return ReceivedFile(
        temp_path=Path(target.name),
        sha256=digest.hexdigest(),
        size=path.stat().st_size,
        filename=filename_fitted(path.name),
        content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    )


def _dataset_fill(*, project: Project, dataset: ExampleDataset, name: str) -> tuple[Dataset, int]:
    """The project's dataset `name` (created from the example's database and strategy unless it
    exists) with every file of the example's dataset added; (dataset, files added or already there).
    NotFound (404) naming the project's databases or strategies when it lacks the example's: the
    example names them, not the request body (whose unknown names `dataset_create` answers with 422)."""
    found = project.datasets.filter(name=name).first()
    if found is None:
        services.database_config_get(project=project, name=dataset.database)
        services.strategy_config_get(project=project, name=dataset.strategy)
        found = services.dataset_create(
            project=project, name=name, database=dataset.database, data_processing_strategy=dataset.strategy
        )
    for path in dataset.files:
        services.dataset_file_add(dataset=found, received=_received(path))
    return found, len(dataset.files)


def _process(project: Project, dataset_name: str) -> str:
    return str(dataset_process_start(project=project, dataset_name=dataset_name, action_type="process").pk)


def _datasets_import(*, project: Project, example: Example, process: bool) -> tuple[list[str], list[str]]:
    """Every dataset of the example into the project (`_dataset_fill`), and with `process` a run
    each; (dataset names, task ids)."""
    names, task_ids = [], []
    for dataset in example.datasets:
        _dataset_fill(project=project, dataset=dataset, name=dataset.name)
        names.append(dataset.name)
        if process:
            task_ids.append(_process(project, dataset.name))
    return names, task_ids


def _rag_merged(*, project: Project, example: Example) -> None:
    """Add the example's databases and processing strategies to the project's config (by name; the
    project's own entries win), and its default database when the project has none. Validated as
    any config update is (ConfigInvalid, 422)."""
    config = services.project_config_render(project=project)
    config.pop("datasets")  # kept as they are
    rag = dict(config.get("rag") or {})
    example_rag = example.config().get("rag") or {}
    for key in ("databases", "data_processing_strategies"):
        entries = list(rag.get(key) or [])
        names = {entry["name"] for entry in entries}
        entries += [entry for entry in example_rag.get(key) or [] if entry["name"] not in names]
        rag[key] = entries
    if "default_database" not in rag and example_rag.get("default_database"):
        rag["default_database"] = example_rag["default_database"]
    config["rag"] = rag
    services.project_config_replace(project=project, config=config)


@transaction.atomic
def example_import_project(*, example_id: str, namespace: str, name: str, process: bool) -> dict[str, Any]:
    """Create the project `namespace/name` from the example: its config (with `name` and
    `namespace` replaced), its datasets with their files, and with `process` a dataset run each.

    Returns `{project, namespace, datasets: [names], task_ids: [one per dataset when process]}`.
    Raises NotFound for an unknown example, Conflict when the project exists, Invalid for a bad name.
    """
    example = example_get(example_id=example_id)
    project = services.project_create(namespace=namespace, name=name)
    config = example.config()
    config.update(name=name, namespace=namespace, datasets=[])
    services.project_config_replace(project=project, config=config)
    names, task_ids = _datasets_import(project=project, example=example, process=process)
    return {"project": name, "namespace": namespace, "datasets": names, "task_ids": task_ids}


@transaction.atomic
def example_import_data(
    *, example_id: str, namespace: str, project: str, include_strategies: bool, process: bool
) -> dict[str, Any]:
    """Add the example's datasets (and with `include_strategies` its databases and processing
    strategies) to the existing project; a dataset of the same name is reused, files it holds
    already are kept once. With `process`, a dataset run each.

    Returns `{project, namespace, datasets, task_ids}`. Raises NotFound for an unknown example or
    project, or (without `include_strategies`) a database or strategy the project does not have.
    """
    example = example_get(example_id=example_id)
    found = services.project_get(namespace=namespace, name=project)
    if include_strategies:
        _rag_merged(project=found, example=example)
    names, task_ids = _datasets_import(project=found, example=example, process=process)
    return {"project": project, "namespace": namespace, "datasets": names, "task_ids": task_ids}


@transaction.atomic
def example_import_dataset(
    *,
    example_id: str,
    namespace: str,
    project: str,
    dataset: str,
    target_dataset: str | None,
    include_strategies: bool,
    process: bool,
) -> dict[str, Any]:
    """Add one dataset of the example to the existing project, as `target_dataset` when given.

    Returns `{project, namespace, dataset, file_count, task_id (null without process)}`. Raises
    NotFound for an unknown example, project or example dataset (naming the example's datasets).
    """
    example = example_get(example_id=example_id)
    source = next((entry for entry in example.datasets if entry.name == dataset), None)
    if source is None:
        names = ", ".join(entry.name for entry in example.datasets)
        raise NotFound(f"Dataset '{dataset}' not found in example '{example_id}'; datasets: {names}")
    found = services.project_get(namespace=namespace, name=project)
    if include_strategies:
        _rag_merged(project=found, example=example)
    target, count = _dataset_fill(project=found, dataset=source, name=target_dataset or source.name)
    task_id = _process(found, target.name) if process else None
    return {"project": project, "namespace": namespace, "dataset": target.name, "file_count": count, "task_id": task_id}
