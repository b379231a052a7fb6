"""Worker start-up: keep the cluster poll scheduled at MODELYARD_NODES_POLL_MINUTES (0: off)."""

from apps.core.schedules import schedule_on_worker_start

ensure_poll_schedule = schedule_on_worker_start(
    name="nodes.poll",
    func="apps.nodes.tasks.poll_scheduled",
    minutes_setting="MODELYARD_NODES_POLL_MINUTES",
)
