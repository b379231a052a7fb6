"""Where the store keeps things on disk, and which names are allowed.

    MODELYARD_HOME/models/<source>/<model_id>/...            a model's files (what the row describes)
    MODELYARD_HOME/models/.partial/<source>/<model_id>/...   downloads in progress (resumable)
    MODELYARD_HOME/models/.locks/<source>/<model_id>.lock    one download of a model at a time

Names are checked before they become paths. A model id follows the hub's own rules (those of
`huggingface_hub.utils.validate_repo_id`): `name` or `namespace/name`, letters, digits, `-`, `_`
and `.`, at most 96 characters each, not starting or ending with `-` or `.`, no `--` or `..`, not
ending in `.git`. So every stored model is a repository a hub client can ask the mirror for, and
every id the store accepts is one the hub client accepts too.

A model's files are the regular files under its folder. A symbolic link counts only when its real
path stays inside the folder: links out of it (`leak.txt -> /etc/passwd`) and dangling links are
skipped with a warning, and linked folders are not descended into.
"""

import logging
import os
import re
from pathlib import Path

from apps.core import system
from apps.core.errors import Invalid

logger = logging.getLogger(__name__)

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MODEL_ID_RULES = (
    "'name' or 'namespace/name' of letters, digits, '-', '_' and '.' (at most 96 characters each, "
    "not starting or ending with '-' or '.', no '--' or '..', not ending in '.git')"
)

# Folders of the store that are not models.
INTERNAL_DIRS = (".partial", ".locks")


def check_source_name(source: str) -> str:
    if not SOURCE_NAME.match(source or ""):
        raise Invalid(f"invalid source name {source!r}: lowercase letters, digits, '-' and '_'")
    return source


def check_model_id(model_id: str) -> str:
    """The model id unchanged when the hub's rules accept it; Invalid (400) otherwise.

    Nothing is stripped: `/tmp/x` is an error, not `tmp/x`.
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        if not model_id:
            raise HFValidationError("empty")
        validate_repo_id(model_id)
    except HFValidationError:
        raise Invalid(f"invalid model id {model_id!r}: use {MODEL_ID_RULES}") from None
    return model_id


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
    """Files under `folder`, relative and '/'-separated, sorted; hidden folders (.git, .cache) left out.

    Every walk of a model folder goes through here: linked folders are not entered, and a linked
    file counts only when its real path is a regular file inside `folder` (see `contained_file`).
    """
    if not folder.is_dir():
        return []
    found = []
    for current, folders, names in os.walk(folder, followlinks=False):
        here = Path(current)
        for name in list(folders):
            if name.startswith(".") or (here / name).is_symlink():
                if not name.startswith("."):
                    logger.warning("%s: skipping linked folder %s", folder, (here / name).relative_to(folder))
                folders.remove(name)
        for name in names:
            relative = (here / name).relative_to(folder).as_posix()
            if contained_file(folder, relative) is not None:
                found.append(relative)
    return sorted(found)


def contained_file(folder: Path, relative: str) -> Path | None:
    """`folder/relative` when its real path is a regular file inside `folder`'s real path, else None.

    What the store records, hashes and serves: a link leading out of the folder, a dangling link
    or anything that is not a regular file is refused (with a warning for links).
    """
    path = folder / relative
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, dangling link, or a link loop
        if path.is_symlink():
            logger.warning("%s: skipping dangling link %s", folder, relative)
        return None
    if not real.is_relative_to(folder.resolve()):
        logger.warning("%s: skipping %s, a link to %s outside the model's folder", folder, relative, real)
        return None
    return path if real.is_file() else None


def remove_empty_parents(folder: Path, stop: Path) -> None:
    """Remove `folder`'s empty parents up to (not including) `stop`: `org/` after its last model."""
    current = folder.parent
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
