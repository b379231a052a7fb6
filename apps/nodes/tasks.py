"""django-q2 entry points: thin, they call the services."""

from typing import Any

from apps.nodes import services


def poll_scheduled() -> dict[str, Any]:
    """The `nodes.poll` schedule: poll every enabled node."""
    return services.nodes_poll_summary()


def poll_nodes(*, names: list[str] | None = None) -> dict[str, Any]:
    """The admin's and the API's "poll now" job."""
    return services.nodes_poll_summary(names=names)
