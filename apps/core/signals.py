"""Worker start-up recovery of orphaned jobs, and cache invalidation for API keys."""

import logging

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_q.signals import post_spawn

from apps.core.models import ApiKey

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_orphaned_jobs(sender: object, proc_name: str, **kwargs: object) -> None:
    from apps.core.jobs import jobs_recover_orphans

    try:
        jobs_recover_orphans()
    except Exception:  # a worker must start even when recovery cannot run
        logger.exception("could not recover orphaned jobs")


@receiver([post_save, post_delete], sender=ApiKey)
def forget_cached_api_keys(sender: object, **kwargs: object) -> None:
    from apps.core.auth import api_key_cache_clear

    api_key_cache_clear()
