"""What this node is and how it is doing: identity, disk, and the health of its services."""

import platform
import shutil
import socket
from pathlib import Path

from django.conf import settings
from django.db import connection

from apps.core import events


def node_identity() -> dict[str, str]:
    return {
        "name": settings.MODELYARD_NODE_NAME or socket.gethostname(),
        "os": platform.system().lower(),
    }


def data_dir() -> Path:
    return settings.MODELYARD_HOME


def models_dir() -> Path:
    """Where the model store keeps its files."""
    path = settings.MODELYARD_HOME / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def disk_usage(path: Path) -> dict[str, object]:
    usage = shutil.disk_usage(path)
    return {
        "total_bytes": usage.total,
        "used_bytes": usage.used,
        "free_bytes": usage.free,
        "path": str(path),
        "percent_free": round(100.0 * usage.free / usage.total, 1) if usage.total else 0.0,
    }


def database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            has_vector = cursor.fetchone() is not None
    except Exception as error:
        return f"unhealthy: {type(error).__name__}: {error}".strip()
    return "healthy" if has_vector else "degraded: the vector extension is missing"


def workers_check() -> str:
    from django_q.status import Stat

    try:
        clusters = Stat.get_all()
    except Exception as error:
        return f"unhealthy: {type(error).__name__}: {error}"
    if not clusters:
        return "unhealthy: no worker cluster is running"
    return "healthy"


def platform_health() -> tuple[dict[str, object], bool]:
    """The platform's /health body, and whether the database (needed for anything) is up."""
    services = {"api": "healthy", "database": database_check()}
    database_up = services["database"] == "healthy"
    services["workers"] = workers_check() if database_up else "unknown: database is down"
    services["channel_layer"] = events.channel_layer_check()
    if not database_up:
        status = "unhealthy"
    elif all(state == "healthy" for state in services.values()):
        status = "healthy"
    else:
        status = "degraded"
    body = {"status": status, "version": settings.MODELYARD_VERSION, "node": node_identity(), "services": services}
    return body, database_up
