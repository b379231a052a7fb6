"""What a model source is: search, describe, list files, stream one file."""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Protocol

from apps.modelstore.units import Bound


@dataclass(frozen=True)
class RemoteFile:
    """A file as the source lists it; `sha256` (LFS files) or `blob_id` is what its content must hash to."""

    path: str
    size: int
    lfs: bool
    sha256: str | None
    blob_id: str | None

    @property
    def expected_digest(self) -> str | None:
        return self.sha256 if self.lfs else self.blob_id


@dataclass(frozen=True)
class RemoteListing:
    model_id: str
    revision: str  # the commit the files belong to: downloads ask for exactly this one
    files: list[RemoteFile]


@dataclass
class RemoteModel:
    """A search result or a model's remote description, field for field as the spec shows it."""

    source: str
    model_id: str
    model_name: str
    author: str
    total_size_bytes: int
    file_count: int
    parameter_count: int | float | None
    architecture: str | None
    format: list[str]
    quantization: str | None
    tags: list[str] = field(default_factory=list)
    license: str | None = None
    downloads: int = 0
    likes: int = 0
    created_at: str = ""
    updated_at: str = ""
    web_url: str = ""
    repo_url: str = ""
    gated: bool | str = False  # the hub's field: False, "auto" or "manual" (access must be requested)
    parameter_total: int | None = None  # exact count, used by the filters, not shown

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("parameter_total")
        return data


@dataclass(frozen=True)
class SearchFilters:
    query: str | None = None
    provider: str | None = None
    params: Bound | None = None
    size: Bound | None = None
    format: str | None = None
    task: str | None = None
    license: str | None = None
    limit: int = 20


@dataclass
class FileStream:
    """An open download: `offset` is where `chunks` start (0 when the server ignored a range)."""

    offset: int
    chunks: Iterator[bytes]


class ModelSource(Protocol):
    """A place models come from. Errors: `NotFound` for an unknown model, `Unavailable` when the
    source cannot be reached, `SourceError` for anything else it refused."""

    name: str

    def search(self, filters: SearchFilters) -> list[RemoteModel]: ...

    def model_info(self, model_id: str) -> RemoteModel: ...

    def list_files(self, model_id: str, revision: str = "main") -> RemoteListing: ...

    def open_file(
        self, *, model_id: str, revision: str, path: str, offset: int = 0
    ) -> AbstractContextManager[FileStream]: ...

    def access_refusal(self, listing: RemoteListing, path: str) -> str | None:
        """Why the source would refuse to hand out `path` of the listed model (a gated repository
        without access), or None when it would."""
        ...


class SourceError(Exception):
    """The source answered, but not with what was asked for."""


class TransientSourceError(SourceError):
    """The connection broke mid-file; the download may resume from where it is."""
