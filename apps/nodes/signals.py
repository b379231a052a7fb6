"""Worker start-up: keep the cluster poll schedule in step with MODELYARD_NODES_POLL_MINUTES."""

import logging

from django.dispatch import receiver
from django_q.signals import post_spawn

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def ensure_poll_schedule(sender: object, proc_name: str, **kwargs: object) -> None:
    from apps.nodes.services import poll_schedule_ensure

    try:
        poll_schedule_ensure()
    except Exception:  # a worker must start even when the schedule cannot be written
        logger.exception("could not reconcile the node poll schedule")
