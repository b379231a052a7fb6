"""django-q2 entry points of the projects app (run through core's jobs): thin, they call processing."""

from apps.projects import event_logs, processing


def dataset_process(
    *, project_id: int, dataset: str, database: str, strategy: str, files: list[dict], event_id: str = ""
) -> dict:
    """The parent job of a dataset run (its `file_ingest` children were queued with it)."""
    return processing.dataset_process_run(
        project_id=project_id, dataset=dataset, database=database, strategy=strategy, files=files, event_id=event_id
    )


def file_ingest(
    *,
    project_id: int,
    dataset: str,
    database: str,
    strategy: str,
    file_hash: str,
    filename: str,
    event_id: str = "",
) -> dict:
    """One file of a dataset run, ingested into the dataset's database with the run's strategy."""
    return dict(
        processing.file_ingest_run(
            project_id=project_id,
            dataset=dataset,
            database=database,
            strategy=strategy,
            file_hash=file_hash,
            filename=filename,
            event_id=event_id,
        )
    )


def event_logs_prune_scheduled() -> dict:
    """The `projects.event_logs_prune` schedule: delete events past MODELYARD_EVENT_LOG_RETENTION_DAYS."""
    return {"deleted": event_logs.event_logs_prune()}
