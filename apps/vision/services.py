"""The vision API's work: OCR and document extraction of uploaded files and base64 images.

A request is checked in the web process (engine or model, page and pixel limits: nothing is
decoded), its documents are written to a folder of the data directory, and a worker job reads them
(`ocr_job_run`, `extraction_job_run`): the engines load once per worker process, on
MODELYARD_TORCH_THREADS threads, and never in the web server. The HTTP call waits for the job, as a
model-store download does, and answers its result; the folder is removed either way.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings

from apps.core import jobs
from apps.core.errors import DomainError, Invalid, Unavailable
from apps.core.models import Job
from apps.core.system import data_dir, workers_check
from apps.inference.ocr import ocr_engine_get, ocr_engine_resolve
from apps.inference.ocr.pages import TooLarge, pages_count, pages_render
from apps.vision.documents import extraction_engine_get, extraction_model_locate, extraction_task_check
from apps.vision.inputs import VisionInput

logger = logging.getLogger(__name__)

OCR_JOB_KIND = "vision.ocr"
EXTRACTION_JOB_KIND = "vision.extract"
EXTRACTION_TASKS = ("extraction", "vqa", "classification")


class VisionFailed(DomainError):
    """The worker crashed on a request (a server fault, with the reason): 500 in the spec's body."""

    status_code = 500


class VisionProgress(TypedDict):
    """A vision job's progress payload: page images read so far, of `pages`."""

    pages: int


def ocr_request(
    *, inputs: list[VisionInput], model: str | None, languages: list[str], return_boxes: bool
) -> dict[str, Any]:
    """OCR of the documents: one `data` item per page image (a PDF gives one per page, in order),
    `{index, text, confidence}` plus `boxes` (pixel coordinates of each line) when asked.

    `model` is the spec's engine name; its default `surya`, when Surya is not installed, runs the
    best engine available, and the answer's `model` says which ran. Invalid (400): unknown or
    unavailable engine (naming those available), unreadable document; TooLarge (413): past
    MODELYARD_VISION_MAX_PAGES or MODELYARD_VISION_MAX_PIXELS; Unavailable (503): no worker
    finished it within MODELYARD_VISION_TIMEOUT_S.
    """
    engine = ocr_engine_resolve(name=model)
    pages = inputs_check(inputs=inputs)
    with _staged(inputs) as staged:
        job = jobs.job_enqueue(
            kind=OCR_JOB_KIND,
            func="apps.vision.tasks.ocr_run",
            params={
                **staged,
                "engine": engine,
                "languages": languages,
                "return_boxes": return_boxes,
                "total_pages": pages,
            },
            owner_surface="platform",
            owner_ref=engine,
        )
        result = _job_result(job)
    return {"object": "list", "data": result["data"], "model": engine, "usage": {"images_processed": pages}}


def extraction_request(*, inputs: list[VisionInput], model: str, prompts: list[str], task: str) -> dict[str, Any]:
    """Document extraction (`task` extraction, vqa or classification) with a Donut or LayoutLMv3
    model from the store: one `data` item per page image, `{index, confidence, text, fields}`
    (`fields`: `{key, value, confidence}`), plus `answer` for one VQA prompt and
    `classification`/`classification_scores` for classification.

    NotFound (404, saying how to pull it) for a model not in the store; Invalid (400) for an
    unknown task, VQA without prompts, a model that is neither Donut nor LayoutLMv3 or whose head
    cannot do the task (naming the tasks it supports), unreadable documents; TooLarge (413) past the limits.
    """
    if task not in EXTRACTION_TASKS:
        raise Invalid(f"Invalid task: {task}. Must be one of: {', '.join(EXTRACTION_TASKS)}")
    if task == "vqa" and not prompts:
        raise Invalid("the vqa task needs at least one question in 'prompts'")
    folder = extraction_model_locate(model_id=model)
    extraction_task_check(folder=folder, model_id=model, task=task)
    pages = inputs_check(inputs=inputs)
    with _staged(inputs) as staged:
        job = jobs.job_enqueue(
            kind=EXTRACTION_JOB_KIND,
            func="apps.vision.tasks.extraction_run",
            params={
                **staged,
                "model": model,
                "model_path": str(folder),
                "prompts": prompts,
                "task": task,
                "total_pages": pages,
            },
            owner_surface="platform",
            owner_ref=model,
        )
        result = _job_result(job)
    return {
        "object": "list",
        "data": result["data"],
        "model": model,
        "task": task,
        "usage": {"documents_processed": pages},
    }


def inputs_check(*, inputs: list[VisionInput]) -> int:
    """The page images the inputs hold, checked against the limits without decoding pixels:
    Invalid (400) for an unreadable document, TooLarge (413) past MODELYARD_VISION_MAX_PAGES in
    all or MODELYARD_VISION_MAX_PIXELS in one page."""
    limit = settings.MODELYARD_VISION_MAX_PAGES
    if limit and len(inputs) > limit:
        raise TooLarge(f"{len(inputs)} images; at most {limit} page images are read per request")
    total = 0
    for item in inputs:
        total += pages_count(
            data=item.data,
            label=item.label,
            dpi=settings.MODELYARD_VISION_PDF_DPI,
            max_pages=limit,
            max_pixels=settings.MODELYARD_VISION_MAX_PIXELS,
        )
        if limit and total > limit:
            raise TooLarge(f"the request holds more than {limit} page images (MODELYARD_VISION_MAX_PAGES)")
    return total


def pages_iterate(*, folder: Path, labels: list[str]) -> Iterator[Any]:
    """The page images of a staged request, in order (each input's pages in turn)."""
    for position, label in enumerate(labels):
        data = (folder / _staged_name(position)).read_bytes()
        yield from pages_render(
            data=data,
            label=label,
            dpi=settings.MODELYARD_VISION_PDF_DPI,
            max_pixels=settings.MODELYARD_VISION_MAX_PIXELS,
        )


def ocr_job_run(
    *,
    folder: str,
    labels: list[str],
    engine: str,
    languages: list[str],
    return_boxes: bool,
    total_pages: int | None = None,
) -> dict[str, Any]:
    """The worker's part of `ocr_request`: every page image OCR'd, progress per page (of
    `total_pages`, the request's page count, when given)."""
    reader = ocr_engine_get(name=engine)
    data = []
    for index, image in enumerate(pages_iterate(folder=Path(folder), labels=labels)):
        jobs.check_cancelled()
        page = reader.read(image=image, languages=languages)
        item: dict[str, Any] = {"index": index, "text": page.text, "confidence": round(page.confidence, 4)}
        if return_boxes:
            item["boxes"] = [line.as_box() for line in page.lines]
        data.append(item)
        jobs.progress(index + 1, total_pages, **VisionProgress(pages=index + 1))
    return {"data": data}


def extraction_job_run(
    *,
    folder: str,
    labels: list[str],
    model: str,
    model_path: str,
    prompts: list[str],
    task: str,
    total_pages: int | None = None,
) -> dict[str, Any]:
    """The worker's part of `extraction_request`: every page image through the model, progress
    per page (of `total_pages` when given)."""
    extractor = extraction_engine_get(path=Path(model_path), task=task)
    data = []
    for index, image in enumerate(pages_iterate(folder=Path(folder), labels=labels)):
        jobs.check_cancelled()
        data.append({"index": index, **extractor.extract(image=image, prompts=prompts)})
        jobs.progress(index + 1, total_pages, **VisionProgress(pages=index + 1))
    return {"data": data}


def _staged_name(position: int) -> str:
    return f"input-{position:04d}.bin"


@contextmanager
def _staged(inputs: list[VisionInput]) -> Iterator[dict[str, Any]]:
    """The inputs written to a folder of the data directory (`input-0000.bin`, …), removed after;
    yields the job parameters that name them: `{"folder", "labels"}`."""
    folder = data_dir() / "vision" / "requests" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        for position, item in enumerate(inputs):
            (folder / _staged_name(position)).write_bytes(item.data)
        yield {"folder": str(folder), "labels": [item.label for item in inputs]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _job_result(job: Job) -> dict[str, Any]:
    """Wait for a vision job and answer its result.

    A job that failed on purpose (an unreadable page found while decoding) is Invalid with its
    reason; one that crashed is VisionFailed; one not done in MODELYARD_VISION_TIMEOUT_S is
    cancelled and Unavailable (503). With no worker cluster running at all, the job runs in this
    process (the same code, the same job row) instead of waiting for nobody."""
    workers = workers_check()
    if workers != "healthy":
        # No worker cluster at all (manage.py runserver, a worker-less test): the job runs here, in
        # this process, rather than leaving the client waiting for a worker that will not come.
        logger.warning("vision job %s runs in the web process: %s", job.id, workers)
        jobs.job_run(job_id=str(job.id))
        finished = jobs.job_get(job_id=str(job.id))
    else:
        finished = jobs.job_wait(job_id=str(job.id), timeout=settings.MODELYARD_VISION_TIMEOUT_S)
    if not finished.is_finished:
        jobs.job_cancel(job_id=str(job.id))
        raise Unavailable(
            f"the vision job {job.id} did not finish within {settings.MODELYARD_VISION_TIMEOUT_S} s "
            "(MODELYARD_VISION_TIMEOUT_S); are workers running?"
        )
    if finished.state == Job.State.SUCCESS:
        return finished.result
    if finished.state == Job.State.FAILURE and not finished.traceback:  # failed on purpose: the input
        raise Invalid(finished.error)
    if finished.state == Job.State.CANCELLED:
        raise Unavailable(f"the vision job {job.id} was cancelled")
    logger.error("vision job %s crashed: %s", job.id, finished.error)
    raise VisionFailed(f"vision job {job.id} failed: {finished.error}")
