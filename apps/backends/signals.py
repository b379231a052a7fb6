"""Keep the periodic state sync scheduled, at the interval the environment asks for."""

from django.conf import settings
from django.dispatch import receiver
from django_q.signals import post_spawn

SCHEDULE_NAME = "backends.sync"


@receiver(post_spawn)
def schedule_backend_sync(sender: object, proc_name: str, **kwargs: object) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "apps.backends.tasks.sync_backends",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.MODELYARD_BACKEND_SYNC_MINUTES,
            "repeats": -1,
        },
    )
