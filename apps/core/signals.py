"""Worker start-up recovery of orphaned jobs and the stale-job watchdog, and cache invalidation for API keys."""

import logging

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_q.signals import post_spawn

from apps.core.models import ApiKey
from apps.core.processes import sibling_pids
from apps.core.threads import apply_model_thread_policy

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_orphaned_jobs(sender: object, proc_name: str, **kwargs: object) -> None:
    from apps.core.jobs import jobs_recover_orphans, watchdog_start

    watchdog_start()  # requeues jobs whose worker went silent, while the cluster runs
    try:
        # Only this worker's own cluster counts: a live PID of a dead cluster is no worker of ours.
        jobs_recover_orphans(cluster=sibling_pids())
    except Exception:  # a worker must start even when recovery cannot run
        logger.exception("could not recover orphaned jobs")


@receiver(post_spawn)
def limit_model_threads(sender: object, proc_name: str, **kwargs: object) -> None:
    """Worker processes run model code: apply the thread policy before any job can import torch."""
    apply_model_thread_policy()


@receiver([post_save, post_delete], sender=ApiKey)
def forget_cached_api_keys(sender: object, **kwargs: object) -> None:
    from apps.core.auth import api_key_cache_clear

    api_key_cache_clear()
