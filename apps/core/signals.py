"""Worker start-up: recover the jobs of workers that died."""

import logging

from django.dispatch import receiver
from django_q.signals import post_spawn

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_orphaned_jobs(sender: object, proc_name: str, **kwargs: object) -> None:
    from apps.core.jobs import jobs_recover_orphans

    try:
        jobs_recover_orphans()
    except Exception:  # a worker must start even when recovery cannot run
        logger.exception("could not recover orphaned jobs")
