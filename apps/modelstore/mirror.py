"""The store as a Hugging Face hub: the JSON and headers `huggingface_hub` expects.

Each stored model is a repository whose only branch, `main`, is one commit: the sha1 of its
file list and hashes (`manifest.content_revision`), dated when the model was stored. `refs`,
`commits` and `paths-info` answer from that, so `HfFileSystem` (`hf://`) works on the store.
Repository ids follow the hub's rules (400 otherwise), and a file is served only when its real
path is inside the model's folder (a link out of it is "not found"). Files answer with the hub's headers:
`X-Repo-Commit`, `ETag` (sha256 for LFS files, git blob id otherwise), `Content-Length`,
`Accept-Ranges`, and errors carry `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound)
so clients tell a missing file from a broken server.
"""

import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db.models import Case, IntegerField, Value, When

from apps.core.errors import DomainError, NotFound
from apps.modelstore import layout, manifest, metadata
from apps.modelstore.models import LocalModel
from apps.modelstore.sources import DEFAULT_SOURCE
from apps.modelstore.units import parse_hub_count

DEFAULT_REVISION = "main"
SEARCH_LIMIT_MAX = 1000


class RangeNotSatisfiable(DomainError):
    status_code = 416


@dataclass(frozen=True)
class Repo:
    model: LocalModel
    sha: str


def repo_get(repo_id: str) -> Repo:
    """The stored model served as `repo_id` (the hub's copy first when several sources have it)."""
    repo_id = layout.check_model_id(repo_id)
    preferred = Case(When(source=DEFAULT_SOURCE, then=Value(0)), default=Value(1), output_field=IntegerField())
    model = LocalModel.objects.filter(model_id=repo_id).order_by(preferred, "source").first()
    if model is None or not Path(model.path).is_dir():
        raise NotFound(f"Repository {repo_id} not found", error_code="RepoNotFound")
    return Repo(model=model, sha=manifest.content_revision(model.manifest))


def revision_check(repo: Repo, revision: str) -> None:
    if revision not in (DEFAULT_REVISION, repo.sha):
        raise NotFound(f"Revision {revision} not found in {repo.model.model_id}", error_code="RevisionNotFound")


def file_get(repo: Repo, path: str) -> tuple[Path, manifest.FileRecord]:
    """The file to serve and its record; EntryNotFound unless it is recorded and its real path is
    a regular file inside the model's folder."""
    record = repo.model.manifest.get(path)
    file_path = layout.contained_file(Path(repo.model.path), path) if record is not None else None
    if file_path is None:
        raise NotFound(f"Entry {path} not found in {repo.model.model_id}", error_code="EntryNotFound")
    return file_path, record


def hub_time(moment: Any) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- JSON ------------------------------------------------------------------------------------


def model_info(repo: Repo, *, blobs: bool = False) -> dict[str, Any]:
    """`GET /api/models/{repo}`: what `HfApi.model_info` parses (siblings with sizes when `blobs`)."""
    model, facts = repo.model, repo.model.metadata
    payload: dict[str, Any] = {
        "_id": repo.sha[:24],
        "id": model.model_id,
        "modelId": model.model_id,
        "author": model.author or None,
        "sha": repo.sha,
        "lastModified": hub_time(model.downloaded_at),
        "createdAt": hub_time(model.downloaded_at),
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "library_name": facts.get("library_name"),
        "pipeline_tag": facts.get("pipeline_tag"),
        "tags": facts.get("tags") or [],
        "cardData": facts.get("cardData") or {},
        "config": facts.get("config") or {},
        "siblings": [
            _sibling(name, model.manifest[name], blobs=blobs) for name in model.files if name in model.manifest
        ],
        "spaces": [],
        "usedStorage": model.size_bytes,
    }
    if facts.get("safetensors"):
        payload["safetensors"] = facts["safetensors"]
    if facts.get("gguf"):
        payload["gguf"] = facts["gguf"]
    return payload


def _sibling(name: str, record: manifest.FileRecord, *, blobs: bool) -> dict[str, Any]:
    sibling: dict[str, Any] = {"rfilename": name}
    if blobs:
        sibling["size"] = record["size"]
        sibling["blobId"] = record["blob_id"]
        if record["lfs"]:
            sibling["lfs"] = _lfs(record)
    return sibling


def _lfs(record: manifest.FileRecord) -> dict[str, Any]:
    pointer = manifest.lfs_pointer(record["sha256"], record["size"])
    return {"sha256": record["sha256"], "oid": record["sha256"], "size": record["size"], "pointerSize": len(pointer)}


def tree(repo: Repo, *, path: str = "", recursive: bool = False) -> list[dict[str, Any]]:
    """`GET /api/models/{repo}/tree/{rev}/{path}`: files and folders under `path`, like the hub."""
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    if prefix and not any(name.startswith(prefix) for name in repo.model.files):
        if path.strip("/") in repo.model.manifest:
            raise NotFound(f"{path} is a file, not a folder", error_code="EntryNotFound")
        raise NotFound(f"Entry {path} not found in {repo.model.model_id}", error_code="EntryNotFound")
    entries: dict[str, dict[str, Any]] = {}
    for name in repo.model.files:
        if not name.startswith(prefix) or name not in repo.model.manifest:
            continue
        rest = name[len(prefix) :].split("/")
        for depth in range(1, len(rest)):  # the folders on the way
            folder = prefix + "/".join(rest[:depth])
            if depth == 1 or recursive:
                entries.setdefault(folder, _folder_entry(repo, folder))
            if not recursive:
                break
        if len(rest) == 1 or recursive:
            entries[name] = _file_entry(repo, name)
    return [entries[key] for key in sorted(entries)]


def _file_entry(repo: Repo, name: str) -> dict[str, Any]:
    """A file as the hub's tree and paths-info list it."""
    record = repo.model.manifest[name]
    entry: dict[str, Any] = {"type": "file", "oid": record["blob_id"], "size": record["size"], "path": name}
    if record["lfs"]:
        entry["lfs"] = {"oid": record["sha256"], "size": record["size"], "pointerSize": _lfs(record)["pointerSize"]}
    return entry


def _folder_entry(repo: Repo, folder: str) -> dict[str, Any]:
    return {"type": "directory", "oid": _folder_oid(repo, folder), "size": 0, "path": folder}


def paths_info(repo: Repo, paths: list[str], *, expand: bool = False) -> list[dict[str, Any]]:
    """`POST /api/models/{repo}/paths-info/{rev}`: the entries of the paths that exist (files or
    folders, in the order asked), others left out as the hub does; `expand` adds `lastCommit`."""
    entries = []
    for path in dict.fromkeys(path.strip("/") for path in paths):
        if path in repo.model.manifest and path in repo.model.files:
            entry = _file_entry(repo, path)
        elif path and any(name.startswith(path + "/") for name in repo.model.files):
            entry = _folder_entry(repo, path)
        else:
            continue
        if expand:
            entry["lastCommit"] = {key: value for key, value in commit(repo).items() if key in ("id", "title", "date")}
        entries.append(entry)
    return entries


def commit(repo: Repo) -> dict[str, Any]:
    """The repository's one commit, as `GET /api/models/{repo}/commits/{rev}` lists commits."""
    origin = repo.model.metadata.get("origin")
    return {
        "id": repo.sha,
        "title": f"Stored from {origin}" if origin else "Stored in Modelyard",
        "message": "",
        "authors": [{"user": "modelyard", "avatar": None}],
        "date": hub_time(repo.model.downloaded_at),
    }


def refs(repo: Repo) -> dict[str, Any]:
    """`GET /api/models/{repo}/refs`: the one branch, `main`, at the repository's commit."""
    main = {"name": DEFAULT_REVISION, "ref": f"refs/heads/{DEFAULT_REVISION}", "targetCommit": repo.sha}
    return {"branches": [main], "converts": [], "tags": [], "pullRequests": []}


def _folder_oid(repo: Repo, folder: str) -> str:
    inside = {name: record for name, record in repo.model.manifest.items() if name.startswith(folder + "/")}
    return manifest.content_revision(inside)


def search(
    *,
    search_text: str | None = None,
    author: str | None = None,
    tags: list[str] | None = None,
    pipeline_tag: str | None = None,
    num_parameters: str | None = None,
    limit: int | None = None,
) -> list[Repo]:
    """`GET /api/models`: the stored models matching the hub's list filters."""
    low, high = _parameter_range(num_parameters)
    found: dict[str, Repo] = {}
    preferred = Case(When(source=DEFAULT_SOURCE, then=Value(0)), default=Value(1), output_field=IntegerField())
    for model in LocalModel.objects.order_by("model_id", preferred, "source"):
        if model.model_id in found or not Path(model.path).is_dir():
            continue
        facts = model.metadata
        model_tags = set(facts.get("tags") or [])
        if search_text and search_text.lower() not in model.model_id.lower():
            continue
        if author and model.author.lower() != author.lower():
            continue
        if tags and not all(tag in model_tags for tag in tags):
            continue
        if pipeline_tag and facts.get("pipeline_tag") != pipeline_tag:
            continue
        if low is not None or high is not None:
            total = metadata.parameter_total(facts.get("safetensors"), facts.get("gguf"))
            if total is None or (low is not None and total < low) or (high is not None and total > high):
                continue
        found[model.model_id] = Repo(model=model, sha=manifest.content_revision(model.manifest))
    repos = list(found.values())
    return repos[: min(limit or SEARCH_LIMIT_MAX, SEARCH_LIMIT_MAX)]


def _parameter_range(text: str | None) -> tuple[float | None, float | None]:
    """The hub's `num_parameters=min:6B,max:9B`."""
    low = high = None
    for part in (text or "").split(","):
        name, _, value = part.partition(":")
        count = parse_hub_count(value)
        if name.strip() == "min":
            low = count
        elif name.strip() == "max":
            high = count
    return low, high


# --- files -------------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _position(digits: str) -> int | None:
    """A byte position from the header's digits; past 2**63 it is "beyond any file" (and Python's
    int() refuses strings over 4,300 digits)."""
    if not digits:
        return None
    return int(digits) if len(digits) <= 19 else 2**63


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) of a single `Range: bytes=…` header; None to send everything."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # not a single byte range: ignored, as RFC 9110 allows
    first, last = (_position(group) for group in match.groups())
    if first is None:
        length = last
        if length == 0:
            raise RangeNotSatisfiable("empty suffix range", error_code="RangeNotSatisfiable", size=size)
        return max(size - length, 0), size - 1
    start = first
    end = min(last, size - 1) if last is not None else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"range {header} outside 0-{size - 1}", error_code="RangeNotSatisfiable", size=size)
    return start, end


def file_headers(repo: Repo, path: str, record: manifest.FileRecord) -> dict[str, str]:
    tag = manifest.etag(record)
    headers = {
        "X-Repo-Commit": repo.sha,
        "ETag": f'"{tag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(Path(path).name)}",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if record["lfs"]:
        headers["X-Linked-Etag"] = f'"{tag}"'
        headers["X-Linked-Size"] = str(record["size"])
    return headers
