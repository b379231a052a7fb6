"""Worker start-up: keep the event-log pruning scheduled every MODELYARD_EVENT_LOG_PRUNE_MINUTES (0: off)."""

from apps.core.schedules import schedule_on_worker_start

ensure_event_logs_prune_schedule = schedule_on_worker_start(
    name="projects.event_logs_prune",
    func="apps.projects.tasks.event_logs_prune_scheduled",
    minutes_setting="MODELYARD_EVENT_LOG_PRUNE_MINUTES",
)
