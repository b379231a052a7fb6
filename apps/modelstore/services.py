"""The model store's public Python API.

Other apps find and load models through `local_model_use` (which marks `last_used`), start
downloads with `download_start`, and never touch the folders or rows directly.
"""

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from apps.core.locks import advisory_xact_lock
from apps.core.models import Job
from apps.modelstore import disk, layout, locks, manifest, metadata, owners, selectors, sources
from apps.modelstore.errors import BadGateway, DownloadFailed, InsufficientStorage
from apps.modelstore.gguf import quantization_label, split_set
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from apps.modelstore.sources.base import RemoteModel, SearchFilters
from apps.modelstore.units import billions, human_size_binary, human_size_decimal

logger = logging.getLogger(__name__)

# The mirror and the loaders mark a model used at most this often (one write, not one per file).
TOUCH_EVERY = timedelta(minutes=1)
EXPORT_FORMATS = ("kitt", "json")
# Sources the models cache API's `provider` means: "universal" (its default) is every source.
ANY_PROVIDER = ("", "universal")


# --- rows in sync with folders -------------------------------------------------------------------


def local_model_record(
    *,
    source: str,
    model_id: str,
    known: dict[str, manifest.FileRecord] | None = None,
    revision: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> LocalModel:
    """Create or refresh the row of a model folder from what is on disk.

    Files whose size and mtime match a known record (`known`, or the row's manifest) are not
    hashed again; the others are. The metadata is read from the files themselves.
    """
    folder = layout.model_dir(source, model_id)
    files = layout.list_model_files(folder)
    if not files:
        raise NotFound(f"no files in {folder}")
    existing = LocalModel.objects.filter(source=source, model_id=model_id).first()
    known_records = {**(existing.manifest if existing else {}), **(known or {})}
    records = manifest.build_manifest(folder, files, known=known_records)
    described = describe_folder(folder, files)
    previous = existing.metadata if existing else {}
    kept = {key: previous[key] for key in ("origin", "include_patterns", "revision") if key in previous}
    values = {
        "path": str(folder),
        "size_bytes": sum(record["size"] for record in records.values()),
        "files": files,
        "manifest": records,
        "metadata": {**described, **kept, **(extra_metadata or {})},
        "revision": revision if revision is not None else (existing.revision if existing else ""),
        # A download (which passes `known`) or a new row is "downloaded now"; a rescan is not.
        "downloaded_at": timezone.now() if existing is None or known is not None else existing.downloaded_at,
    }
    model, _created = LocalModel.objects.update_or_create(source=source, model_id=model_id, defaults=values)
    return model


def describe_folder(folder: Path, files: list[str]) -> dict[str, Any]:
    """The metadata kept on a row: the spec's summary fields plus the hub-style facts the mirror serves."""
    facts = metadata.read_folder(folder, files)
    total = metadata.parameter_total(facts["safetensors"], facts["gguf"])
    return {
        "architecture": metadata.architecture_of(facts["config"], facts["gguf"]),
        "parameter_count": billions(total),
        "format": metadata.formats_of(files),
        "quantization": metadata.quantization_of(facts["config"], files),
        "license": metadata.license_of(facts["cardData"], facts["tags"]),
        **facts,
    }


def source_names_known() -> list[str]:
    """Every source a stored model can have: the registry's, `local` (imports) and those in the store."""
    stored = LocalModel.objects.values_list("source", flat=True).distinct()
    return sorted({*sources.SOURCES, sources.LOCAL_SOURCE, *stored})


def source_check_known(source: str) -> str:
    """`source` when a model can be stored under it; Invalid (400) naming the valid ones otherwise."""
    if source not in source_names_known():
        raise Invalid(f"unknown source {source!r}; valid sources: {', '.join(source_names_known())}")
    return source


def local_model_get(*, source: str, model_id: str) -> LocalModel:
    """The stored model; Invalid for an unknown source or a malformed id, NotFound when not stored."""
    source_check_known(source)
    model = LocalModel.objects.filter(source=source, model_id=layout.check_model_id(model_id)).first()
    if model is None:
        raise NotFound(f"model {source}/{model_id} not found in the store")
    return model


def local_model_list(*, source: str | None = None) -> list[LocalModel]:
    """The stored models (of a known `source`), those apps keep for themselves included (the store's
    API, status and clean manage them); rows whose folder vanished from disk are dropped on the way."""
    if source:
        source_check_known(source)
    return _on_disk(selectors.local_models(source=source))


def inference_model_list(*, source: str | None = None) -> list[LocalModel]:
    """The stored models the inference layer lists (the runtime's and the gateway's `/v1/models`, the
    models cache): `local_model_list` without the entries an app keeps for itself (`owners`)."""
    if source:
        source_check_known(source)
    return _on_disk(selectors.inference_models(source=source))


def _on_disk(models: Iterable[LocalModel]) -> list[LocalModel]:
    """`models` whose folder is on disk; the rows of the others are removed."""
    kept = []
    for model in models:
        if Path(model.path).is_dir():
            kept.append(model)
        else:
            logger.warning("%s: folder %s is gone, removing its row", model, model.path)
            model.delete()
    return kept


def local_model_use(*, model_id: str, source: str | None = None) -> LocalModel:
    """The stored model to load, marked as used now. Prefers `huggingface` when no source is given."""
    model = selectors.local_model_for_id(model_id=layout.check_model_id(model_id), source=source)
    if model is None:
        raise NotFound(f"model {model_id} is not in the store")
    local_model_touch(model=model, force=True)
    return model


def local_model_touch(*, model: LocalModel, force: bool = False) -> None:
    now = timezone.now()
    if force or model.last_used is None or now - model.last_used > TOUCH_EVERY:
        LocalModel.objects.filter(pk=model.pk).update(last_used=now)
        model.last_used = now


def local_model_delete(*, source: str, model_id: str) -> LocalModel:
    """Remove a model's folder, its unfinished download and its row. Conflict while it downloads."""
    model = local_model_get(source=source, model_id=model_id)
    with locks.model_lock(source, model.model_id, wait=False):
        folder = Path(model.path)
        if folder.is_symlink():  # remove the link, never what it points to
            folder.unlink()
        shutil.rmtree(folder, ignore_errors=True)
        layout.remove_empty_parents(folder, layout.models_root() / source)
        shutil.rmtree(layout.partial_dir(source, model.model_id), ignore_errors=True)
        model.delete()
    return model


def local_model_import(*, path: Path, source: str, model_id: str, move: bool = False) -> LocalModel:
    """Add a folder already on disk: its files copied (or the folder moved) into the store, then recorded.

    Only the model's files are taken (`layout.list_model_files`): links out of the folder and
    dangling links are skipped with a warning, never followed. An import that fails leaves nothing
    in the store (and a moved folder back where it was).
    """
    layout.check_source_name(source)
    model_id = layout.check_model_id(model_id)
    path = Path(path).resolve()
    if not path.is_dir():
        raise Invalid(f"{path} is not a folder")
    files = layout.list_model_files(path)
    if not files:
        raise Invalid(f"{path} holds no files (links out of the folder do not count)")
    if LocalModel.objects.filter(source=source, model_id=model_id).exists():
        raise Conflict(f"{source}/{model_id} is already in the store; delete it first")
    target = layout.model_dir(source, model_id)
    if path == target.resolve():
        return local_model_record(source=source, model_id=model_id, extra_metadata={"origin": f"import:{path}"})
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rmdir()
    try:
        if move:
            shutil.move(str(path), str(target))
        else:
            for relative in files:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path / relative, target / relative)  # a link inside the folder: its content
        return local_model_record(source=source, model_id=model_id, extra_metadata={"origin": f"import:{path}"})
    except BaseException:
        if move and target.is_dir() and not path.exists():
            shutil.move(str(target), str(path))
        else:
            shutil.rmtree(target, ignore_errors=True)
        layout.remove_empty_parents(target, layout.models_root() / source)
        raise


def store_sync() -> dict[str, list[str]]:
    """Rescan every row's folder: drop rows whose folder is gone, refresh those whose files changed."""
    removed, refreshed = [], []
    for model in selectors.local_models():
        folder = Path(model.path)
        files = layout.list_model_files(folder)
        if not files:
            model.delete()
            removed.append(str(model))
            continue
        changed = files != model.files or any(
            (folder / name).stat().st_mtime_ns != model.manifest.get(name, {}).get("mtime") for name in files
        )
        if changed:
            local_model_record(source=model.source, model_id=model.model_id)
            refreshed.append(str(model))
    return {"removed": removed, "refreshed": refreshed}


# --- status, clean, export -------------------------------------------------------------------


def store_status() -> dict[str, Any]:
    models = local_model_list()
    per_source: dict[str, dict[str, int]] = {}
    for model in models:
        entry = per_source.setdefault(model.source, {"count": 0, "size_bytes": 0})
        entry["count"] += 1
        entry["size_bytes"] += model.size_bytes
    return {
        "model_count": len(models),
        "total_size_bytes": sum(model.size_bytes for model in models),
        "storage_path": str(layout.models_root()),
        "sources": per_source,
    }


def clean_candidates(*, unused: bool = False, days: int = 30, all: bool = False) -> list[LocalModel]:  # noqa: A002
    """The models `clean` removes, for the dry run and the real run alike: every model (`all`) or
    those neither used nor downloaded within `days` (`unused`); never one being downloaded."""
    if days < 0:
        raise Invalid("days must be >= 0")
    if not (all or unused):
        return []
    cutoff = timezone.now() - timedelta(days=days)
    return [
        model
        for model in local_model_list()
        if (all or (model.last_used or model.downloaded_at) < cutoff) and not model_downloading(model=model)
    ]


def model_downloading(*, model: LocalModel) -> bool:
    """Is a download of this model queued or running (its job unfinished, or its lock held)?"""
    queued = Job.objects.filter(
        kind=DOWNLOAD_JOB_KIND,
        owner_ref=f"{model.source}/{model.model_id}",
        state__in=[Job.State.PENDING, Job.State.STARTED],
    ).exists()
    return queued or locks.model_locked(model.source, model.model_id)


def store_clean(*, unused: bool = False, days: int = 30, all: bool = False, dry_run: bool = False) -> dict[str, Any]:  # noqa: A002
    """Remove (or with `dry_run` only list) the models `clean_candidates` selects."""
    removed, freed = [], 0
    for model in clean_candidates(unused=unused, days=days, all=all):
        if not dry_run:
            try:
                local_model_delete(source=model.source, model_id=model.model_id)
            except Conflict:  # a download started since the selection: left alone
                logger.info("clean: %s started downloading, left alone", model)
                continue
        removed.append(f"{model.source}/{model.model_id}")
        freed += model.size_bytes
    return {"removed": len(removed), "freed_bytes": freed, "dry_run": dry_run, "models": removed}


def store_export(*, format: str = "kitt") -> dict[str, Any]:  # noqa: A002
    if format not in EXPORT_FORMATS:
        raise Invalid(f"unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    models = local_model_list()
    if format == "kitt":
        content: list = [model.path for model in models]
    else:
        content = [
            {
                "source": model.source,
                "model_id": model.model_id,
                "path": model.path,
                "size_bytes": model.size_bytes,
                "downloaded_at": naive_iso(model.downloaded_at),
                "files": model.files,
            }
            for model in models
        ]
    return {"format": format, "count": len(models), "content": content}


def naive_iso(moment: Any) -> str | None:
    """UTC without an offset (`2025-02-12T14:30:00.123456`), as the model-store spec writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


# --- the remote side -------------------------------------------------------------------------


def model_search(*, source: str, filters: SearchFilters) -> list[RemoteModel]:
    if filters.limit < 1:
        raise Invalid("limit must be at least 1")
    return sources.source_get(source).search(filters)


def model_describe(*, source: str, model_id: str) -> dict[str, Any]:
    """`{"local": row or None, "remote": RemoteModel or None}`; NotFound when neither exists,
    Invalid for an unknown source or a malformed id."""
    source_check_known(source)
    model_id = layout.check_model_id(model_id)
    local = LocalModel.objects.filter(source=source, model_id=model_id).first()
    remote = None
    if source in sources.SOURCES:
        try:
            remote = sources.source_get(source).model_info(model_id)
        except NotFound:
            remote = None
        except Exception as error:  # the remote half is best effort when the model is stored
            if local is None:
                raise
            logger.info("remote info of %s/%s unavailable: %s", source, model_id, error)
    if local is None and remote is None:
        raise NotFound(f"model {source}/{model_id} not found locally or on the source")
    return {"local": local, "remote": remote}


def quantizations_list(*, model_id: str, source: str = sources.DEFAULT_SOURCE) -> list[dict[str, Any]]:
    """The GGUF files of a model with their quantization label and size; from the source, or from the
    store when the source cannot be asked."""
    model_id = layout.check_model_id(model_id)
    try:
        files = [(item.path, item.size) for item in sources.source_get(source).list_files(model_id).files]
    except (NotFound, Unavailable, BadGateway):
        stored = selectors.local_model_for_id(model_id=model_id, source=None)
        if stored is None:
            raise
        files = [(name, record["size"]) for name, record in stored.manifest.items()]
    shards: dict[str, list[tuple[str, int]]] = {}
    for name, size in sorted(files):
        if name.lower().endswith(".gguf"):
            shards.setdefault(split_set(name), []).append((name, size))
    # A split GGUF is one option: its first shard (what llama.cpp is given) and the size of all.
    options = []
    for parts in shards.values():
        first, size = parts[0][0], sum(part_size for _name, part_size in parts)
        options.append(
            {
                "filename": first,
                "quantization": quantization_label(first) or "unknown",
                "size_bytes": size,
                "size_human": human_size_binary(size),
            }
        )
    return sorted(options, key=lambda option: option["size_bytes"])


def provider_source(*, provider: str) -> str | None:
    """The source a models cache API `provider` names: None for "universal" (every source), else
    any source a stored model can have (`source_names_known`: the hub sources, `local`, …) but a
    source an app keeps for itself (`ml`: not in the models cache, an unknown provider there)."""
    if provider in ANY_PROVIDER:
        return None
    known = [source for source in source_names_known() if source not in owners.owned_sources()]
    if provider not in known:
        raise Invalid(f"unknown provider {provider!r}; use 'universal' or one of {', '.join(known)}")
    return provider


def provider_download_source(*, provider: str) -> str:
    """Where a models cache API download of `provider` comes from: "universal" means the hub; only
    a source that downloads (not `local`, which holds imports) can be named."""
    if provider in ANY_PROVIDER:
        return sources.DEFAULT_SOURCE
    if provider not in sources.SOURCES:
        names = ", ".join(sources.SOURCES.names())
        raise Invalid(f"unknown provider {provider!r} to download from; use 'universal' or one of {names}")
    return provider


def cache_entry(model: LocalModel) -> dict[str, Any]:
    """A stored model as the models cache API lists it, with OpenAI's model-list fields too."""
    return {
        "model_id": model.model_id,
        "size_bytes": model.size_bytes,
        "size_human": human_size_decimal(model.size_bytes),
        "last_modified": model.downloaded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revisions": ["main"],
        "id": model.model_id,
        "object": "model",
        "created": int(model.downloaded_at.timestamp()),
        "owned_by": model.author or model.source,
        "source": model.source,
    }


def cache_list(*, provider: str = "universal") -> list[dict[str, Any]]:
    """The models cache API's list: every stored model of `provider` ("universal": every source)
    that the inference layer serves; the entries an app keeps for itself (ML classifiers, forecasting
    checkpoints: `owners`) are managed through that app and the store's API, not listed here."""
    return [cache_entry(model) for model in inference_model_list(source=provider_source(provider=provider))]


def cache_delete(*, model_name: str, provider: str = "universal") -> dict[str, Any]:
    """The models cache API's delete: every stored copy of `model_name` (of one source if given)
    that `cache_list` shows; NotFound for an entry an app keeps for itself, whose files that app
    (and the store's own API) deletes, never the cache behind its back."""
    source = provider_source(provider=provider)
    model_name = layout.check_model_id(model_name)
    found = list(selectors.inference_models(source=source).filter(model_id=model_name))
    if not found:
        raise NotFound(f"model {model_name} is not cached")
    freed = 0
    for model in found:
        local_model_delete(source=model.source, model_id=model.model_id)
        freed += model.size_bytes
    return {"model_name": model_name, "revisions_deleted": len(found), "size_freed": freed, "path": found[0].path}


# --- downloads -------------------------------------------------------------------------------


@dataclass
class DownloadStart:
    """A download asked for: the job doing it, or None when the store already had everything."""

    source: str
    model_id: str
    job: Job | None
    model: LocalModel | None


@dataclass
class DownloadPlan:
    """What a download would fetch: the chosen files, the bytes still needed, and why the source
    would refuse the files (a gated repository), or None."""

    files: list[Any]
    needed_bytes: int
    refusal: str | None


def download_plan(
    *, source: str, model_id: str, include_patterns: list[str] | None = None, force: bool = False
) -> DownloadPlan:
    """The source's files a download would fetch and the bytes it still needs: files already stored
    and the parts of partial files are not counted, unless `force` (which fetches everything again)."""
    from huggingface_hub.utils import filter_repo_objects

    model_source = sources.source_get(source)
    listing = model_source.list_files(model_id)
    chosen = list(filter_repo_objects(listing.files, allow_patterns=include_patterns, key=lambda item: item.path))
    if include_patterns and not chosen:
        raise NotFound(f"no file of {source}/{model_id} matches include_patterns {include_patterns}")
    refusal = model_source.access_refusal(listing, chosen[0].path) if chosen else None
    if force:
        return DownloadPlan(files=chosen, needed_bytes=sum(item.size for item in chosen), refusal=refusal)
    stored = LocalModel.objects.filter(source=source, model_id=model_id).first()
    needed = 0
    for item in chosen:
        record = stored.manifest.get(item.path) if stored else None
        if record and manifest.etag(record) == item.expected_digest:
            continue
        partial = layout.partial_file(source, model_id, item.path, item.expected_digest)
        done = partial.stat().st_size if partial.is_file() else 0
        needed += max(item.size - done, 0)
    return DownloadPlan(files=chosen, needed_bytes=needed, refusal=refusal)


def download_validate(
    *, model_id: str, source: str = sources.DEFAULT_SOURCE, include_patterns: list[str] | None = None
) -> dict:
    """Will the download work? The disk check, or `can_download: false` with the reason when the
    source refuses the files (a gated repository)."""
    model_id = sources_model_id(model_id)
    plan = download_plan(source=source, model_id=model_id, include_patterns=include_patterns)
    check = disk.download_check(required_bytes=plan.needed_bytes)
    if plan.refusal is not None:
        return {**check, "can_download": False, "warning": False, "message": plan.refusal}
    return check


def sources_model_id(model_id: str) -> str:
    """A model id from an id or a hub URL (`https://huggingface.co/Qwen/Qwen2.5-7B/tree/main`)."""
    text = (model_id or "").strip()
    for prefix in (settings.MODELYARD_HF_ENDPOINT + "/", "https://huggingface.co/", "http://huggingface.co/"):
        if text.startswith(prefix):
            text = text.removeprefix(prefix).split("/tree/", 1)[0].split("/blob/", 1)[0]
            break
    return layout.check_model_id(text)


def download_start(
    *,
    model_id: str,
    source: str = sources.DEFAULT_SOURCE,
    include_patterns: list[str] | None = None,
    quantization: str | None = None,
    force: bool = False,
    refresh: bool = False,
    owner_surface: str = "platform",
    plan_on_worker: bool = False,
) -> DownloadStart:
    """Start downloading a model, or join the download of it already running.

    Without `force` or `refresh`, a model the store already holds (all of it, or every pattern
    asked for) is returned at once, without asking the source. Otherwise the source is asked first,
    so an unknown model (404), patterns that match nothing (404) and a full disk (507) are refused
    before any job. `refresh` fetches only what changed at the source; `force` fetches everything.
    `quantization` (`Q4_K_M`) adds the GGUF files of that quantization to `include_patterns`.

    `plan_on_worker`: the source is not asked here; the job lists the files, checks access and the
    disk on the worker, and those refusals end it failed. For a caller whose process keeps the hub
    offline (the model runtime serving the forecast surface: HF_HUB_OFFLINE there is process-wide).
    """
    sources.source_get(source)
    model_id = sources_model_id(model_id)
    if quantization:
        include_patterns = [*(include_patterns or []), f"*{quantization}*.gguf"]
    patterns = [pattern for pattern in (include_patterns or []) if pattern] or None
    params = {"source": source, "model_id": model_id, "include_patterns": patterns, "force": force}
    if not force and not refresh:
        stored = LocalModel.objects.filter(source=source, model_id=model_id).first()
        if stored is not None and _covers(stored, patterns):
            return DownloadStart(source=source, model_id=model_id, job=None, model=stored)
    jobs.jobs_recover(kind=DOWNLOAD_JOB_KIND)  # never join a download that no worker runs any more
    running = _running_download(params)
    if running is not None:
        return DownloadStart(source=source, model_id=model_id, job=running, model=None)

    if not plan_on_worker:
        plan = download_plan(source=source, model_id=model_id, include_patterns=patterns, force=force)
        if plan.refusal is not None:
            raise Forbidden(plan.refusal)
        needed = plan.needed_bytes
        check = disk.download_check(required_bytes=needed)
        if not check["can_download"]:
            raise InsufficientStorage(check["message"], required_bytes=needed, available_bytes=check["available_bytes"])
    with transaction.atomic():
        # Two requests for the same model at once: the second waits here, then finds the first's job.
        advisory_xact_lock(f"modelstore.download:{source}/{model_id}")
        running = _running_download(params)
        if running is None:
            running = jobs.job_enqueue(
                kind=DOWNLOAD_JOB_KIND,
                func="apps.modelstore.tasks.download_model",
                params=params,
                owner_surface=owner_surface,
                owner_ref=f"{source}/{model_id}",
            )
    return DownloadStart(source=source, model_id=model_id, job=running, model=None)


def _covers(model: LocalModel, patterns: list[str] | None) -> bool:
    """Does the stored copy hold what was asked for? A complete download holds everything."""
    from huggingface_hub.utils import filter_repo_objects

    if model.metadata.get("include_patterns") is None:
        return True
    if patterns is None:
        return False
    return all(list(filter_repo_objects(model.files, allow_patterns=[pattern])) for pattern in patterns)


def _running_download(params: dict[str, Any]) -> Job | None:
    """An unfinished job downloading the same thing: same model and patterns, and `force` if asked."""
    candidates = Job.objects.filter(
        kind=DOWNLOAD_JOB_KIND,
        owner_ref=f"{params['source']}/{params['model_id']}",
        state__in=[Job.State.PENDING, Job.State.STARTED],
        cancel_requested=False,
    ).order_by("created_at")
    for job in candidates:
        if job.params.get("include_patterns") == params["include_patterns"] and (
            job.params.get("force") or not params["force"]
        ):
            return job
    return None


def download_cancelled_message(*, start: DownloadStart) -> str:
    """What a client waiting on the download `start` is told when someone cancelled it. A deliberate
    cancel is no fault of the server: it is logged at INFO, and a waiting request answers 409."""
    message = f"download of {start.source}/{start.model_id} was cancelled"
    logger.info("%s (job %s); telling a waiting client", message, start.job.id if start.job else "-")
    return message


def download_wait(*, start: DownloadStart, timeout: float | None = None) -> LocalModel:
    """Wait for a download to end; the stored model, Conflict when it was cancelled, or
    DownloadFailed with the job's reason."""
    if start.job is None:
        assert start.model is not None
        return start.model
    job = jobs.job_wait(job_id=str(start.job.id), timeout=timeout)
    if job.state == Job.State.SUCCESS:
        return local_model_get(source=start.source, model_id=start.model_id)
    if job.state == Job.State.CANCELLED:
        raise Conflict(download_cancelled_message(start=start), job_id=str(job.id))
    if not job.is_finished:
        raise DownloadFailed(f"download of {start.source}/{start.model_id} still running", job_id=str(job.id))
    raise DownloadFailed(f"download failed: {job.error}", job_id=str(job.id))


def download_payload(model: LocalModel) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "source": model.source,
        "path": model.path,
        "files": model.files,
        "size_bytes": model.size_bytes,
    }
