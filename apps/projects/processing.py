"""Dataset processing: a group job per dataset action, one child job per file, and the spec's task
view over them (status, cancel with revert, manual cleanup).

A dataset action (`process`, alias `ingest`) enqueues a parent job of kind `projects.dataset_process`
owned by `project:<namespace>/<name>`, with the dataset's files as they were at that moment in its
params, and one `projects.file_ingest` child per file, in the same transaction: the run's progress
total is its number of files from its first event on (core's parent progress counts the children).
The parent's function ensures the database exists (a child ingesting first ensures it too: it may run
before the parent); each child calls `apps.rag.services.document_ingest` and ends SUCCESS with the
file's outcome (processed or skipped), or FAILURE with the reason the file could not be ingested
(`JobFailed`: no parser matches, "no text layer", the embedder is down...). The parent ends with its
last child (core's group jobs), FAILURE when a file failed.

Concurrency:
- a second action on a dataset whose run is still PENDING or STARTED answers that run's task id
  (the same 202 body; nothing new is enqueued), so clients that retry never start a second run;
- a file is never ingested into one database by two jobs at once (two datasets holding the same
  file, both processed): each child holds the advisory lock `projects.ingest:<scope>/<db>/<hash>`
  while it ingests; the second waits, then finds the file a duplicate.

Cancelling (DELETE …/tasks/{id}) revokes the children not started yet, lets running ones finish
their current file, then reverts every file this task processed. A child that finishes a file
after the cancel reverts it itself, so no chunks of a cancelled task survive either ordering.

Live progress: the parent job's event stream, `GET /api/v1/jobs/{task_id}/events` (core's SSE).
"""

import uuid
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.db import transaction

from apps.core import jobs
from apps.core.errors import DomainError, Invalid, NotFound
from apps.core.jobs import JobProgress, State
from apps.core.locks import advisory_lock, advisory_xact_lock
from apps.core.models import Job
from apps.projects import processing_events
from apps.projects.models import Dataset, DatasetFile, Project
from apps.projects.services import database_config_get, dataset_get, stored_file_path, strategy_config_get
from apps.rag import services as rag

DATASET_PROCESS_KIND = "projects.dataset_process"
FILE_INGEST_KIND = "projects.file_ingest"
ACTION_TYPES = ("process", "ingest")  # "ingest" is the spec's alias of "process"

# core's job states as the spec's (Celery's) task states. A requeued job (its worker died) waits
# PENDING again with an attempt behind it: Celery calls that RETRY. Celery reports a revoked task
# as REVOKED; LlamaFarm adds `cancelled: true`, which the task view sets too.
TASK_STATES = {
    State.PENDING: "PENDING",
    State.STARTED: "STARTED",
    State.SUCCESS: "SUCCESS",
    State.FAILURE: "FAILURE",
    State.CANCELLED: "REVOKED",
}
# A file's state in `meta.files` (LlamaFarm's per-file states), by its child job's state; a file
# processed, then reverted because its run was cancelled, is REVERTED whatever its job's state.
REVERTED = "reverted"
FILE_STATES = {
    State.PENDING: "pending",
    State.STARTED: "processing",
    State.SUCCESS: "success",
    State.FAILURE: "failure",
    State.CANCELLED: "cancelled",
}


class FileDetail(TypedDict):
    """One file of a run, as the task's `result.details[]` shows it (LlamaFarm's FileProcessingDetail)."""

    hash: str
    filename: str
    status: str  # processed | skipped | failed | pending | cancelled | reverted (processed, then removed by a cancel)
    reason: str | None  # why it was skipped or failed ("duplicate", "no text layer", ...)
    parser: str | None
    chunks: int | None


class FileIngestProgress(JobProgress, total=False):
    """Progress of a `projects.file_ingest` job: the stage message, then the file's outcome; after a
    cancel of its run, whether the file's chunks were removed (`reverted`) or why not (`revert_error`)."""

    file_hash: str
    filename: str
    outcome: FileDetail
    reverted: bool
    revert_error: str


class TaskFile(TypedDict):
    """One file of a running task, as `meta.files[]` shows it."""

    index: int
    task_id: str
    state: str
    file_hash: str
    filename: str
    message: str | None
    error: str | None


def project_owner_ref(project: Project) -> str:
    """The `owner_ref` of a project's jobs: `project:<namespace>/<name>`."""
    return f"project:{project.scope}"


# --- starting a run ------------------------------------------------------------------------------


def dataset_process_start(*, project: Project, dataset_name: str, action_type: str) -> Job:
    """Start processing every file of a dataset into its database; the run's parent job.

    A run of this dataset still PENDING or STARTED is returned instead of starting a second one.
    Raises Invalid for an unknown `action_type` (naming the valid ones), NotFound for an
    unknown dataset, or a dataset whose database or strategy the config no longer has."""
    if action_type not in ACTION_TYPES:
        valid = ", ".join(f"'{name}'" for name in ACTION_TYPES)
        raise Invalid(f"Unknown action_type '{action_type}'; valid: {valid}")
    dataset = dataset_get(project=project, name=dataset_name)
    database_config_get(project=project, name=dataset.database)
    strategy_config_get(project=project, name=dataset.data_processing_strategy)
    owner_ref = project_owner_ref(project)
    with transaction.atomic():
        # One check-then-enqueue at a time per dataset, whatever process serves the request.
        advisory_xact_lock(f"{DATASET_PROCESS_KIND}:{project.scope}/{dataset.name}")
        running = (
            Job.objects.filter(
                kind=DATASET_PROCESS_KIND,
                owner_ref=owner_ref,
                params__dataset=dataset.name,
                state__in=jobs.ACTIVE_STATES,
            )
            .order_by("created_at")
            .first()
        )
        if running is not None:
            return running
        files = [
            {"file_hash": item.file_id, "filename": item.original_filename}
            for item in DatasetFile.objects.filter(dataset=dataset).order_by("uploaded_at", "id")
        ]
        event = processing_events.run_event_start(
            project=project,
            dataset=dataset.name,
            database=dataset.database,
            strategy=dataset.data_processing_strategy,
            files=len(files),
        )
        job = jobs.job_enqueue(
            kind=DATASET_PROCESS_KIND,
            func="apps.projects.tasks.dataset_process",
            params={
                "project_id": project.pk,
                "dataset": dataset.name,
                "database": dataset.database,
                "strategy": dataset.data_processing_strategy,
                "files": files,
                "event_id": event.event_id,
            },
            owner_surface="platform",
            owner_ref=owner_ref,
        )
        for item in files:
            jobs.job_enqueue(
                kind=FILE_INGEST_KIND,
                func="apps.projects.tasks.file_ingest",
                params={
                    "project_id": project.pk,
                    "dataset": dataset.name,
                    "database": dataset.database,
                    "strategy": dataset.data_processing_strategy,
                    "event_id": event.event_id,
                    **item,
                },
                owner_surface="platform",
                owner_ref=owner_ref,
                parent=job,
            )
        processing_events.run_event_queued(event, task_id=str(job.pk), files=len(files))
        return job


# --- the jobs' work (called by apps.projects.tasks on a worker) ------------------------------------


def _run_context(project_id: int, dataset: str) -> tuple[Project, Dataset]:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise jobs.JobFailed("the project was deleted")
    found = Dataset.objects.filter(project=project, name=dataset).first()
    if found is None:
        raise jobs.JobFailed(f"dataset '{dataset}' was deleted")
    return project, found


def dataset_process_run(
    *, project_id: int, dataset: str, database: str, strategy: str, files: list[dict], event_id: str = ""
) -> dict:
    """The parent job: make sure the database exists; its children (one per file) were queued with it.

    Returns {"files": N}; the run ends with its last child (core's group jobs). `event_id` is the
    run's `rag_processing` event (apps.projects.processing_events)."""
    try:
        project, _ = _run_context(project_id, dataset)
        try:
            database_config = database_config_get(project=project, name=database)
            rag.database_ensure(scope=project.scope, config=database_config)
        except DomainError as error:  # the database is gone from the config, or cannot be stored
            raise jobs.JobFailed(error.message) from None
    except jobs.JobFailed as error:
        processing_events.run_event_failed(event_id, error=str(error), stage="start")
        raise
    processing_events.run_event_started(event_id, files=len(files))
    return {"files": len(files)}


def ingest_lock_name(scope: str, database: str, file_hash: str) -> str:
    """The advisory lock a job holds while it ingests `file_hash` into `database` of `scope`."""
    return f"projects.ingest:{scope}/{database}/{file_hash}"


class FileFailed(jobs.JobFailed):
    """A file the rag app could not ingest (its parser, and the reason, in `detail`)."""

    def __init__(self, message: str, *, detail: FileDetail) -> None:
        super().__init__(message)
        self.detail = detail


def file_ingest_run(
    *,
    project_id: int,
    dataset: str,
    database: str,
    strategy: str,
    file_hash: str,
    filename: str,
    event_id: str = "",
) -> FileDetail:
    """One child job: ingest one file of the dataset into the database, its outcome recorded in the
    run's event `event_id`.

    Returns the file's detail (processed or skipped); raises JobFailed with the reason when the file
    could not be ingested, JobCancelled when the run was cancelled (reverting the file if it was
    ingested meanwhile)."""
    unfinished = FileDetail(hash=file_hash, filename=filename, status="failed", reason=None, parser=None, chunks=None)
    try:
        detail = _file_ingest(
            project_id=project_id,
            dataset=dataset,
            database=database,
            strategy=strategy,
            file_hash=file_hash,
            filename=filename,
        )
    except jobs.JobFailed as error:
        failed = error.detail if isinstance(error, FileFailed) else {**unfinished, "reason": str(error)}
        processing_events.file_event_outcome(event_id, detail=dict(failed))
        raise
    except jobs.JobCancelled:
        processing_events.file_event_outcome(event_id, detail={**unfinished, "status": "cancelled"})
        raise
    processing_events.file_event_outcome(event_id, detail=dict(detail))
    return detail


def _file_ingest(
    *, project_id: int, dataset: str, database: str, strategy: str, file_hash: str, filename: str
) -> FileDetail:
    project, found = _run_context(project_id, dataset)
    base = FileIngestProgress(file_hash=file_hash, filename=filename)
    item = DatasetFile.objects.filter(dataset=found, file_id=file_hash).select_related("file").first()
    if item is None:
        raise jobs.JobFailed(f"file {file_hash} was removed from dataset '{dataset}'")
    try:
        database_config = database_config_get(project=project, name=database)
        strategy_config = strategy_config_get(project=project, name=strategy)
    except NotFound as error:
        raise jobs.JobFailed(error.message) from None
    path: Path = stored_file_path(item.file)

    def report(current: int, total: int, message: str) -> None:
        jobs.progress(current, total, **base, message=message)

    jobs.progress(0, None, **base, message="waiting for the file's lock")
    with advisory_lock(ingest_lock_name(project.scope, database, file_hash), on_wait=jobs.check_cancelled):
        jobs.check_cancelled()
        try:
            outcome = rag.document_ingest(
                scope=project.scope,
                database=database_config,
                strategy=strategy_config,
                path=path,
                filename=filename,
                file_hash=file_hash,
                dataset=dataset,
                on_progress=report,
                should_stop=jobs.cancelled,
            )
        except DomainError as error:  # a database config that cannot be stored
            raise jobs.JobFailed(error.message) from None
    detail = FileDetail(
        hash=file_hash,
        filename=filename,
        status=outcome.status,
        reason=outcome.reason or None,
        parser=outcome.parser or None,
        chunks=outcome.chunks,
    )
    # Saved before the cancel check below: a cancel that reads the children after it sees the file
    # processed and reverts it; a cancel before it is seen here. Either way nothing is left behind.
    jobs.progress(1, 1, **base, outcome=detail, message=f"{outcome.status}: {filename}")
    if jobs.cancelled():
        if outcome.status == "processed":
            rag.document_revert(scope=project.scope, file_hash=file_hash, database=database)
            cancelled = f"reverted: {filename} (the run was cancelled)"
            jobs.progress(1, 1, **base, outcome=detail, reverted=True, message=cancelled)
        raise jobs.JobCancelled()
    if outcome.status == "failed":
        raise FileFailed(outcome.reason or "failed", detail=detail)
    return detail


# --- the spec's task view ------------------------------------------------------------------------


def task_get(*, project: Project, task_id: str) -> Job:
    """The dataset run `task_id` of this project; NotFound for an id never issued, malformed, of
    another kind or of another project (never PENDING for an unknown id)."""
    try:
        job_id = uuid.UUID(str(task_id))
    except ValueError:
        raise NotFound(f"Task {task_id} not found") from None
    job = Job.objects.filter(pk=job_id, kind=DATASET_PROCESS_KIND, owner_ref=project_owner_ref(project)).first()
    if job is None:
        raise NotFound(f"Task {task_id} not found")
    return job


def _debugging() -> bool:
    return bool(settings.DEBUG)


def _child_detail(child: Job | None, item: dict) -> FileDetail:
    """The detail of one file of a run, from its child job (None: never enqueued)."""
    progress = (child.progress or {}) if child is not None else {}
    outcome = (child.result if child is not None and child.state == State.SUCCESS else None) or progress.get("outcome")
    if outcome and progress.get("reverted"):
        return FileDetail(**{**outcome, "status": REVERTED, "reason": "the run was cancelled: its chunks were removed"})
    if outcome and progress.get("revert_error"):
        why = f"the run was cancelled but its chunks could not be removed: {progress['revert_error']}"
        return FileDetail(**{**outcome, "reason": why})
    if outcome and (child is None or child.state != State.CANCELLED):
        detail = FileDetail(**outcome)
        if child is not None and child.state == State.FAILURE and detail["status"] != "failed":
            detail["status"], detail["reason"] = "failed", _child_error(child)
        return detail
    status = {State.FAILURE: "failed", State.CANCELLED: "cancelled"}.get(child.state if child else None, "pending")
    return FileDetail(
        hash=item["file_hash"],
        filename=item["filename"],
        status=status,
        reason=_child_error(child) if child is not None and child.state == State.FAILURE else None,
        parser=None,
        chunks=None,
    )


def _child_error(child: Job) -> str:
    """Why a file's job failed: its reason; a crash's message only when debugging."""
    if child.traceback and not _debugging():
        return "internal error while processing the file (see the job's log)"
    return child.error or "failed"


def _children_by_hash(job: Job) -> dict[str, Job]:
    return {child.params.get("file_hash"): child for child in job.children.order_by("created_at")}


def task_status(*, job: Job) -> dict[str, Any]:
    """A dataset run in the spec's task shape.

    {"task_id", "state" (PENDING|STARTED|SUCCESS|FAILURE|RETRY|REVOKED), "cancelled",
     "meta": {"current", "total", "progress" (percent), "message", "files": [TaskFile]},
     "result": null until the run ends, then {"message", "processed_files", "skipped_files",
               "failed_files", "strategy", "database", "details": [FileDetail]},
     "error": "k of N files failed" (or why the run itself failed), "traceback": only when debugging}
    """
    files = job.params.get("files", [])
    children = _children_by_hash(job)
    details = [_child_detail(children.get(item["file_hash"]), item) for item in files]
    total = len(files)
    finished = sum(1 for child in children.values() if child.state in Job.FINISHED_STATES)
    failed = sum(1 for detail in details if detail["status"] == "failed")
    state = TASK_STATES[job.state]
    if job.state == State.PENDING and job.attempts:
        state = "RETRY"
    meta_files = []
    for index, item in enumerate(files):
        child = children.get(item["file_hash"])
        failure = details[index]["reason"] if details[index]["status"] == "failed" else None
        file_state = FILE_STATES[child.state] if child is not None else "pending"
        if details[index]["status"] == REVERTED:
            file_state = REVERTED
        elif child is not None and (child.progress or {}).get("revert_error"):
            failure = details[index]["reason"]
        meta_files.append(
            TaskFile(
                index=index,
                task_id=str(child.pk) if child is not None else "",
                state=file_state,
                file_hash=item["file_hash"],
                filename=item["filename"],
                message=(child.progress or {}).get("message") if child is not None else None,
                error=failure,
            )
        )
    meta = {
        "current": finished,
        "total": total,
        "progress": round(100 * finished / total) if total else (100 if job.is_finished else 0),
        "message": f"Processing {finished}/{total} files",
        "files": meta_files,
    }
    result = error = traceback = None
    if job.is_finished:
        counted = ("processed", "skipped", REVERTED)
        processed, skipped, reverted = (sum(1 for d in details if d["status"] == st) for st in counted)
        message = f"Processed {processed}, skipped {skipped}, failed {failed} of {total} file(s)"
        if job.state == State.CANCELLED:
            unprocessed = sum(1 for d in details if d["status"] in ("cancelled", "pending"))
            kept = f", {processed} could not be reverted (see `details`)" if processed else ""
            message = (
                f"Task cancelled: {reverted} processed file(s) reverted{kept}; {unprocessed} not processed, "
                f"skipped {skipped}, failed {failed} of {total} file(s)"
            )
        result = {
            "message": message,
            "processed_files": processed,
            "skipped_files": skipped,
            "failed_files": failed,
            "strategy": job.params.get("strategy"),
            "database": job.params.get("database"),
            "details": details,
        }
        if job.state != State.CANCELLED and (failed or job.state == State.FAILURE):
            state = "FAILURE"
            if failed:
                error = f"{failed} of {total} files failed"
            elif job.traceback and not _debugging():
                error = "internal error while starting the run (see the job's log)"
            else:
                error = job.error or "failed"
        if _debugging():
            traceback = job.traceback or next((c.traceback for c in children.values() if c.traceback), None)
    return {
        "task_id": str(job.pk),
        "state": state,
        "cancelled": job.state == State.CANCELLED or job.cancel_requested,
        "meta": meta,
        "result": result,
        "error": error,
        "traceback": traceback or None,
    }


def task_cancel(*, project: Project, task_id: str) -> dict[str, Any]:
    """Cancel a dataset run and revert the files it processed; the spec's cancel body.

    Idempotent: cancelling again reverts again (nothing left to remove) and says
    `already_cancelled`; a run that had ended answers `already_completed` and changes nothing.
    A file whose revert fails is listed in `errors`, and the cancel still succeeds."""
    job = task_get(project=project, task_id=task_id)
    report = jobs.job_cancel(job_id=str(job.pk))
    body: dict[str, Any] = {
        "task_id": str(job.pk),
        "cancelled": report.cancelled,
        "pending_tasks_cancelled": report.pending_children_cancelled,
        "running_tasks_at_cancel": report.running_children_at_cancel,
        "files_reverted": 0,
        "files_failed_to_revert": 0,
        "errors": None,
        "already_completed": report.already_completed,
        "already_cancelled": report.already_cancelled,
    }
    if report.already_completed:
        return {"message": f"Task already {report.job.state.lower()}", **body}
    processing_events.run_event_failed(job.params.get("event_id", ""), error="cancelled", stage="cancel")
    reverted, errors = _revert_processed(project=project, job=job)
    body.update(files_reverted=reverted, files_failed_to_revert=len(errors), errors=errors or None)
    if report.already_cancelled:
        message = "Task already cancelled"
    elif errors:
        message = f"Task cancelled with cleanup issues: {reverted} reverted, {len(errors)} failed"
    else:
        message = f"Task cancelled and {reverted} file(s) reverted"
    return {"message": message, **body}


def _revert_processed(*, project: Project, job: Job) -> tuple[int, list[dict[str, str]]]:
    """Remove the chunks of every file this run processed; (files reverted, [{file_hash, error}]).

    Each file's job records the revert in its progress (`reverted`, or `revert_error`), so the task
    view shows the file as reverted (or why it was not) instead of its processing outcome."""
    database = job.params.get("database")
    reverted, errors = 0, []
    for child in job.children.all():
        outcome = child.result or (child.progress or {}).get("outcome") or {}
        if outcome.get("status") != "processed":
            continue
        try:
            rag.document_revert(scope=project.scope, file_hash=outcome["hash"], database=database)
        except Exception as error:  # a cleanup failure is reported, never fails the cancel
            errors.append({"file_hash": outcome["hash"], "error": f"{type(error).__name__}: {error}"})
            _revert_record(child, revert_error=errors[-1]["error"])
        else:
            reverted += 1
            _revert_record(child, reverted=True)
    return reverted, errors


def _revert_record(child: Job, **outcome: Any) -> None:
    """Record on a file's job (ended, or about to end) that its file was reverted, or why not."""
    progress = {key: value for key, value in (child.progress or {}).items() if key not in ("reverted", "revert_error")}
    name = (progress.get("outcome") or {}).get("filename", "")
    message = f"reverted: {name} (the run was cancelled)" if outcome.get("reverted") else "revert failed"
    Job.objects.filter(pk=child.pk).update(progress={**progress, **outcome, "message": message})


def file_cleanup(*, project: Project, dataset_name: str, file_hash: str) -> dict[str, Any]:
    """Remove a file's chunks from the dataset's database by hand (after a failed automatic revert).

    {"message", "deleted_count" (chunks removed), "file_hash", "errors": null}; NotFound for an
    unknown dataset."""
    dataset = dataset_get(project=project, name=dataset_name)
    deleted = rag.document_revert(scope=project.scope, file_hash=file_hash, database=dataset.database)
    return {
        "message": f"Deleted {deleted} chunk(s) for file {file_hash[:12]}",
        "deleted_count": deleted,
        "file_hash": file_hash,
        "errors": None,
    }
