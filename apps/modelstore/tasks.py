"""django-q2 entry points of the model store: thin, the work is in `downloads`."""

from apps.modelstore import downloads


def download_model(
    *, source: str, model_id: str, include_patterns: list[str] | None = None, force: bool = False
) -> dict:
    return downloads.download_job(source=source, model_id=model_id, include_patterns=include_patterns, force=force)
