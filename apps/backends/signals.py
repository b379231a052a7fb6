"""Worker start-up: keep the periodic state sync scheduled at MODELYARD_BACKEND_SYNC_MINUTES (0: off)."""

from apps.core.schedules import schedule_on_worker_start

schedule_backend_sync = schedule_on_worker_start(
    name="backends.sync",
    func="apps.backends.tasks.sync_backends",
    minutes_setting="MODELYARD_BACKEND_SYNC_MINUTES",
)
