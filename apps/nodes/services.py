"""Public Python API of the nodes app: this node's hardware and model fit, the catalog, the cluster."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core import jobs, system
from apps.core.errors import Conflict, Invalid, NotFound, Unavailable
from apps.core.validation import model_fields_check
from apps.nodes import catalog, hub_sync, listing, polling, selectors
from apps.nodes.hardware import Hardware, hardware_detect, hardware_from_system_dict, hardware_live, hardware_what_if
from apps.nodes.models import CatalogModel, Node
from apps.nodes.scoring import (
    FIT_LEVELS,
    MARGINAL_MAX_USE,
    FitOptions,
    ModelFacts,
    ModelFit,
    compatible,
    fit_model,
)

logger = logging.getLogger(__name__)

POLL_THREADS = 8
WHAT_IF_NODE = "what-if"  # the planned node a placement request describes with what-if hardware

# --- fit on any hardware --------------------------------------------------------------------------


def fit_options(*, max_context: int | None = None, force_runtime: str | None = None) -> FitOptions:
    return FitOptions(
        context_limit=max_context,
        default_context=settings.MODELYARD_NODES_DEFAULT_CONTEXT,
        kv_cache_type=settings.MODELYARD_NODES_KV_CACHE_TYPE,
        unified_memory_fraction=settings.MODELYARD_NODES_UNIFIED_MEMORY_FRACTION,
        force_runtime=force_runtime,
        ddr_bandwidth_gbps=settings.MODELYARD_NODES_DDR_BANDWIDTH_GBPS,
        today=date.today(),
    )


_fits_lock = threading.Lock()
_fits_cache: OrderedDict[tuple, list[ModelFit]] = OrderedDict()
FITS_CACHED = 8  # hardware × options combinations kept (this node, what-ifs, remote nodes): ~2 MB each


def models_fit(
    *, hardware: Hardware, max_context: int | None = None, force_runtime: str | None = None
) -> list[ModelFit]:
    """Every enabled catalog model that can run on `hardware` at all, scored on it (catalog order).

    Cached per catalog state, hardware and options: the hardware is a snapshot, so the same request
    gets the same fits, computed once."""
    version, facts = selectors.catalog_facts()
    options = fit_options(max_context=max_context, force_runtime=force_runtime)
    key = (version, hardware, options)
    with _fits_lock:
        cached = _fits_cache.get(key)
        if cached is not None:
            _fits_cache.move_to_end(key)
            return cached
    fits = [fit_model(model, hardware, options) for model in facts if compatible(model, hardware)]
    with _fits_lock:
        _fits_cache[key] = fits
        while len(_fits_cache) > FITS_CACHED:
            _fits_cache.popitem(last=False)
    return fits


def what_if_hardware(*, hardware: Hardware, what_if: listing.WhatIf) -> Hardware:
    """`hardware` with the request's planned changes (none: as it is)."""
    if not what_if:
        return hardware
    return hardware_what_if(
        hardware, ram_gb=what_if.ram_gb, vram_gb=what_if.vram_gb, cpu_cores=what_if.cpu_cores, gpu=what_if.gpu
    )


def models_listing(*, hardware: Hardware, node: dict[str, str], query: listing.ModelQuery) -> dict[str, Any]:
    """The spec's listing envelope: node, system, totals, the filters echoed, and the models."""
    hardware = what_if_hardware(hardware=hardware, what_if=query.what_if)
    fits = models_fit(hardware=hardware, max_context=query.max_context, force_runtime=query.force_runtime)
    total, selected = _selected(fits, query)
    return {
        "node": node,
        "system": hardware.as_system_dict(),
        "total_models": total,
        "returned_models": len(selected),
        "filters": query.filters(),
        "models": [fit.listing_dict for fit in selected],
    }


_selections: OrderedDict[tuple[int, listing.ModelQuery], tuple[list[ModelFit], int, list[ModelFit]]] = OrderedDict()
SELECTIONS_CACHED = 32


def _selected(fits: list[ModelFit], query: listing.ModelQuery) -> tuple[int, list[ModelFit]]:
    """`listing.select`, remembered for the same cached fits and query (a scheduler polls the same one)."""
    key = (id(fits), query)
    with _fits_lock:
        cached = _selections.get(key)
        if cached is not None and cached[0] is fits:
            return cached[1], cached[2]
    total, selected = listing.select(fits, query)
    with _fits_lock:
        _selections[key] = (fits, total, selected)
        while len(_selections) > SELECTIONS_CACHED:
            _selections.popitem(last=False)
    return total, selected


# --- this node (the node surface) -----------------------------------------------------------------


def local_system(*, what_if: listing.WhatIf | None = None) -> dict[str, Any]:
    """This node's identity and hardware: the snapshot with live available RAM, or the what-if machine."""
    hardware = what_if_hardware(hardware=hardware_live(), what_if=what_if or listing.WhatIf())
    return {"node": system.node_identity(), "system": hardware.as_system_dict()}


def local_models(*, query: listing.ModelQuery) -> dict[str, Any]:
    return models_listing(hardware=hardware_detect(), node=system.node_identity(), query=query)


# --- the catalog ----------------------------------------------------------------------------------


@transaction.atomic
def catalog_sync(*, path: Path | None = None) -> catalog.SyncReport:
    """Apply a catalog file, or the shipped catalog (llmfit's database, corrections, Modelyard's own entries);
    fields edited in the admin are kept."""
    return catalog.catalog_apply(model_class=CatalogModel, path=path)


HUB_VERSION_PREFIX = "hub-"


@transaction.atomic
def catalog_sync_hub(*, model_ids: list[str] | None = None) -> catalog.SyncReport:
    """Add or update catalog rows from the hub the model store reads (MODELYARD_HF_ENDPOINT), from each
    model's config.json and safetensors metadata; fields edited in the admin are kept.

    Without ids, the rows an earlier hub sync added are refreshed. Raises NotFound, Invalid or
    Unavailable for a model the hub lacks, cannot describe, or does not answer for."""
    if not model_ids:
        model_ids = list(
            CatalogModel.objects.filter(catalog_version__startswith=HUB_VERSION_PREFIX).values_list("name", flat=True)
        )
    version = f"{HUB_VERSION_PREFIX}{date.today().isoformat()}"
    entries = [
        catalog.catalog_entry(
            hub_sync.hub_entry(
                repo_id=model_id, endpoint=settings.MODELYARD_HF_ENDPOINT, token=settings.MODELYARD_HF_TOKEN
            )
        )
        for model_id in dict.fromkeys(model_ids)
    ]
    report = catalog.catalog_apply(model_class=CatalogModel, entries=(version, entries))
    report.not_in_file = []  # a sync of named models says nothing about the others
    return report


def catalog_model_record_admin_edit(*, row: CatalogModel, changed_fields: list[str]) -> CatalogModel:
    """Remember which facts an admin changed, so that catalog updates leave them alone."""
    edited = set(row.admin_edited_fields or []) | {name for name in changed_fields if name in catalog.FACT_FIELDS}
    row.admin_edited_fields = sorted(edited)
    return row


def catalog_model_forget_admin_edits(*, rows: QuerySet[CatalogModel]) -> int:
    """Let the next catalog sync overwrite these models' admin edits again."""
    return rows.update(admin_edited_fields=[])


# --- the cluster (platform) -----------------------------------------------------------------------


def node_local_ensure() -> Node:
    """The row of the node this server runs on, created or renamed to match MODELYARD_NODE_NAME."""
    identity = system.node_identity()
    local = Node.objects.filter(is_local=True).first()
    if local is None:
        try:
            with transaction.atomic():
                local = Node.objects.create(name=identity["name"], is_local=True, os=identity["os"])
        except IntegrityError:  # created meanwhile by another process, or a remote node holds the name
            local = Node.objects.filter(is_local=True).first()
            if local is None:
                raise Conflict(f"a registered node is already called {identity['name']!r}") from None
    elif local.name != identity["name"] and not Node.objects.filter(name=identity["name"]).exists():
        local.name = identity["name"]
        local.save(update_fields=["name", "updated_at"])
    return local


def nodes_list() -> QuerySet[Node]:
    node_local_ensure()
    return Node.objects.all()


def node_get(*, name: str) -> Node:
    node_local_ensure()
    node = Node.objects.filter(name=name).first()
    if node is None:
        raise NotFound(f"node {name!r} not found")
    return node


def node_register(*, url: str, name: str | None = None, api_key: str = "") -> Node:
    """Add a node by the URL of its node surface. Without a name, the node must answer to tell its own.

    Every value is checked against its column before the node is asked or saved: a refused one is
    a 400 that leaves no row."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise Invalid(f"node url must start with http:// or https://, got {url!r}")
    model_fields_check(Node(name=name or "unnamed", url=url, api_key=api_key))
    if selectors.node_by_url(url=url):
        raise Conflict(f"a node with url {url} is already registered")
    name = name or node_name_discover(url=url, api_key=api_key)
    if Node.objects.filter(name=name).exists():
        raise Conflict(f"node {name!r} is already registered")
    node = Node(name=name, url=url, api_key=api_key)
    model_fields_check(node)  # the name a node gave itself, too
    node.save()
    _poll_remote([node])
    node.refresh_from_db()
    return node


def node_name_discover(*, url: str, api_key: str = "") -> str:
    """The name a node gives itself on its /health. Invalid (400) when it does not answer: the
    request then lacks the name it needs (the node may be down for now), not a server fault."""
    try:
        return _fetch(url=url.strip().rstrip("/"), api_key=api_key).name
    except (polling.NodeUnreachable, polling.NodeBadAnswer) as error:
        raise Invalid(f"node at {url} did not answer ({error}); give a name to register it anyway") from None


def node_delete(*, name: str) -> None:
    node = node_get(name=name)
    if node.is_local:
        raise Conflict("the local node registers itself and cannot be removed; disable it instead")
    node.delete()


def node_poll(*, name: str) -> Node:
    node = node_get(name=name)
    nodes_poll(names=[node.name])
    node.refresh_from_db()
    return node


def nodes_poll(*, names: list[str] | None = None) -> list[Node]:
    """Poll the enabled nodes (or those named): the local one in process, the others over HTTP, at once."""
    local = node_local_ensure()
    nodes = list(Node.objects.filter(name__in=names) if names is not None else selectors.nodes_enabled())
    if any(node.pk == local.pk for node in nodes):
        _poll_local(local)
    _poll_remote([node for node in nodes if not node.is_local])
    return list(Node.objects.filter(pk__in=[node.pk for node in nodes]))


def nodes_poll_summary(*, names: list[str] | None = None) -> dict[str, Any]:
    """Poll and sum up by status: what the schedule and the admin's "poll now" job return."""
    polled = nodes_poll(names=names)
    jobs.progress(len(polled), len(polled), **jobs.JobProgress(message=f"polled {len(polled)} node(s)"))
    return {node.name: node.status for node in polled}


def nodes_poll_enqueue(*, names: list[str]) -> Any:
    """A "poll now" job, run by a worker, visible with its result in the jobs list."""
    return jobs.job_enqueue(
        kind="nodes.poll",
        func="apps.nodes.tasks.poll_nodes",
        params={"names": names},
        owner_surface="platform",
        owner_ref=",".join(names)[:255],
    )


def node_hardware(*, node: Node) -> Hardware:
    """The node's hardware: detected live for this node, its last report for the others."""
    if node.is_local:
        return hardware_detect()
    if not node.system:
        raise Unavailable(f"node {node.name!r} has not reported its hardware yet (status: {node.status})")
    try:
        return hardware_from_system_dict(node.system)
    except ValueError as error:
        raise Unavailable(f"node {node.name!r} reported hardware that cannot be read: {error}") from None


def node_models(*, name: str, query: listing.ModelQuery) -> dict[str, Any]:
    """A node's model listing, scored here with this platform's catalog on the hardware it last reported."""
    node = node_get(name=name)
    hardware = node_hardware(node=node)
    identity = {"name": node.name, "os": node.os or (system.node_identity()["os"] if node.is_local else "")}
    return {**models_listing(hardware=hardware, node=identity, query=query), **_liveness(node)}


def placement_rank(
    *,
    model: str,
    max_context: int | None = None,
    min_fit: str | None = None,
    force_runtime: str | None = None,
    what_if: listing.WhatIf | None = None,
) -> dict[str, Any]:
    """Rank the cluster's nodes for one model: runnable first, then by score and speed.

    With what-if hardware, a planned node ("what-if": this node's hardware with those changes) is
    ranked beside the registered ones."""
    row = selectors.catalog_model_find(name=model)
    facts = ModelFacts(**catalog.facts_of(row))
    runtime = listing.choice("force_runtime", force_runtime)
    options = fit_options(max_context=max_context, force_runtime=runtime)
    minimum = listing.choice("min_fit", min_fit)
    what_if = what_if or listing.WhatIf()
    node_local_ensure()
    candidates: list[tuple[dict[str, Any], Hardware]] = []
    unavailable = []
    for node in Node.objects.all():
        reason = _unplaceable(node)
        if reason:
            unavailable.append({"node": node.name, "url": node.url or None, "status": node.status, "reason": reason})
            continue
        about = {"node": node.name, "url": node.url or None, "is_local": node.is_local, **_liveness(node)}
        candidates.append((about, node_hardware(node=node)))
    if what_if:
        planned = what_if_hardware(hardware=hardware_detect(), what_if=what_if)
        about = {"node": WHAT_IF_NODE, "url": None, "is_local": False, "status": "planned", "last_seen_at": None}
        candidates.append((about, planned))
    placements, below_minimum = [], []
    for about, hardware in candidates:
        if not compatible(facts, hardware):
            unavailable.append({"node": about["node"], "url": about["url"], "status": about["status"],
                                "reason": "the model's weights do not run on this hardware"})  # fmt: skip
            continue
        fit = fit_model(facts, hardware, options).fit_dict()
        if minimum and FIT_LEVELS.index(fit["fit_level"]) > FIT_LEVELS.index(minimum):
            below_minimum.append({**about, **fit})
            continue
        placements.append({**about, **fit})
    placements.sort(key=lambda p: (p["fit_level"] == "too_tight", -p["score"], -p["estimated_tps"], p["node"]))
    best = next((p["node"] for p in placements if p["fit_level"] != "too_tight"), None)
    return {
        "model": {
            "name": facts.name,
            "provider": facts.provider,
            "parameter_count": facts.parameter_count,
            "params_b": round(facts.params_b, 2),
            "is_moe": facts.is_moe,
            "context_length": facts.context_length,
            "category": facts.category,
        },
        "filters": {"max_context": max_context, "min_fit": minimum, "force_runtime": runtime, **what_if.filters()},
        "best": best,
        "reason": None if best else _no_placement_reason(facts.name, minimum, placements, below_minimum, unavailable),
        "placements": placements,
        "unavailable": unavailable,
    }


def _no_placement_reason(
    model: str,
    minimum: str | None,
    placements: list[dict[str, Any]],
    below_minimum: list[dict[str, Any]],
    unavailable: list[dict[str, Any]],
) -> str:
    """Why placement chose no node: every node below `min_fit` (with the level each reached), the model too
    tight everywhere (with what it needs and the most any node has), or no node to place it on at all."""
    if below_minimum:
        reached = ", ".join(f"{p['node']}: {p['fit_level']}" for p in sorted(below_minimum, key=lambda p: p["node"]))
        return f"no node fits {model} at min_fit={minimum} or better ({reached})"
    if placements:
        roomiest = max(placements, key=lambda p: p["memory_available_gb"])
        needs = min(p["memory_required_gb"] for p in placements)
        return (
            f"{model} is too tight on every node: it needs at least {needs} GB "
            f"and the most any node has is {roomiest['memory_available_gb']} GB ({roomiest['node']}), "
            f"of which a model may fill {MARGINAL_MAX_USE:.0%}"
        )
    if unavailable:
        return f"no node can take {model}: every node is unavailable ({len(unavailable)}, see unavailable)"
    return f"no node can take {model}: no node is registered and enabled"


def node_payload(*, node: Node) -> dict[str, Any]:
    """A node as the cluster API shows it: its last poll, or for this node what it reports right now."""
    payload = {
        "name": node.name,
        "url": node.url or None,
        "is_local": node.is_local,
        "enabled": node.enabled,
        "status": node.status,
        "node": {"name": node.name, "os": node.os},
        "last_seen_at": _iso(node.last_seen_at),
        "last_polled_at": _iso(node.last_polled_at),
        "latency_ms": node.latency_ms,
        "consecutive_failures": node.consecutive_failures,
        "last_error": node.last_error,
        "system": node.system,
        "top_models": node.top_models,
    }
    if node.is_local:  # live even when the poll schedule is off or no worker runs
        report = _local_report(node)
        payload.update(
            _liveness(node),
            node={"name": node.name, "os": report.os},
            system=report.system,
            top_models=report.top_models,
            latency_ms=report.latency_ms,
        )
    return payload


# --- polling internals ----------------------------------------------------------------------------


def _liveness(node: Node) -> dict[str, Any]:
    """Status and last-seen time as the cluster API shows them: this node is alive while it answers."""
    if node.is_local:
        return {"status": Node.Status.HEALTHY, "last_seen_at": _iso(timezone.now())}
    return {"status": node.status, "last_seen_at": _iso(node.last_seen_at)}


def _unplaceable(node: Node) -> str:
    if not node.enabled:
        return "disabled"
    if node.is_local:
        return ""
    if node.status != Node.Status.HEALTHY:
        return f"{node.status}: {node.last_error}" if node.last_error else str(node.status)
    if not node.system:
        return "no hardware report yet"
    return ""


def _fetch(*, url: str, api_key: str) -> polling.NodeReport:
    return polling.node_fetch(
        url=url,
        api_key=api_key,
        timeout=settings.MODELYARD_NODES_POLL_TIMEOUT,
        top=settings.MODELYARD_NODES_POLL_TOP,
    )


def _local_report(node: Node) -> polling.NodeReport:
    """What this node would answer to a poll: its hardware and its top models, as the remote poll reads them."""
    hardware = hardware_detect()
    top = listing.model_query(endpoint="top", limit=settings.MODELYARD_NODES_POLL_TOP, min_fit="good")
    _, best = listing.select(models_fit(hardware=hardware), top)
    return polling.NodeReport(
        name=node.name,
        os=system.node_identity()["os"],
        system=hardware.as_system_dict(),
        top_models=[{key: fit.as_dict()[key] for key in polling.TOP_MODEL_FIELDS} for fit in best],
        latency_ms=0.0,
    )


def _poll_local(node: Node) -> None:
    _record_report(node, _local_report(node))


def _poll_remote(nodes: list[Node]) -> None:
    """Fetch every node at once (HTTP only in the threads), then save the outcomes here."""
    if not nodes:
        return

    def fetch(node: Node) -> tuple[Node, polling.NodeReport | Exception]:
        try:
            return node, _fetch(url=node.url, api_key=node.api_key)
        except (polling.NodeUnreachable, polling.NodeBadAnswer) as error:
            return node, error

    with ThreadPoolExecutor(max_workers=min(POLL_THREADS, len(nodes))) as pool:
        outcomes = list(pool.map(fetch, nodes))
    for node, outcome in outcomes:
        if isinstance(outcome, polling.NodeReport):
            _record_report(node, outcome)
        else:
            status = Node.Status.UNREACHABLE if isinstance(outcome, polling.NodeUnreachable) else Node.Status.ERROR
            _record_failure(node, status, str(outcome))


def _record_report(node: Node, report: polling.NodeReport) -> None:
    now = timezone.now()
    node.status, node.os, node.system, node.top_models = (
        Node.Status.HEALTHY,
        report.os,
        report.system,
        report.top_models,
    )
    node.last_seen_at = node.last_polled_at = now
    node.latency_ms, node.last_error, node.consecutive_failures = report.latency_ms, "", 0
    node.save()


def _record_failure(node: Node, status: str, error: str) -> None:
    logger.info("node %s: %s (%s)", node.name, status, error)
    node.status, node.last_error, node.last_polled_at = status, error[:2000], timezone.now()
    node.consecutive_failures += 1
    node.save(update_fields=["status", "last_error", "last_polled_at", "consecutive_failures", "updated_at"])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
