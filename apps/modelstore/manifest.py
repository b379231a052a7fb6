"""Per-file facts of a stored model: size, mtime, and the content hash git and the hub use.

The hub identifies a file by its git blob id (sha1 of `blob <size>\\0<content>`) or, for files
kept in git-LFS (weights, large files), by the sha256 of the content; the `ETag` of a download is
the one or the other. The store keeps both facts per file so the mirror answers like the hub and
a download can be verified against what the hub listed.
"""

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

# Extensions the hub's default .gitattributes sends to LFS; anything larger than 10 MiB goes too.
LFS_SUFFIXES = frozenset(
    ".7z .arrow .bin .bz2 .ckpt .ftz .gguf .gz .h5 .joblib .mlmodel .model .msgpack .npy .npz .onnx .ot "
    ".parquet .pb .pickle .pkl .pt .pth .rar .safetensors .tar .tflite .tgz .wasm .xz .zip .zst".split()
)
LFS_MIN_SIZE = 10 * 1024 * 1024
HASH_CHUNK = 4 * 1024 * 1024

FileRecord = dict[str, Any]  # {"size", "mtime", "lfs", "sha256", "blob_id"}


def is_lfs(path: str, size: int) -> bool:
    return size >= LFS_MIN_SIZE or PurePosixPath(path).suffix.lower() in LFS_SUFFIXES


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class ContentHasher:
    """Hashes a file's content as it streams by: sha256 for LFS files, the git blob sha1 otherwise."""

    def __init__(self, *, lfs: bool, size: int) -> None:
        self.lfs = lfs
        self.size = size
        self.reset()

    def reset(self) -> None:
        if self.lfs:
            self._hash = hashlib.sha256()
        else:
            self._hash = hashlib.sha1()
            self._hash.update(b"blob %d\0" % self.size)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class ListedDigest:
    """Stands in for a hasher when verification is off: the digest is the one the source listed."""

    def __init__(self, digest: str) -> None:
        self.digest = digest

    def update(self, data: bytes) -> None:
        pass

    def reset(self) -> None:
        pass

    def hexdigest(self) -> str:
        return self.digest


def hash_file(path: Path, *, lfs: bool, size: int | None = None) -> str:
    size = path.stat().st_size if size is None else size
    hasher = ContentHasher(lfs=lfs, size=size)
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def file_record(path: Path, relative: str, *, known: FileRecord | None = None) -> FileRecord:
    """The record of one file; a `known` record with the same size and mtime is reused unhashed."""
    stat = path.stat()
    if known and known.get("size") == stat.st_size and known.get("mtime") == stat.st_mtime_ns:
        return known
    lfs = is_lfs(relative, stat.st_size)
    digest = hash_file(path, lfs=lfs, size=stat.st_size)
    return record_for(size=stat.st_size, mtime=stat.st_mtime_ns, lfs=lfs, digest=digest)


def record_for(*, size: int, mtime: int, lfs: bool, digest: str, blob_id: str | None = None) -> FileRecord:
    """A record from a content digest (sha256 for LFS files, the blob id otherwise)."""
    if lfs:
        return {
            "size": size,
            "mtime": mtime,
            "lfs": True,
            "sha256": digest,
            "blob_id": blob_id or git_blob_id(lfs_pointer(digest, size)),
        }
    return {"size": size, "mtime": mtime, "lfs": False, "sha256": None, "blob_id": digest}


def etag(record: FileRecord) -> str:
    return record["sha256"] if record["lfs"] else record["blob_id"]


def build_manifest(folder: Path, files: list[str], *, known: dict[str, FileRecord] | None = None) -> dict:
    known = known or {}
    return {relative: file_record(folder / relative, relative, known=known.get(relative)) for relative in files}


def content_revision(manifest: dict[str, FileRecord]) -> str:
    """A commit-like sha1 of what the folder holds: changes whenever a file is added, removed or changed."""
    digest = hashlib.sha1()
    for relative in sorted(manifest):
        digest.update(f"{relative}\0{manifest[relative]['blob_id']}\n".encode())
    return digest.hexdigest()
