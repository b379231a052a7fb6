"""Worker entry points of the vision API: thin, they call the services. A document found
unreadable while decoding fails the job on purpose (JobFailed with the reason: a 400 to the client)."""

from typing import Any

from apps.core.errors import DomainError
from apps.core.jobs import JobFailed
from apps.vision import services


def ocr_run(**params: Any) -> dict[str, Any]:
    try:
        return services.ocr_job_run(**params)
    except DomainError as error:
        raise JobFailed(error.message) from error


def extraction_run(**params: Any) -> dict[str, Any]:
    try:
        return services.extraction_job_run(**params)
    except DomainError as error:
        raise JobFailed(error.message) from error
