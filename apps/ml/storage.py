"""Where saved ML models live, and the checksums that guard them.

    MODELYARD_HOME/models/ml/classifier/<name>/   a SetFit model (sentence-transformer + pickled head)
    MODELYARD_HOME/models/ml/anomaly/<name>/      an anomaly detector (`detector.pkl`)

Each folder is a model-store entry (source `ml`, id `classifier/<name>` or `anomaly/<name>`), so it
shows in the store's admin, status and clean. Each holds MANIFEST_NAME: the model's facts and the
sha256 and size of every other file. SetFit heads and scikit-learn/PyOD estimators are pickles,
and unpickling runs code, so nothing is loaded unless `folder_verify` passed: the folder is the
one `model_folder` builds from a checked name (never a path a client gave), every listed file
has its recorded digest, and no file is there that the manifest does not list.

A model is written into a hidden sibling folder and renamed into place, so a crash mid-save never
leaves a half-written model under a real name; the next save removes such leftovers once they are
STAGING_STALE_S old.
"""

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.core import system
from apps.core.errors import Conflict, Invalid, NotFound
from apps.ml import naming

SOURCE = "ml"
KINDS = ("classifier", "anomaly")
MANIFEST_NAME = "modelyard-ml.json"
MANIFEST_FORMAT = 1
HASH_CHUNK = 1024 * 1024
# A staging folder lives for the seconds a save takes (`.<name>.<id>.partial`, or `.old` while an
# overwrite swaps folders); one older than this was left by a killed process and is removed.
STAGING_STALE_S = 3600


class TamperedModel(Conflict):
    """A saved model whose files do not match its manifest: refused before anything is unpickled."""


@dataclass(frozen=True)
class SavedModel:
    """A saved model as its manifest describes it."""

    kind: str
    name: str
    folder: Path
    manifest: dict[str, Any]

    @property
    def store_id(self) -> str:
        """Its id in the model store (source `ml`)."""
        return f"{self.kind}/{self.name}"

    @property
    def info(self) -> dict[str, Any]:
        return self.manifest.get("info", {})

    @property
    def created(self) -> str:
        return self.manifest.get("created", "")

    @property
    def fingerprint(self) -> str:
        """Changes whenever the model's files do: the key of a loaded copy in a cache."""
        files = self.manifest.get("files", {})
        return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def kind_root(kind: str) -> Path:
    """The folder of every saved model of `kind` (created on first use)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    root = system.models_dir() / SOURCE / kind
    root.mkdir(parents=True, exist_ok=True)
    return root


def model_folder(kind: str, name: str) -> Path:
    """The folder of model `name`; the name is checked first, so the path stays inside `kind_root`."""
    return kind_root(kind) / naming.name_check(name)


def staging_folder(kind: str, name: str) -> Path:
    """A fresh hidden folder to write a model into before `folder_publish` renames it into place.
    Stale staging folders of killed processes are removed first (`staging_sweep`)."""
    staging_sweep(kind)
    folder = kind_root(kind) / f".{naming.name_check(name)}.{uuid.uuid4().hex[:12]}.partial"
    folder.mkdir()
    return folder


def staging_sweep(kind: str, *, older_than_s: float = STAGING_STALE_S) -> list[str]:
    """Remove the `.partial` and `.old` folders of `kind` untouched for `older_than_s` seconds (a
    process killed mid-save left them); returns their names."""
    removed = []
    cutoff = time.time() - older_than_s
    for folder in kind_root(kind).iterdir():
        if not folder.name.startswith(".") or not folder.name.endswith((".partial", ".old")):
            continue
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed.append(folder.name)
        except OSError:
            continue  # another process removed or published it meanwhile
    return removed


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_files(folder: Path) -> list[str]:
    """Every entry under `folder` but the manifest, as relative paths; links are listed, never followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for entry in [*files, *(d for d in dirs if (Path(root) / d).is_symlink())]:
            relative = (Path(root) / entry).relative_to(folder).as_posix()
            if relative != MANIFEST_NAME:
                found.append(relative)
    return sorted(found)


def manifest_write(
    folder: Path, *, kind: str, name: str, created: str, info: dict[str, Any], description: str = ""
) -> dict:
    """Hash every file of `folder` and write its manifest; returns the manifest."""
    files = {}
    for relative in _folder_files(folder):
        path = folder / relative
        if path.is_symlink() or not path.is_file():
            raise Invalid(f"refusing to save {relative!r}: not a regular file")
        files[relative] = {"sha256": file_sha256(path), "size": path.stat().st_size}
    manifest = {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "name": name,
        "created": created,
        "description": description,
        "info": info,
        "files": files,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def manifest_read(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as error:
        raise TamperedModel(f"model at {folder.name!r} has no readable manifest ({type(error).__name__})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise TamperedModel(f"model at {folder.name!r} has a malformed manifest")
    return manifest


def manifest_update(saved: SavedModel, **fields: Any) -> SavedModel:
    """Change top-level fields of a model's manifest (its description); the files are untouched."""
    manifest = {**saved.manifest, **fields}
    temporary = saved.folder / f".{MANIFEST_NAME}.{uuid.uuid4().hex[:8]}"
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    temporary.replace(saved.folder / MANIFEST_NAME)
    return SavedModel(kind=saved.kind, name=saved.name, folder=saved.folder, manifest=manifest)


def folder_verify(saved: SavedModel) -> None:
    """Raise TamperedModel (409) unless every file of the model has the sha256 and size its manifest
    records and no unlisted file sits beside them. Runs before any pickle in the folder is opened."""
    listed = saved.manifest["files"]
    present = _folder_files(saved.folder)
    extra = sorted(set(present) - set(listed))
    if extra:
        raise TamperedModel(f"model {saved.name!r} holds files its manifest does not list: {', '.join(extra)}")
    for relative, record in listed.items():
        path = saved.folder / relative
        if relative.startswith("/") or ".." in Path(relative).parts or not path.is_file() or path.is_symlink():
            raise TamperedModel(f"model {saved.name!r}: file {relative!r} is missing or not a regular file")
        if path.stat().st_size != record.get("size") or file_sha256(path) != record.get("sha256"):
            raise TamperedModel(
                f"model {saved.name!r}: file {relative!r} does not match its checksum; refusing to load it"
            )


def saved_get(kind: str, name: str) -> SavedModel:
    """The saved model `name` of `kind`; NotFound (404) when there is none."""
    folder = model_folder(kind, name)
    if not (folder / MANIFEST_NAME).is_file():
        raise NotFound(f"{kind} model {name!r} not found")
    return SavedModel(kind=kind, name=name, folder=folder, manifest=manifest_read(folder))


def saved_list(kind: str) -> list[SavedModel]:
    """Every saved model of `kind`, by name; folders without a manifest (or hidden) are not models."""
    models = []
    for folder in sorted(kind_root(kind).iterdir()):
        if folder.name.startswith(".") or not folder.is_dir() or not (folder / MANIFEST_NAME).is_file():
            continue
        try:
            models.append(SavedModel(kind=kind, name=folder.name, folder=folder, manifest=manifest_read(folder)))
        except TamperedModel:
            continue  # listed by the store, never loadable: not offered here
    return models


def saved_resolve(kind: str, name: str, *, where: Callable[[SavedModel], bool] | None = None) -> SavedModel:
    """The saved model a client names: `name` itself, or for `base-latest` the most recently created
    version of `base` (`base_YYYYMMDD_HHMMSS`, or `base` saved with overwrite) among those `where`
    accepts (all when None). NotFound otherwise."""
    naming.name_check(name)
    base = naming.latest_base(name)
    if base is None:
        return saved_get(kind, name)
    candidates = [
        saved
        for saved in saved_list(kind)
        if naming.version_of(saved.name, base=base) is not None and (where is None or where(saved))
    ]
    if not candidates:
        which = "matching" if where is not None else "saved"
        raise NotFound(f"no {which} {kind} model named {base!r} or {base}_YYYYMMDD_HHMMSS (for {name!r})")
    return max(candidates, key=lambda saved: (saved.created, naming.version_of(saved.name, base=base) or ""))


def folder_publish(staging: Path, *, kind: str, name: str, replace: bool) -> Path:
    """Rename a fully written `staging` folder to the model's folder. An existing model is swapped
    out only with `replace` (overwrite); otherwise FileExistsError."""
    target = model_folder(kind, name)
    if target.exists():
        if not replace:
            raise FileExistsError(target)
        trash = kind_root(kind) / f".{name}.{uuid.uuid4().hex[:12]}.old"
        target.rename(trash)
        staging.rename(target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(target)
    return target
