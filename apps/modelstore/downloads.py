"""The download engine: one for the workers, the admin and `manage.py pull`.

A download lists the source's files at one commit, keeps those matching `include_patterns`, and
fetches what the store does not already hold, several files at a time. Each file streams into
`.partial/<source>/<model_id>/<path>.<hash>.part` while its hash is computed; a broken or killed
download resumes from the partial file's length (an HTTP range request), and files finished
before are not fetched again (`state.json` in the same folder records them). A file whose size or
hash differs from the listing is refused. Finished files are moved into the model folder, and the
row is written once everything is there.

Progress (bytes done, total, speed over the last seconds, ETA) goes to a callback: `jobs.progress`
on a worker, a progress bar in the shell.
"""

import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from django.conf import settings

from apps.core import jobs
from apps.core.errors import Conflict, DomainError, NotFound
from apps.modelstore import disk, layout, locks, manifest, services, sources
from apps.modelstore.errors import InsufficientStorage
from apps.modelstore.models import LocalModel
from apps.modelstore.sources.base import ModelSource, RemoteFile, SourceError, TransientSourceError

logger = logging.getLogger(__name__)

RETRIES = 5
SPEED_WINDOW_S = 5.0
TICK_S = 0.25
WRITE_SIZE = 1024 * 1024  # bytes gathered before one write and hash update
CANCEL_CHECK_S = 1.0


Hasher = manifest.ContentHasher | manifest.ListedDigest


class DownloadStopped(Exception):
    """Asked to stop: partial files stay for the next attempt."""


class ChecksumMismatch(Exception):
    """A fetched file is not what the source listed."""


class DownloadProgress(TypedDict):
    """The progress payload of a `modelstore.download` job (`Job.progress`, and its events)."""

    bytes: int
    total_bytes: int
    files_done: int
    files_total: int
    speed_bps: int
    eta_s: float | None
    fetched_bytes: int
    active: list[str]
    message: str


def download_progress(saved: Mapping[str, Any]) -> DownloadProgress:
    """A download job's saved progress (`Job.progress`, or the `progress` of its payload), typed;
    a job that has not reported yet has none."""
    empty = DownloadProgress(
        bytes=0,
        total_bytes=0,
        files_done=0,
        files_total=0,
        speed_bps=0,
        eta_s=None,
        fetched_bytes=0,
        active=[],
        message="",
    )
    return cast(DownloadProgress, {**empty, **{key: saved[key] for key in empty.keys() & saved.keys()}})


@dataclass
class Progress:
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    speed_bps: float
    eta_s: float | None
    fetched_bytes: int
    active: list[str] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> DownloadProgress:
        return DownloadProgress(
            bytes=self.bytes_done,
            total_bytes=self.bytes_total,
            files_done=self.files_done,
            files_total=self.files_total,
            speed_bps=round(self.speed_bps),
            eta_s=None if self.eta_s is None else round(self.eta_s, 1),
            fetched_bytes=self.fetched_bytes,
            active=self.active[:4],
            message=self.message,
        )


class Throttle:
    """A bandwidth cap shared by the threads of one download (bytes per second; 0 is none)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._start: float | None = None
        self._sent = 0

    def consume(self, size: int) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if self._start is None:
                self._start = now
            self._sent += size
            due = self._start + self._sent / self.rate
        if due > now:
            time.sleep(due - now)


class ModelDownload:
    """One download of one model; `run()` returns the job's result."""

    def __init__(
        self,
        *,
        source: str,
        model_id: str,
        include_patterns: list[str] | None = None,
        force: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        workers: int | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.source_name = source
        self.model_id = layout.check_model_id(model_id)
        self.include_patterns = include_patterns or None
        self.force = force
        self.on_progress = on_progress or (lambda progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.workers = max(1, workers or settings.MODELYARD_DOWNLOAD_WORKERS)
        self.throttle = Throttle(settings.MODELYARD_DOWNLOAD_RATE_LIMIT if rate_limit is None else rate_limit)
        self.verify = settings.MODELYARD_DOWNLOAD_VERIFY
        self.target = layout.model_dir(source, self.model_id)
        self.staging = layout.partial_dir(source, self.model_id)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done_bytes = 0
        self._fetched = 0
        self._resumed = 0
        self._files_done = 0
        self._active: set[str] = set()
        self._samples: deque[tuple[float, int]] = deque()
        self._state: dict[str, Any] = {}

    # --- the whole download ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        source = sources.source_get(self.source_name)
        with locks.model_lock(self.source_name, self.model_id, on_wait=self._waiting_for_lock):
            listing = source.list_files(self.model_id)
            chosen = self._choose(listing.files)
            self._load_state(listing.revision)
            reused, to_fetch, records = self._plan(chosen)
            total = sum(item.size for item in chosen)
            self._done_bytes = sum(item.size for item in reused)
            self._files_done = len(reused)
            still_needed = sum(max(item.size - self._partial_size(item), 0) for item in to_fetch)
            check = disk.download_check(required_bytes=still_needed)
            if not check["can_download"]:
                raise InsufficientStorage(check["message"], required_bytes=still_needed)
            self._report(total, len(chosen), message=f"downloading {len(to_fetch)} of {len(chosen)} files")
            records.update(self._fetch_all(source, listing.revision, to_fetch, total, len(chosen)))
            self._report(total, len(chosen), message="recording the model")
            model = services.local_model_record(
                source=self.source_name,
                model_id=self.model_id,
                known=records,
                revision=listing.revision,
                extra_metadata={
                    "revision": listing.revision,
                    "include_patterns": self.include_patterns,
                    "origin": getattr(source, "endpoint", self.source_name),
                },
            )
            shutil.rmtree(self.staging, ignore_errors=True)
            layout.remove_empty_parents(self.staging, layout.models_root() / ".partial")
        return {
            **services.download_payload(model),
            "revision": listing.revision,
            "files_fetched": len(to_fetch),
            "files_reused": len(reused),
            "fetched_bytes": self._fetched,
            "resumed_bytes": self._resumed,
            "reused_bytes": sum(item.size for item in reused),
            "seconds": round(time.monotonic() - started, 3),
        }

    def _waiting_for_lock(self) -> None:
        self.on_progress(Progress(0, 0, 0, 0, 0.0, None, 0, message="waiting for another download of this model"))
        if self.should_stop():
            raise DownloadStopped()

    def _choose(self, files: list[RemoteFile]) -> list[RemoteFile]:
        from huggingface_hub.utils import filter_repo_objects

        chosen = list(filter_repo_objects(files, allow_patterns=self.include_patterns, key=lambda item: item.path))
        for item in chosen:
            layout.check_file_path(item.path)  # a listing must not point outside the folder
        if self.include_patterns and not chosen:
            raise NotFound(
                f"no file of {self.source_name}/{self.model_id} matches include_patterns {self.include_patterns}"
            )
        # Small files first: config and tokenizer are there early, and progress moves at once.
        return sorted(chosen, key=lambda item: (item.size, item.path))

    def _plan(self, chosen: list[RemoteFile]) -> tuple[list[RemoteFile], list[RemoteFile], dict]:
        """Which files are already there (verified), which to fetch; the records of those kept."""
        if self.force:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._state = {"revision": self._state.get("revision"), "done": {}}
            return [], list(chosen), {}
        stored = LocalModel.objects.filter(source=self.source_name, model_id=self.model_id).first()
        known = stored.manifest if stored else {}
        reused, to_fetch, records = [], [], {}
        for item in chosen:
            record = self._existing_record(item, known.get(item.path))
            if record is None:
                to_fetch.append(item)
            else:
                reused.append(item)
                records[item.path] = record
        return reused, to_fetch, records

    def _existing_record(self, item: RemoteFile, known: dict | None) -> dict | None:
        """The record of the file already in the folder, if it is exactly the listed one."""
        final = layout.contained_file(self.target, item.path)  # never a link out of the folder
        if final is None or final.stat().st_size != item.size:
            return None
        expected = item.expected_digest
        stat = final.stat()
        if expected is None:
            return None  # nothing to check it against: fetch it
        if self._state["done"].get(item.path) == expected or (
            known and manifest.etag(known) == expected and known.get("mtime") == stat.st_mtime_ns
        ):
            return manifest.record_for(
                size=item.size, mtime=stat.st_mtime_ns, lfs=item.lfs, digest=expected, blob_id=item.blob_id
            )
        if manifest.hash_file(final, lfs=item.lfs, size=item.size) == expected:
            return manifest.record_for(
                size=item.size, mtime=stat.st_mtime_ns, lfs=item.lfs, digest=expected, blob_id=item.blob_id
            )
        return None

    # --- fetching ---------------------------------------------------------------------------------

    def _fetch_all(
        self, source: ModelSource, revision: str, to_fetch: list[RemoteFile], total: int, files_total: int
    ) -> dict[str, dict]:
        records: dict[str, dict] = {}
        if not to_fetch:
            return records
        last_cancel_check = 0.0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="download") as pool:
            futures: dict[Future, RemoteFile] = {
                pool.submit(self._fetch_one, source, revision, item): item for item in to_fetch
            }
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, timeout=TICK_S, return_when=FIRST_EXCEPTION)
                    for future in done:
                        records[futures[future].path] = future.result()  # re-raises a thread's error
                    self._report(total, files_total)
                    now = time.monotonic()
                    if now - last_cancel_check >= CANCEL_CHECK_S:
                        last_cancel_check = now
                        if self.should_stop():
                            raise DownloadStopped()
            except BaseException:
                self._stop.set()  # the other threads stop at their next chunk; their partials stay
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return records

    def _fetch_one(self, source: ModelSource, revision: str, item: RemoteFile) -> dict:
        partial = self._partial_path(item)
        partial.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._active.add(item.path)
        try:
            hasher, written = self._resume(partial, item)
            attempt = 0
            while written < item.size or (item.size == 0 and not partial.exists()):
                if self._stop.is_set():
                    raise DownloadStopped()
                try:
                    written = self._stream(source, revision, item, partial, hasher, written)
                    if written >= item.size:
                        break
                    raise TransientSourceError(f"the connection ended at byte {written} of {item.size}")
                except TransientSourceError as error:
                    if attempt >= RETRIES:
                        raise
                    attempt += 1
                    logger.warning("%s: %s; resuming at byte %d (try %d)", item.path, error, written, attempt)
                    time.sleep(min(0.5 * 2 ** (attempt - 1), 8))
                    written = partial.stat().st_size if partial.exists() else 0
            return self._finish_file(item, partial, hasher)
        finally:
            with self._lock:
                self._active.discard(item.path)

    def _hasher(self, item: RemoteFile) -> Hasher:
        if self.verify or item.expected_digest is None:
            return manifest.ContentHasher(lfs=item.lfs, size=item.size)
        return manifest.ListedDigest(item.expected_digest)

    def _resume(self, partial: Path, item: RemoteFile) -> tuple[Hasher, int]:
        """Hash what an earlier attempt already wrote; start over when it cannot be right."""
        hasher = self._hasher(item)
        written = partial.stat().st_size if partial.is_file() else 0
        if written > item.size:
            partial.unlink()
            written = 0
        if written and isinstance(hasher, manifest.ContentHasher):
            with partial.open("rb") as stream:
                while chunk := stream.read(manifest.HASH_CHUNK):
                    hasher.update(chunk)
            with self._lock:
                self._done_bytes += written
                self._resumed += written
        return hasher, written

    def _stream(
        self,
        source: ModelSource,
        revision: str,
        item: RemoteFile,
        partial: Path,
        hasher: Hasher,
        written: int,
    ) -> int:
        """Append the rest of the file to its partial; what arrived is kept even when the connection breaks."""
        with source.open_file(model_id=self.model_id, revision=revision, path=item.path, offset=written) as stream:
            if stream.offset != written:  # the server sent the whole file: start the partial over
                with self._lock:
                    self._done_bytes -= written
                    self._resumed -= written
                written = 0
                hasher.reset()
                partial.write_bytes(b"")
            buffer = bytearray()

            def flush() -> None:
                output.write(buffer)
                hasher.update(buffer)
                with self._lock:
                    self._done_bytes += len(buffer)
                    self._fetched += len(buffer)
                self.throttle.consume(len(buffer))
                buffer.clear()

            with partial.open("ab") as output:
                try:
                    for chunk in stream.chunks:
                        if self._stop.is_set():
                            raise DownloadStopped()
                        buffer += chunk
                        written += len(chunk)
                        if len(buffer) >= WRITE_SIZE:
                            flush()
                finally:
                    flush()
        if item.size == 0:
            partial.touch()
        return written

    def _finish_file(self, item: RemoteFile, partial: Path, hasher: Hasher) -> dict:
        size = partial.stat().st_size
        digest = hasher.hexdigest()
        expected = item.expected_digest
        if size != item.size or (expected is not None and digest != expected):
            partial.unlink(missing_ok=True)
            what = (
                f"size {size} instead of {item.size}" if size != item.size else f"hash {digest} instead of {expected}"
            )
            raise ChecksumMismatch(f"{item.path}: got {what}; the partial file was discarded")
        final = self.target / item.path
        final.parent.mkdir(parents=True, exist_ok=True)
        if not final.parent.resolve().is_relative_to(self.target.resolve()):
            raise Conflict(f"{item.path}: {final.parent} links out of the model's folder; remove the link")
        os.replace(partial, final)  # replaces a link at `final` itself, never what it points to
        with self._lock:
            self._files_done += 1
            self._state["done"][item.path] = expected or digest
            self._save_state()
        return manifest.record_for(
            size=size, mtime=final.stat().st_mtime_ns, lfs=item.lfs, digest=digest, blob_id=item.blob_id
        )

    # --- state on disk --------------------------------------------------------------------------

    def _partial_path(self, item: RemoteFile) -> Path:
        return layout.partial_file(self.source_name, self.model_id, item.path, item.expected_digest)

    def _partial_size(self, item: RemoteFile) -> int:
        partial = self._partial_path(item)
        return partial.stat().st_size if partial.is_file() else 0

    def _load_state(self, revision: str) -> None:
        try:
            self._state = json.loads((self.staging / "state.json").read_text())
        except (OSError, ValueError):
            self._state = {}
        if self._state.get("revision") != revision or not isinstance(self._state.get("done"), dict):
            self._state = {"revision": revision, "done": {}}

    def _save_state(self) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)
        temporary = self.staging / "state.json.tmp"
        temporary.write_text(json.dumps(self._state))
        os.replace(temporary, self.staging / "state.json")

    # --- progress -----------------------------------------------------------------------------

    def _report(self, total: int, files_total: int, message: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            done, fetched, files_done, active = self._done_bytes, self._fetched, self._files_done, sorted(self._active)
        self._samples.append((now, fetched))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        first_time, first_fetched = self._samples[0]
        speed = (fetched - first_fetched) / (now - first_time) if now > first_time else 0.0
        remaining = max(total - done, 0)
        eta = remaining / speed if speed > 0 else (0.0 if remaining == 0 else None)
        self.on_progress(
            Progress(
                bytes_done=done,
                bytes_total=total,
                files_done=files_done,
                files_total=files_total,
                speed_bps=speed,
                eta_s=eta,
                fetched_bytes=fetched,
                active=active,
                message=message or (f"downloading {', '.join(active[:3])}" if active else ""),
            )
        )


# --- the worker's entry point (apps.modelstore.tasks.download_model) ------------------------------


def download_job(*, source: str, model_id: str, include_patterns: list[str] | None = None, force: bool = False) -> dict:
    """Run a download as the current job: progress to the job, cancellation from it."""

    def report(progress: Progress) -> None:
        jobs.progress(progress.bytes_done, progress.bytes_total or None, **progress.as_dict())

    download = ModelDownload(
        source=source,
        model_id=model_id,
        include_patterns=include_patterns,
        force=force,
        on_progress=report,
        should_stop=jobs.cancelled,
    )
    try:
        return download.run()
    except DownloadStopped:
        raise jobs.JobCancelled() from None
    except (DomainError, ChecksumMismatch, SourceError) as error:
        raise jobs.JobFailed(getattr(error, "message", None) or str(error)) from None
