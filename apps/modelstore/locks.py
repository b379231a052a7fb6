"""One writer per model folder, across processes (web, workers, `manage.py pull`)."""

import contextlib
from collections.abc import Callable, Iterator

from apps.core.errors import Conflict
from apps.modelstore import layout


@contextlib.contextmanager
def model_lock(
    source: str,
    model_id: str,
    *,
    wait: bool = True,
    on_wait: Callable[[], None] | None = None,
    poll_s: float = 1.0,
) -> Iterator[None]:
    """Hold the model's lock file. `wait=False` raises Conflict when someone else holds it;
    otherwise `on_wait` runs every `poll_s` while waiting (to report, or to stop by raising)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(layout.lock_path(source, model_id)))
    while True:
        try:
            lock.acquire(timeout=0 if not wait else poll_s)
            break
        except Timeout:
            if not wait:
                raise Conflict(f"{source}/{model_id} is being downloaded; try again when it is done") from None
            if on_wait is not None:
                on_wait()
    try:
        yield
    finally:
        lock.release()


def model_locked(source: str, model_id: str) -> bool:
    """Does someone hold the model's lock right now (a download writing its folder)?"""
    try:
        with model_lock(source, model_id, wait=False):
            return False
    except Conflict:
        return True
