from datetime import datetime

from django.db.models import QuerySet

from apps.chains.hooks import LOCAL_HOOKS
from apps.chains.models import RemoteHook


def hook_types_supported() -> list[str]:
    """Every hook type a chain can name: the built-in local hooks, then the remote hooks."""
    local = LOCAL_HOOKS.names()
    remote = RemoteHook.objects.exclude(name__in=local).order_by("name").values_list("name", flat=True)
    return [*local, *remote]


def remote_hooks_page(*, cursor: datetime | None = None, limit: int = 100) -> QuerySet[RemoteHook]:
    """Remote hooks, newest first; `cursor` (a createdAt) continues after the last page."""
    hooks = RemoteHook.objects.order_by("-created_at")
    if cursor is not None:
        hooks = hooks.filter(created_at__lt=cursor)
    return hooks[:limit]
