"""Periodic jobs: one way to keep a django-q2 schedule in step with a setting.

    schedule_ensure(name="nodes.poll", func="apps.nodes.tasks.poll_scheduled",
                    minutes=settings.MODELYARD_NODES_POLL_MINUTES)

Apps do not call it themselves: one line in their `signals.py` keeps a schedule in step with its
setting whenever a worker process starts (django-q2's `post_spawn`):

    schedule_backend_sync = schedule_on_worker_start(
        name="backends.sync", func="apps.backends.tasks.sync_backends",
        minutes_setting="MODELYARD_BACKEND_SYNC_MINUTES",
    )

Every worker process of every cluster does it, so `schedule_ensure` is idempotent and serialized by
an advisory lock: one schedule row per name, whatever the interleaving; `minutes` 0 (or less)
removes it.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule
from django_q.signals import post_spawn

from apps.core.locks import advisory_xact_lock

logger = logging.getLogger(__name__)


def schedule_ensure(*, name: str, func: str, minutes: int) -> Schedule | None:
    """Make the schedule `name` run `func` (a dotted path into an app's tasks.py) every `minutes`;
    with `minutes` <= 0, remove it. Returns the schedule, or None when it is off."""
    import_string(func)  # a wrong path fails here, on start-up, not every N minutes on a worker
    with transaction.atomic():
        advisory_xact_lock(f"core.schedule:{name}")
        existing = list(Schedule.objects.filter(name=name).order_by("pk"))
        keep = existing[0] if existing and minutes > 0 else None
        Schedule.objects.filter(pk__in=[schedule.pk for schedule in existing if schedule is not keep]).delete()
        if minutes <= 0:
            return None
        wanted = {"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
        if keep is None:
            return Schedule.objects.create(name=name, next_run=timezone.now(), **wanted)
        if any(getattr(keep, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(keep, key, value)
            keep.save()
        return keep


def schedule_on_worker_start(*, name: str, func: str, minutes_setting: str) -> Callable[..., None]:
    """Run `schedule_ensure` for `name` each time a worker process starts, with the minutes of
    `settings.<minutes_setting>` read then. A worker starts even when the schedule cannot be written.

    Returns the signal receiver (tests call it as a worker start would)."""

    def ensure_on_worker_start(sender: object = None, **kwargs: object) -> None:
        try:
            schedule_ensure(name=name, func=func, minutes=getattr(settings, minutes_setting))
        except Exception:
            logger.exception("could not reconcile the schedule %s", name)

    post_spawn.connect(ensure_on_worker_start, weak=False, dispatch_uid=f"core.schedule:{name}")
    return ensure_on_worker_start
