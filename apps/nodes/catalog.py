"""The model catalog file: reading it and applying it to the database without losing admin edits.

`apps/nodes/data/models.json` is `{"version": ..., "models": [{...}, ...]}`; each model carries the
facts of `CatalogModel`. Applying a file creates the models it adds and updates the others, except
for the fields an admin changed (`admin_edited_fields`) and the models an admin added (`source`
"admin"), which a later file listing the same name does not overwrite. Models the file no longer
lists are kept: they may be an admin's own additions, and disabling one is an admin's decision.

The functions take the model class, so the data migration can run them with its historical model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from apps.core.errors import Invalid

CATALOG_FILE = Path(__file__).resolve().parent / "data" / "models.json"

# The context window and the attention shape that size the KV cache.
ATTENTION_FIELDS = ("context_length", "num_layers", "num_kv_heads", "head_dim", "kv_lora_rank", "qk_rope_head_dim")
FACT_FIELDS = (
    "provider",
    "parameter_count",
    "params_b",
    "active_params_b",
    "is_moe",
    "num_experts",
    "active_experts",
    *ATTENTION_FIELDS,
    "architecture",
    "category",
    "use_case",
    "release_date",
    "gguf_sources",
)
CATEGORIES = ("general", "coding", "reasoning", "chat", "multimodal", "embedding")


@dataclass
class SyncReport:
    version: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept_admin_edits: dict[str, list[str]] = field(default_factory=dict)
    not_in_file: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "kept_admin_edits": self.kept_admin_edits,
            "not_in_file": self.not_in_file,
        }


def catalog_read(path: Path = CATALOG_FILE) -> tuple[str, list[dict[str, Any]]]:
    """(version, entries) of a catalog file, each entry checked and normalized."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise Invalid(f"cannot read the catalog file {path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise Invalid(f'catalog file {path}: expected {{"version": ..., "models": [...]}}')
    entries, seen = [], set()
    for index, raw in enumerate(document["models"]):
        entry = _entry(raw, index)
        if entry["name"] in seen:
            raise Invalid(f"catalog file {path}: model {entry['name']!r} is listed twice")
        seen.add(entry["name"])
        entries.append(entry)
    return str(document.get("version") or ""), entries


def _entry(raw: Any, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise Invalid(f"catalog entry {index}: needs a name")
    missing = [name for name in ("params_b", "context_length") if not raw.get(name)]
    if missing:
        raise Invalid(f"catalog entry {raw['name']!r}: missing {', '.join(missing)}")
    if raw.get("category", "general") not in CATEGORIES:
        raise Invalid(f"catalog entry {raw['name']!r}: category must be one of {', '.join(CATEGORIES)}")
    entry = {name: raw.get(name) for name in FACT_FIELDS}
    entry["name"] = str(raw["name"])
    entry["provider"] = str(raw.get("provider") or raw["name"].split("/")[0])
    entry["parameter_count"] = str(raw.get("parameter_count") or f"{raw['params_b']}B")
    entry["params_b"] = float(raw["params_b"])
    entry["is_moe"] = bool(raw.get("is_moe") or raw.get("active_params_b"))
    entry["category"] = raw.get("category") or "general"
    entry["use_case"] = str(raw.get("use_case") or "")
    entry["architecture"] = str(raw.get("architecture") or "")
    entry["gguf_sources"] = list(raw.get("gguf_sources") or [])
    entry["release_date"] = date.fromisoformat(raw["release_date"]) if raw.get("release_date") else None
    return entry


def catalog_apply(*, model_class: type, path: Path = CATALOG_FILE) -> SyncReport:
    """Create and update catalog rows from the file at `path`, keeping every admin-edited field."""
    version, entries = catalog_read(path)
    fields = {f.name for f in model_class._meta.get_fields()}
    facts = [name for name in FACT_FIELDS if name in fields]
    report = SyncReport(version=version)
    existing = {row.name: row for row in model_class.objects.all()}
    to_create, to_update = [], []
    for entry in entries:
        row = existing.pop(entry["name"], None)
        if row is None:
            to_create.append(model_class(name=entry["name"], catalog_version=version, **{f: entry[f] for f in facts}))
            report.created.append(entry["name"])
            continue
        # A model an admin added is the admin's in every fact; a catalog model, in the facts the admin changed.
        protected = set(facts) if row.source == "admin" else set(row.admin_edited_fields or [])
        changed = [f for f in facts if f not in protected and getattr(row, f) != entry[f]]
        for name in changed:
            setattr(row, name, entry[name])
        kept = sorted(protected & {f for f in facts if getattr(row, f) != entry[f]})
        if kept:
            report.kept_admin_edits[row.name] = kept
        if changed:
            report.updated.append(row.name)
        else:
            report.unchanged += 1
        if changed or row.catalog_version != version:
            row.catalog_version = version
            to_update.append(row)
    model_class.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        model_class.objects.bulk_update(to_update, [*facts, "catalog_version"], batch_size=500)
    report.not_in_file = sorted(existing)
    return report


def facts_of(row: Any) -> dict[str, Any]:
    """The scoring facts of a catalog row, as keyword arguments for `ModelFacts`."""
    return {
        "name": row.name,
        "provider": row.provider,
        "parameter_count": row.parameter_count,
        "params_b": row.params_b,
        "active_params_b": row.active_params_b,
        "is_moe": row.is_moe,
        "num_experts": row.num_experts,
        "active_experts": row.active_experts,
        "context_length": row.context_length,
        "num_layers": row.num_layers,
        "num_kv_heads": row.num_kv_heads,
        "head_dim": row.head_dim,
        "kv_lora_rank": row.kv_lora_rank,
        "qk_rope_head_dim": row.qk_rope_head_dim,
        "category": row.category,
        "use_case": row.use_case,
        "release_date": row.release_date.isoformat() if row.release_date else None,
        "gguf_sources": tuple(row.gguf_sources or ()),
    }
