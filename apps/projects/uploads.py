"""Receiving an uploaded file: streamed to disk and hashed as it arrives, never held in memory.

`HashingUploadHandler` is a Django upload handler for one multipart field: each chunk the
multipart parser reads (64 KiB) is written to a temporary file in the projects data directory and
fed to SHA-256, so memory stays flat whatever the size, and the content hash is known when the last
chunk lands. Past the size limit it stops at once, removes what it wrote and raises `UploadTooLarge`
(413). `apps.projects.services.dataset_file_add` then renames the file to its content-addressed path.
"""

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from apps.core.errors import DomainError

MAX_NAME_LENGTH = 255  # DatasetFile.original_filename and mime_type


def filename_fitted(name: str) -> str:
    """`name` cut to MAX_NAME_LENGTH characters, keeping its extension (parsers choose by it)."""
    if len(name) <= MAX_NAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        return name[:MAX_NAME_LENGTH]
    return stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension


class UploadTooLarge(DomainError):
    """An upload past the size limit: 413, nothing kept."""

    status_code = 413


@dataclass(frozen=True)
class ReceivedFile:
    """An upload on disk, complete and hashed, waiting to be kept or discarded."""

    temp_path: Path
    sha256: str  # hex digest of the content
    size: int  # bytes
    filename: str  # as the client named it (sanitized by Django's parser)
    content_type: str


class HashedUploadedFile(UploadedFile):
    """What `request.FILES[field]` holds after `HashingUploadHandler`: the file is on disk, closed."""

    def __init__(self, received: ReceivedFile, file: IO[bytes]) -> None:
        super().__init__(file, received.filename, received.content_type, received.size)
        self.received = received

    def temporary_file_path(self) -> str:
        return str(self.received.temp_path)


class HashingUploadHandler(FileUploadHandler):
    """Streams the multipart field `field_name` into `temp_dir` while hashing it (other file fields
    are skipped). `max_bytes` bounds the content; past it, UploadTooLarge.

    Use it as the request's only upload handler, before the body is parsed:
    `request.upload_handlers = [handler]`; then call `discard()` once done so that a file that was
    not kept (an error, a client that went away) leaves nothing behind.
    """

    def __init__(self, *, field_name: str, temp_dir: Path, max_bytes: int, request: Any = None) -> None:
        super().__init__(request)
        self.wanted_field = field_name
        self.temp_dir = temp_dir
        self.max_bytes = max_bytes
        # Not `self.file`: Django's parser closes a handler's `file` on SkipFile, even one never opened.
        self.temp_file: IO[bytes] | None = None
        self.temp_path: Path | None = None
        self.digest = hashlib.sha256()
        self.size = 0
        self.received: ReceivedFile | None = None

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != self.wanted_field or self.temp_file is not None:
            raise SkipFile()
        super().new_file(field_name, file_name, *args, **kwargs)
        self.temp_file = tempfile.NamedTemporaryFile(dir=self.temp_dir, prefix="upload-", delete=False)  # noqa: SIM115
        self.temp_path = Path(self.temp_file.name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > self.max_bytes:
            self.discard()
            raise UploadTooLarge(f"File too large: the limit is {self.max_bytes // (1024 * 1024)} MB")
        self.temp_file.write(raw_data)
        self.digest.update(raw_data)
        return None

    def file_complete(self, file_size: int) -> HashedUploadedFile | None:
        if self.temp_file is None or self.received is not None:
            return None
        self.temp_file.close()
        self.received = ReceivedFile(
            temp_path=self.temp_path,
            sha256=self.digest.hexdigest(),
            size=self.size,
            filename=filename_fitted(self.file_name or "upload"),
            content_type=(self.content_type or "")[:MAX_NAME_LENGTH],
        )
        return HashedUploadedFile(self.received, self.temp_file)

    def upload_interrupted(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Close and remove the temporary file unless it was moved away already."""
        if self.temp_file is not None and not self.temp_file.closed:
            self.temp_file.close()
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)
