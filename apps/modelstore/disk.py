"""Will a download fit? Checked before a download starts and again by the download itself.

after = free space of the models disk - bytes still to fetch
can_download = after >= MODELYARD_DOWNLOAD_MIN_FREE_BYTES
warning      = can_download and after < MODELYARD_DOWNLOAD_WARN_FREE_PERCENT % of the disk
"""

from pathlib import Path

from django.conf import settings

from apps.core import system
from apps.modelstore.units import human_size_binary


def download_check(*, required_bytes: int) -> dict:
    """The validate-download body: can_download, warning, message, available/required bytes, disk infos."""
    cache_info = system.disk_usage(system.models_dir())
    system_info = system.disk_usage(Path("/"))
    available = int(cache_info["free_bytes"])
    after = available - required_bytes
    minimum = settings.MODELYARD_DOWNLOAD_MIN_FREE_BYTES
    warn_below = int(cache_info["total_bytes"]) * settings.MODELYARD_DOWNLOAD_WARN_FREE_PERCENT / 100
    can_download = after >= minimum
    warning = can_download and after < warn_below
    if not can_download:
        message = (
            f"Insufficient disk space: the download needs {human_size_binary(required_bytes)}, "
            f"{human_size_binary(available)} is free on {cache_info['path']} and "
            f"{human_size_binary(minimum)} must stay free"
        )
    elif warning:
        message = (
            f"Low disk space: {human_size_binary(after)} would stay free after the download "
            f"({100 * after / int(cache_info['total_bytes']):.1f}% of the disk)"
        )
    else:
        message = "Sufficient disk space available"
    return {
        "can_download": can_download,
        "warning": warning,
        "message": message,
        "available_bytes": available,
        "required_bytes": required_bytes,
        "cache_info": cache_info,
        "system_info": system_info,
    }
