"""django-q2 entry points (thin)."""

from apps.backends import services


def sync_backends() -> None:
    """Scheduled: ask a worker for a state sync of every backend (a `backends.sync` job)."""
    services.sync_request()
