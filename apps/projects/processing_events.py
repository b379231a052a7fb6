"""The `rag_processing` event of a dataset run (`apps.projects.processing`), written as the run goes.

The request that starts a run starts the event (`task_queued`); the parent job adds `task_started`;
each file job, on whatever worker, adds its file's outcome — `file_processed`, `file_skipped`,
`file_failed` or `file_cancelled` with the reason, parser and chunks (LlamaFarm's per-file
details). The file job that completes the set ends the event: `processing_complete` with the counts,
or "failed" with them when a file failed (the task then ends FAILURE too). A run that fails before
its files (its database is gone) or is cancelled ends the event as failed.

The event's id travels in the jobs' params (`event_id`); runs queued before event logs existed
carry none and record nothing.
"""

from typing import Any

from apps.projects import event_logs
from apps.projects.event_logs import EventRecorder
from apps.projects.models import Project

EVENT_TYPE = "rag_processing"
FILE_OUTCOMES = ("processed", "skipped", "failed", "cancelled")


def run_event_start(*, project: Project, dataset: str, database: str, strategy: str, files: int) -> EventRecorder:
    """Start the event of a run about to be queued (its id goes into the run's params)."""
    return event_logs.event_start(
        project=project,
        type=EVENT_TYPE,
        data={"dataset": dataset, "database": database, "strategy": strategy, "files": files},
    )


def run_event_queued(recorder: EventRecorder, *, task_id: str, files: int) -> None:
    """The run's task was queued."""
    recorder.sub("task_queued", task_id=task_id, files=files)


def run_event_started(event_id: str, *, files: int) -> None:
    """The parent job started and queues `files` file jobs; with none, the run is complete now."""
    if not event_id:
        return
    recorder = event_logs.event_resume(event_id=event_id)
    recorder.sub("task_started", files=files)
    if files == 0:
        _run_event_end(recorder, {outcome: 0 for outcome in FILE_OUTCOMES}, total=0)


def run_event_failed(event_id: str, *, error: str, stage: str) -> None:
    """The run failed as a whole (`stage` "start": before its files; "cancel": cancelled)."""
    if event_id:
        event_logs.event_resume(event_id=event_id).fail(error, stage=stage)


def file_event_outcome(event_id: str, *, detail: dict[str, Any]) -> None:
    """Record one file's outcome (a FileDetail: hash, filename, status, reason, parser, chunks);
    when every file of the run has one, end the event with the counts."""
    if not event_id or detail.get("status") not in FILE_OUTCOMES:
        return
    recorder = event_logs.event_resume(event_id=event_id)
    recorder.sub(f"file_{detail['status']}", **detail)
    total = recorder.data.get("files")
    latest = event_logs.sub_events_latest(
        event_id=event_id, names=[f"file_{outcome}" for outcome in FILE_OUTCOMES], key="hash"
    )
    if not isinstance(total, int) or len(latest) < total:
        return
    counts = {outcome: 0 for outcome in FILE_OUTCOMES}
    for name in latest.values():
        counts[name.removeprefix("file_")] += 1
    _run_event_end(recorder, counts, total=total)


def _run_event_end(recorder: EventRecorder, counts: dict[str, int], *, total: int) -> None:
    # Of several file jobs that see the set complete at once, only the first ends the event.
    summary = {"dataset": recorder.data.get("dataset"), "files": total, **counts}
    if counts["failed"]:
        recorder.fail(f"{counts['failed']} of {total} file(s) failed", summary=summary, **counts)
    elif counts["cancelled"]:
        recorder.fail(f"{counts['cancelled']} of {total} file(s) cancelled", summary=summary, **counts)
    else:
        recorder.finish(summary=summary, final_sub="processing_complete", **counts)
