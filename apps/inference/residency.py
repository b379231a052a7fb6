"""Which models are loaded in this process: an LRU bounded by a memory budget, one call per model at a time.

- A model is loaded on its first use and stays until it is the least recently used one and room is
  needed, it has been idle for MODELYARD_RUNTIME_IDLE_UNLOAD_S, or it is unloaded by hand. Models
  in MODELYARD_RUNTIME_KEEP_LOADED (or loaded with `keep_loaded=True`) are never unloaded that way.
- Before a load, the model's memory is estimated (its parameter count × 4 bytes, since weights are
  loaded in fp32, + 10 %); a model that cannot fit even after unloading every idle model is refused
  (`DoesNotFit`, naming required and available memory). After the load, the real size is kept.
- One call runs on a model at a time (a generation holds it until its last token). Up to
  MODELYARD_RUNTIME_QUEUE_SIZE more callers wait, each at most MODELYARD_RUNTIME_QUEUE_WAIT_S;
  beyond that a caller gets `Busy` (503 with Retry-After).
- A model that failed to load is remembered for LOAD_RETRY_S: callers get the same error at once
  instead of loading it again and again.

Everything here is thread-safe; nothing touches the database.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from django.conf import settings

from apps.core.errors import DomainError, Unavailable
from apps.inference.engines import ENGINES, Engine, LoadFailed

logger = logging.getLogger(__name__)

GB = 1024**3
FP32_BYTES = 4
ESTIMATE_OVERHEAD = 1.1
# How long a failed load is answered from memory before it is tried again.
LOAD_RETRY_S = 60.0
# How often the idle reaper looks.
REAP_EVERY_S = 30.0


class Busy(Unavailable):
    """The model is busy and its queue is full (or the wait ran out): retry after `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DoesNotFit(Unavailable):
    """The model needs more memory than the runtime may use, even after unloading idle models."""


@dataclass(frozen=True)
class ModelFiles:
    """A stored model as the runtime loads it: its store key (`source/model_id`), folder, files and kind."""

    key: str
    name: str  # the id clients use
    folder: Path
    files: tuple[str, ...]
    kind: str
    estimated_bytes: int


@dataclass
class Resident:
    """A loaded model."""

    model: ModelFiles
    engine: Engine
    memory_bytes: int
    loaded_at: float
    last_used: float
    keep_loaded: bool = False
    waiting: int = 0
    busy: bool = False
    slot: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))

    def describe(self) -> dict:
        """What the admin and `GET /v1/models` show of it."""
        return {
            "id": self.model.name,
            "key": self.model.key,
            "kind": self.model.kind,
            "memory_bytes": self.memory_bytes,
            "loaded_at": self.loaded_at,
            "last_used": self.last_used,
            "keep_loaded": self.keep_loaded,
            "busy": self.busy,
            "waiting": self.waiting,
        }


def estimate_bytes(*, parameters: int | None, weight_bytes: int) -> int:
    """Memory a model takes once loaded in fp32: parameters × 4 bytes + 10 %, or its weight files'
    size + 10 % when the parameter count is unknown."""
    base = parameters * FP32_BYTES if parameters else weight_bytes
    return int(base * ESTIMATE_OVERHEAD)


def budget_bytes() -> int:
    """MODELYARD_RUNTIME_MAX_MEMORY_GB in bytes; half of the machine's RAM when it is 0."""
    configured = settings.MODELYARD_RUNTIME_MAX_MEMORY_GB
    return int(configured * GB) if configured > 0 else psutil.virtual_memory().total // 2


class Lease:
    """A model held for one call; `release()` (or leaving the `with` block) lets the next caller in."""

    def __init__(self, residency: "Residency", resident: Resident) -> None:
        self._residency = residency
        self.resident = resident
        self.engine = resident.engine
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._residency._release(self.resident)

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Residency:
    """The loaded models of this process (one instance: `residency()`)."""

    def __init__(self, *, loader: Callable[[ModelFiles], Engine] | None = None) -> None:
        self._lock = threading.Lock()  # guards the dict and every Resident's counters
        self._residents: dict[str, Resident] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._failed: dict[str, tuple[float, DomainError]] = {}
        self._loader = loader or load_engine
        self._reaper: threading.Thread | None = None

    # --- reads ---------------------------------------------------------------------------------

    def is_loaded(self, key: str) -> bool:
        with self._lock:
            return key in self._residents

    def residents(self) -> list[dict]:
        """The loaded models, most recently used first."""
        with self._lock:
            ordered = sorted(self._residents.values(), key=lambda item: -item.last_used)
            return [resident.describe() for resident in ordered]

    def used_bytes(self) -> int:
        with self._lock:
            return sum(resident.memory_bytes for resident in self._residents.values())

    # --- a call --------------------------------------------------------------------------------

    def lease(self, model: ModelFiles, *, keep_loaded: bool = False) -> Lease:
        """Hold `model` for one call, loading it first if needed; waits in the model's queue.

        Raises Busy (queue full or wait over), DoesNotFit, or LoadFailed (also for a recent failure).
        """
        resident = self._loaded(model, keep_loaded=keep_loaded)
        with self._lock:
            if resident.busy and resident.waiting >= settings.MODELYARD_RUNTIME_QUEUE_SIZE:
                raise Busy(
                    f"model {model.name} is busy and {resident.waiting} requests already wait for it; retry later",
                    retry_after_s=self._retry_after(),
                )
            resident.waiting += 1
        try:
            acquired = resident.slot.acquire(timeout=settings.MODELYARD_RUNTIME_QUEUE_WAIT_S)
        finally:
            with self._lock:
                resident.waiting -= 1
        if not acquired:
            raise Busy(
                f"model {model.name} stayed busy for {settings.MODELYARD_RUNTIME_QUEUE_WAIT_S:g} s; retry later",
                retry_after_s=self._retry_after(),
            )
        with self._lock:
            if self._residents.get(model.key) is not resident:  # unloaded while this caller waited
                resident.slot.release()
                return self.lease(model, keep_loaded=keep_loaded)
            resident.busy = True
            resident.last_used = time.time()
        return Lease(self, resident)

    def _release(self, resident: Resident) -> None:
        with self._lock:
            resident.busy = False
            resident.last_used = time.time()
        resident.slot.release()

    @staticmethod
    def _retry_after() -> int:
        return max(1, int(settings.MODELYARD_RUNTIME_QUEUE_WAIT_S // 4) or 1)

    # --- loading and unloading -----------------------------------------------------------------

    def _loaded(self, model: ModelFiles, *, keep_loaded: bool) -> Resident:
        with self._lock:
            resident = self._residents.get(model.key)
            if resident is not None:
                resident.keep_loaded = resident.keep_loaded or keep_loaded
                return resident
            loading = self._loading.setdefault(model.key, threading.Lock())
        with loading:  # one load per model; the others wait for it
            with self._lock:
                if model.key in self._residents:
                    return self._residents[model.key]
                failed = self._failed.get(model.key)
                if failed and time.monotonic() - failed[0] < LOAD_RETRY_S:
                    raise failed[1]
            self._make_room(model)
            started = time.monotonic()
            try:
                engine = self._loader(model)
            except LoadFailed as error:
                failure = LoadFailed(f"cannot load {model.name}: {error.message}")
                self._remember_failure(model, failure)
                raise failure from error
            except DomainError as error:
                self._remember_failure(model, error)
                raise
            except Exception as error:
                failure = LoadFailed(f"cannot load {model.name}: {type(error).__name__}: {error}")
                self._remember_failure(model, failure)
                raise failure from error
            now = time.time()
            resident = Resident(
                model=model,
                engine=engine,
                memory_bytes=engine.memory_bytes,
                loaded_at=now,
                last_used=now,
                keep_loaded=keep_loaded or model.name in settings.MODELYARD_RUNTIME_KEEP_LOADED,
            )
            logger.info(
                "loaded %s (%s, %.0f MB) in %.1f s",
                model.name,
                model.kind,
                resident.memory_bytes / 2**20,
                time.monotonic() - started,
            )
            with self._lock:
                self._residents[model.key] = resident
                self._failed.pop(model.key, None)
            self._start_reaper()
            return resident

    def _remember_failure(self, model: ModelFiles, error: DomainError) -> None:
        logger.error("loading %s failed: %s", model.name, error.message)
        with self._lock:
            self._failed[model.key] = (time.monotonic(), error)

    def _make_room(self, model: ModelFiles) -> None:
        """Unload least recently used idle models until `model`'s estimate fits; DoesNotFit if it cannot."""
        budget = budget_bytes()
        freed = 0  # what this call unloaded: the system's free memory may not show it back yet
        while True:
            with self._lock:
                used = sum(resident.memory_bytes for resident in self._residents.values())
                room = min(budget - used, psutil.virtual_memory().available + freed)
                if model.estimated_bytes <= room:
                    return
                evictable = sorted(
                    (r for r in self._residents.values() if not r.keep_loaded and not r.busy and not r.waiting),
                    key=lambda item: item.last_used,
                )
                if not evictable:
                    held = used / GB
                    raise DoesNotFit(
                        f"model {model.name} needs about {model.estimated_bytes / GB:.2f} GB of memory; "
                        f"{max(room, 0) / GB:.2f} GB is available (runtime budget {budget / GB:.2f} GB, "
                        f"{held:.2f} GB held by models in use or kept loaded). Raise "
                        "MODELYARD_RUNTIME_MAX_MEMORY_GB or unload a model."
                    )
                victim = evictable[0]
                del self._residents[victim.model.key]
                freed += victim.memory_bytes
            logger.info("unloading %s (least recently used) to make room for %s", victim.model.name, model.name)
            victim.engine.close()

    def unload(self, key: str) -> bool:
        """Unload the model stored as `key` (`source/model_id`) once its current call ends; False when not loaded."""
        with self._lock:
            resident = self._residents.get(key)
        if resident is None:
            return False
        with resident.slot:  # wait for the call in progress
            with self._lock:
                if self._residents.get(key) is not resident:
                    return False
                del self._residents[key]
        resident.engine.close()
        logger.info("unloaded %s", resident.model.name)
        return True

    def unload_idle(self, *, idle_s: float | None = None) -> list[str]:
        """Unload the models unused for `idle_s` seconds (default the setting), except those kept loaded."""
        idle_s = settings.MODELYARD_RUNTIME_IDLE_UNLOAD_S if idle_s is None else idle_s
        if idle_s <= 0:
            return []
        cutoff = time.time() - idle_s
        with self._lock:
            idle = [
                key
                for key, resident in self._residents.items()
                if resident.last_used < cutoff
                and not resident.keep_loaded
                and not resident.busy
                and not resident.waiting
            ]
        return [key for key in idle if self.unload(key)]

    def unload_all(self) -> None:
        for key in list(self._residents):
            self.unload(key)

    def _start_reaper(self) -> None:
        if self._reaper is not None or settings.MODELYARD_RUNTIME_IDLE_UNLOAD_S <= 0:
            return

        def reap() -> None:
            while True:
                time.sleep(min(REAP_EVERY_S, settings.MODELYARD_RUNTIME_IDLE_UNLOAD_S))
                try:
                    self.unload_idle()
                except Exception:  # the reaper must outlive any one failure
                    logger.exception("idle unload failed")

        self._reaper = threading.Thread(target=reap, name="runtime-idle-unload", daemon=True)
        self._reaper.start()


def load_engine(model: ModelFiles) -> Engine:
    """Build the engine of `model`'s kind (this loads the weights)."""
    return ENGINES.get(model.kind)(folder=model.folder, files=list(model.files))


_RESIDENCY: Residency | None = None
_RESIDENCY_LOCK = threading.Lock()


def residency() -> Residency:
    """This process's residency."""
    global _RESIDENCY
    with _RESIDENCY_LOCK:
        if _RESIDENCY is None:
            _RESIDENCY = Residency()
        return _RESIDENCY
