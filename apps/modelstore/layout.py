"""Where the store keeps things on disk, and which names are allowed.

    MODELYARD_HOME/models/<source>/<model_id>/...            a model's files (what the row describes)
    MODELYARD_HOME/models/.partial/<source>/<model_id>/...   downloads in progress (resumable)
    MODELYARD_HOME/models/.locks/<source>/<model_id>.lock    one download of a model at a time

Names are checked before they become paths: a model id is one or more segments of letters,
digits, `-`, `_` and `.` separated by single slashes, never `.` or `..`.
"""

import re
from pathlib import Path

from apps.core import system
from apps.core.errors import Invalid

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_MODEL_ID_LENGTH = 255

# Folders of the store that are not models.
INTERNAL_DIRS = (".partial", ".locks")


def check_source_name(source: str) -> str:
    if not SOURCE_NAME.match(source or ""):
        raise Invalid(f"invalid source name {source!r}: lowercase letters, digits, '-' and '_'")
    return source


def check_model_id(model_id: str) -> str:
    """The model id, stripped of surrounding slashes; Invalid when it is not a safe path."""
    cleaned = (model_id or "").strip().strip("/")
    segments = cleaned.split("/")
    if (
        not cleaned
        or len(cleaned) > MAX_MODEL_ID_LENGTH
        or any(not SEGMENT.match(part) or part in {".", ".."} for part in segments)
    ):
        raise Invalid(f"invalid model id {model_id!r}: segments of letters, digits, '-', '_' and '.' separated by '/'")
    return cleaned


def check_file_path(path: str) -> str:
    """A file path inside a model folder as a source lists it: relative, no `..`, no empty parts."""
    parts = (path or "").split("/")
    if not path or "\\" in path or "\0" in path or any(part in {"", ".", ".."} for part in parts):
        raise Invalid(f"unsafe file path {path!r} in the listing")
    return path


def models_root() -> Path:
    return system.models_dir()


def model_dir(source: str, model_id: str) -> Path:
    return models_root() / check_source_name(source) / check_model_id(model_id)


def partial_dir(source: str, model_id: str) -> Path:
    return models_root() / ".partial" / check_source_name(source) / check_model_id(model_id)


def partial_file(source: str, model_id: str, path: str, digest: str | None) -> Path:
    """Where a file downloads to; named after its expected hash, so a changed file starts afresh."""
    return partial_dir(source, model_id) / f"{path}.{(digest or 'nohash')[:16]}.part"


def lock_path(source: str, model_id: str) -> Path:
    path = models_root() / ".locks" / check_source_name(source) / f"{check_model_id(model_id)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def list_model_files(folder: Path) -> list[str]:
    """Files under `folder`, relative and '/'-separated, sorted; hidden folders (.git, .cache) left out."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts[:-1]):
            continue
        if path.is_file():
            found.append(relative.as_posix())
    return sorted(found)


def remove_empty_parents(folder: Path, stop: Path) -> None:
    """Remove `folder`'s empty parents up to (not including) `stop`: `org/` after its last model."""
    current = folder.parent
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
