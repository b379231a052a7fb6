"""Loaded models kept per worker process, least recently used first out.

Loading a SetFit model takes about a second and a detector's unpickling a few milliseconds plus
checksums of every file; predict/score calls reuse what this process loaded before. An entry is
used only while the model's files are the ones it was loaded from: the manifest's digest list
(`SavedModel.fingerprint`) and the size and mtime of every file (a `stat` per file, no hashing)
must match, else the model is verified and loaded again. MODELYARD_ML_CACHE_SIZE models at most.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings

from apps.ml.storage import MANIFEST_NAME, SavedModel, folder_verify

_lock = threading.Lock()
_entries: "OrderedDict[tuple[str, str], tuple[tuple, Any]]" = OrderedDict()


def _signature(saved: SavedModel) -> tuple:
    """What must not change for a loaded copy to stay valid; FileNotFoundError when a file went away."""
    stats = []
    for relative in sorted([*saved.manifest["files"], MANIFEST_NAME]):
        status = (saved.folder / relative).stat()
        stats.append((relative, status.st_size, status.st_mtime_ns))
    return (saved.fingerprint, tuple(stats))


def cached_model(saved: SavedModel, *, load: Callable[[SavedModel], Any]) -> tuple[Any, bool]:
    """The loaded model of `saved` and whether it came from the cache. A miss verifies the files'
    checksums (`folder_verify`, raising TamperedModel) before `load` opens anything."""
    key = (saved.kind, saved.name)
    try:
        signature = _signature(saved)
    except FileNotFoundError:
        signature = None
    with _lock:
        entry = _entries.get(key)
        if entry is not None and signature is not None and entry[0] == signature:
            _entries.move_to_end(key)
            return entry[1], True
        _entries.pop(key, None)
    folder_verify(saved)
    model = load(saved)
    with _lock:
        _entries[key] = (_signature(saved), model)
        while len(_entries) > max(1, settings.MODELYARD_ML_CACHE_SIZE):
            _entries.popitem(last=False)
    return model, False


def cache_put(saved: SavedModel, model: Any) -> None:
    """Keep a model this process has just trained and saved (its files are the ones it wrote)."""
    with _lock:
        _entries[(saved.kind, saved.name)] = (_signature(saved), model)
        _entries.move_to_end((saved.kind, saved.name))
        while len(_entries) > max(1, settings.MODELYARD_ML_CACHE_SIZE):
            _entries.popitem(last=False)


def cache_evict(kind: str, name: str) -> None:
    with _lock:
        _entries.pop((kind, name), None)


def cache_clear() -> None:
    with _lock:
        _entries.clear()


def cached_names() -> list[tuple[str, str]]:
    with _lock:
        return list(_entries)
