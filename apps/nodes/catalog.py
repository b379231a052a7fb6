"""The model catalog: reading the shipped data and applying it to the database without losing admin edits.

The shipped catalog is built from three files in `apps/nodes/data/`:

- `llmfit/hf_models.json`: llmfit's model database (MIT, see `llmfit/LICENSE`), read as it is:
  duplicates of one model (same repository name, any org or case) are merged the way llmfit merges
  them, and test stubs (`tiny-random`, …) are left out as llmfit's own scraper leaves them out;
- `corrections.json`: Modelyard's corrections to entries that are plainly wrong upstream;
- `models.json`: Modelyard's own entries, for models llmfit's database lacks;
- `licenses.json`: the licenses of the models that have none (llmfit's database has none), by repository id
  pattern, each rule naming its source (the model card's license field).

A catalog file given on the command line (`catalog_sync --file`) is either Modelyard's format
(`{"version": ..., "models": [{...}, ...]}`) or llmfit's (a JSON list of its entries).

Applying a catalog creates the models it adds and updates the others, except for the fields an
admin changed (`admin_edited_fields`) and the models an admin added (`source` "admin"), which a
later file listing the same name does not overwrite. Models a file no longer lists are kept: they
may be an admin's own additions, and disabling one is an admin's decision.

The functions take the model class, so data migrations can run them with their historical model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from django.utils import timezone

from apps.core.errors import Invalid

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOG_FILE = DATA_DIR / "models.json"
LLMFIT_FILE = DATA_DIR / "llmfit" / "hf_models.json"
CORRECTIONS_FILE = DATA_DIR / "corrections.json"
LICENSES_FILE = DATA_DIR / "licenses.json"
LLMFIT_COMMIT = "a3e0eb2"

# The context window and the attention shape that size the KV cache.
ATTENTION_FIELDS = (
    "context_length",
    "num_layers",
    "num_kv_heads",
    "num_attention_heads",
    "head_dim",
    "kv_lora_rank",
    "qk_rope_head_dim",
)
# What llmfit's MoE speed model reads besides the attention shape.
SHAPE_FIELDS = ("hidden_size", "vocab_size", "moe_intermediate_size", "shared_expert_intermediate_size")
# The memory llmfit's database states for the model at its default quantization.
REQUIREMENT_FIELDS = ("quantization", "weight_format", "min_ram_gb", "recommended_ram_gb", "min_vram_gb")
FACT_FIELDS = (
    "provider",
    "parameter_count",
    "params_b",
    "active_params_b",
    "is_moe",
    "num_experts",
    "active_experts",
    *ATTENTION_FIELDS,
    *SHAPE_FIELDS,
    *REQUIREMENT_FIELDS,
    "architecture",
    "category",
    "use_case",
    "release_date",
    "license",
    "capabilities",
    "gguf_sources",
)
CATEGORIES = ("general", "coding", "reasoning", "chat", "multimodal", "embedding")
FORMATS = ("gguf", "awq", "gptq", "autoround", "mlx", "safetensors", "onnx")
CAPABILITIES = ("vision", "tool_use", "audio", "tts")
DEFAULT_QUANT = "Q4_K_M"

# llmfit's scraper sizes a model at 4 bits per weight (Q4_K_M counted as 0.5 byte per parameter).
REQUIREMENT_BYTES_PER_PARAM = {"Q4_K_M": 0.5, "Q4_0": 0.5, "Q8_0": 1.0, "F16": 2.0, "BF16": 2.0, "AWQ-4bit": 0.5,
                               "AWQ-8bit": 1.0, "GPTQ-Int4": 0.5, "GPTQ-Int8": 1.0}  # fmt: skip

TEST_STUB_MARKERS = ("tiny-random", "tiny-dummy", "-random-init", "ci-random-")


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


# --- what llmfit derives from a model's name and description ----------------------------------------


def category_infer(name: str, use_case: str) -> str:
    """The use-case category llmfit scores a model for, from its name and description (`UseCase::from_model`)."""
    name, use_case = name.lower(), use_case.lower()
    if "embedding" in use_case or "embed" in name or "bge" in name:
        return "embedding"
    if "code" in name or "code" in use_case:
        return "coding"
    if "vision" in use_case or "multimodal" in use_case:
        return "multimodal"
    if "reason" in use_case or "chain-of-thought" in use_case or "deepseek-r1" in name:
        return "reasoning"
    if "chat" in use_case or "instruction" in use_case:
        return "chat"
    return "general"


def capabilities_infer(name: str, use_case: str, architecture: str, declared: list[str]) -> list[str]:
    """Declared capabilities plus those llmfit infers from the name, description and architecture."""
    caps = [cap for cap in declared if cap in CAPABILITIES]
    name, use_case, architecture = name.lower(), use_case.lower(), architecture.lower()
    vision = ("vision" in name or "-vl-" in name or name.endswith("-vl") or "llava" in name or "onevision" in name
              or "pixtral" in name or "vision" in use_case or "multimodal" in use_case)  # fmt: skip
    tools = ("tool" in use_case or "function call" in use_case or "qwen3" in name or "qwen2.5" in name
             or "command-r" in name or ("llama-3" in name and "instruct" in name)
             or ("mistral" in name and "instruct" in name) or "hermes" in name
             or (("gemma-3" in name or "gemma-4" in name) and name.endswith("-it")))  # fmt: skip
    audio = (
        "whisper" in architecture
        or "whisper" in name
        or any(word in use_case for word in ("text-to-speech", "transcription", "speech", "audio"))
    )
    for cap, present in (
        ("vision", vision),
        ("tool_use", tools),
        ("audio", audio),
        ("tts", "text-to-speech" in use_case),
    ):  # noqa: E501
        if present and cap not in caps:
            caps.append(cap)
    return caps


def requirements_estimate(params: float, quant: str = DEFAULT_QUANT) -> dict[str, float]:
    """llmfit's scraper rule for the memory a model needs at its default quantization (GiB, 1 decimal).

    weights = params × bytes per param (0.5 for 4-bit) / 2³⁰; min RAM = max(1.2 × weights, 1.0);
    recommended RAM = max(2 × weights, 2.0); min VRAM = max(1.1 × weights, 0.5). `params` is a count.
    """
    weights = params * REQUIREMENT_BYTES_PER_PARAM.get(quant, 0.5) / 1024**3
    return {
        "min_ram_gb": round(max(weights * 1.2, 1.0), 1),
        "recommended_ram_gb": round(max(weights * 2.0, 2.0), 1),
        "min_vram_gb": round(max(weights * 1.1, 0.5), 1),
    }


def parameter_label(params: float) -> str:
    """A display label for a parameter count ("7B", "1.5B", "335M"), as llmfit's scraper writes it."""
    if params >= 1e9:
        value = params / 1e9
        return f"{int(value)}B" if value == int(value) else f"{value:.1f}B"
    if params >= 1e6:
        return f"{params / 1e6:.0f}M"
    return f"{params / 1e3:.0f}K"


def is_test_stub(name: str) -> bool:
    """Randomly initialised test repositories (of test organisations too: `…-testing/`, `nm-testing/`),
    which llmfit's scraper keeps out of its catalog."""
    lower = name.lower()
    if any(marker in lower for marker in TEST_STUB_MARKERS):
        return True
    org, _, repo = lower.rpartition("/")
    if org.endswith(("-testing", "-test")) or "unit-test" in repo or repo.endswith(("-test", "-testing")):
        return True
    return repo.startswith(("test-", "testing-", "test_")) or bool(re.match(r"^test\d", repo))


def canonical_slug(name: str) -> str:
    """The key llmfit merges duplicates by: the repository name without org, case, '-', '_' or '.'."""
    return re.sub(r"[-_.]", "", name.rsplit("/", 1)[-1].lower())


# --- reading ------------------------------------------------------------------------------------------


def catalog_read(path: Path | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(version, entries): the shipped catalog, or the catalog file at `path`; each entry checked and normalized,
    with the curated license (`licenses.json`) where it gives none.

    The shipped catalog is parsed once per process (a copy is returned each time)."""
    if path is None:
        version, entries = _shipped()
        return version, [dict(entry) for entry in entries]
    document = _load_json(Path(path))
    if isinstance(document, list):
        version, entries = f"llmfit-{Path(path).stem}"[:32], _from_llmfit(document, str(path))
    else:
        version, entries = _from_document(document, str(path))
    return version, _licensed(entries)


@cache
def _shipped() -> tuple[str, tuple[dict[str, Any], ...]]:
    own_version, own = _from_document(_load_json(CATALOG_FILE), str(CATALOG_FILE))
    llmfit = _from_llmfit(_load_json(LLMFIT_FILE), str(LLMFIT_FILE), corrections=corrections_read())
    known = {canonical_slug(entry["name"]) for entry in llmfit}
    merged = llmfit + [entry for entry in own if canonical_slug(entry["name"]) not in known]
    return f"{LLMFIT_COMMIT}+{own_version}", tuple(_licensed(merged))


def _licensed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`entries`, those without a license given the curated one (`licenses.json`), if any rule names them."""
    rules = licenses_read()
    for entry in entries:
        entry["license"] = entry["license"] or license_for(entry["name"], rules)
    return entries


def licenses_read() -> list[tuple[re.Pattern[str], str]]:
    """The curated license rules (`licenses.json`): [(repository id pattern, SPDX-style license id)], in order."""
    return [(re.compile(rule["pattern"]), rule["license"]) for rule in _load_json(LICENSES_FILE)["licenses"]]


def license_for(name: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    """The license of the first rule whose pattern matches the repository id `name`; "" when none does."""
    return next((license_id for pattern, license_id in rules if pattern.search(name)), "")


def corrections_read() -> list[dict[str, Any]]:
    """Modelyard's corrections to llmfit's database: [{"names": [...] or "pattern": regex with "where":
    {field: wrong value}, "set": {...}, "reason": ...}]."""
    return _load_json(CORRECTIONS_FILE)["corrections"]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise Invalid(f"cannot read the catalog file {path}: {error}") from None


def _from_document(document: Any, source: str) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        expected = '{"version": ..., "models": [...]} or a list of llmfit entries'
        raise Invalid(f"catalog file {source}: expected {expected}")
    entries, seen = [], set()
    for index, raw in enumerate(document["models"]):
        entry = _entry(raw, index)
        if entry["name"] in seen:
            raise Invalid(f"catalog file {source}: model {entry['name']!r} is listed twice")
        seen.add(entry["name"])
        entries.append(entry)
    return str(document.get("version") or ""), entries


def catalog_entry(raw: dict[str, Any]) -> dict[str, Any]:
    """One entry of Modelyard's format, checked and normalized (raises Invalid)."""
    return _entry(raw, 0)


def _entry(raw: Any, index: int) -> dict[str, Any]:
    """One entry of Modelyard's format; memory requirements default to llmfit's scraper rule."""
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
    entry["quantization"] = str(raw.get("quantization") or DEFAULT_QUANT)
    entry["weight_format"] = _format(raw.get("weight_format") or raw.get("format"), entry["name"])
    entry["license"] = str(raw.get("license") or "")
    entry["capabilities"] = capabilities_infer(
        entry["name"], entry["use_case"], entry["architecture"], list(raw.get("capabilities") or [])
    )
    estimate = requirements_estimate(entry["params_b"] * 1e9, entry["quantization"])
    for name, value in estimate.items():
        entry[name] = float(raw[name]) if raw.get(name) is not None else value
    return entry


def _format(value: Any, name: str) -> str:
    value = str(value or "gguf").lower()
    if value not in FORMATS:
        raise Invalid(f"catalog entry {name!r}: format must be one of {', '.join(FORMATS)}")
    return value


def _from_llmfit(records: Any, source: str, corrections: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """llmfit database entries as catalog entries: test stubs dropped, duplicates merged, corrections applied."""
    if not isinstance(records, list) or not all(isinstance(r, dict) and r.get("name") for r in records):
        raise Invalid(f"catalog file {source}: an llmfit database is a JSON list of entries with a name")
    fixes = {name: fix for fix in corrections for name in fix.get("names", ())}
    patterns = [(re.compile(fix["pattern"], re.IGNORECASE), fix) for fix in corrections if fix.get("pattern")]
    merged: dict[str, dict[str, Any]] = {}
    for record in records:
        if is_test_stub(record["name"]):
            continue
        record = dict(record)
        fix = fixes.get(record["name"]) or next(
            (fix for pattern, fix in patterns if pattern.search(record["name"]) and _where(record, fix)), None
        )
        if fix:
            record.update(fix["set"])
            if {"parameters_raw", "active_parameters"} & set(fix["set"]):
                quant = record.get("quantization") or DEFAULT_QUANT
                record.update(requirements_estimate(record["parameters_raw"], quant))
        key = canonical_slug(record["name"])
        if key in merged:
            _merge_duplicate(merged[key], record)
        else:
            merged[key] = record
    return [_llmfit_entry(record, source) for record in merged.values()]


def _llmfit_format(record: dict[str, Any], name: str) -> str:
    # MLX builds are labelled `gguf` in llmfit's database: their name says what they are.
    return "mlx" if "mlx" in re.split(r"[-_/.]", name.lower()) else _format(record.get("format"), name)


def _where(record: dict[str, Any], fix: dict[str, Any]) -> bool:
    """A pattern correction applies only to entries that still have the wrong values it names."""
    return all(record.get(name) == value for name, value in fix.get("where", {}).items())


def _merge_duplicate(kept: dict[str, Any], other: dict[str, Any]) -> None:
    """llmfit's rule for two entries of one model: larger sizes and context, the later date, unions, first shape.

    Unlike llmfit (which keeps whichever name its hash map saw first) the merged model keeps the name of
    a hand-curated entry, else of the most downloaded repository: the original rather than a re-upload
    (`Qwen/…`, not `unsloth/…`)."""
    if _name_rank(other) > _name_rank(kept):
        kept["name"], kept["provider"] = other["name"], other.get("provider")
        kept["_discovered"], kept["hf_downloads"] = other.get("_discovered"), other.get("hf_downloads")
    if (other.get("parameters_raw") or 0) > (kept.get("parameters_raw") or 0):
        kept["parameter_count"], kept["parameters_raw"] = other.get("parameter_count"), other.get("parameters_raw")
    for name in ("min_ram_gb", "recommended_ram_gb", "min_vram_gb", "context_length"):
        if (other.get(name) or 0) > (kept.get(name) or 0):
            kept[name] = other[name]
    if other.get("is_moe") and not kept.get("is_moe"):
        for name in ("is_moe", "num_experts", "active_experts", "active_parameters"):
            kept[name] = other.get(name)
    if (other.get("release_date") or "") > (kept.get("release_date") or ""):
        kept["release_date"] = other["release_date"]
    kept["capabilities"] = list(dict.fromkeys([*(kept.get("capabilities") or []), *(other.get("capabilities") or [])]))
    repos = {source.get("repo") for source in kept.get("gguf_sources") or []}
    kept["gguf_sources"] = [*(kept.get("gguf_sources") or []),
                            *[s for s in other.get("gguf_sources") or [] if s.get("repo") not in repos]]  # fmt: skip
    for name in ("num_attention_heads", "num_key_value_heads", "num_hidden_layers", "head_dim", "license"):
        if kept.get(name) is None:
            kept[name] = other.get(name)


def _name_rank(record: dict[str, Any]) -> tuple[bool, int]:
    return not record.get("_discovered"), record.get("hf_downloads") or 0


def _llmfit_entry(record: dict[str, Any], source: str) -> dict[str, Any]:
    name = str(record["name"])
    try:
        params = float(record.get("parameters_raw") or _parse_label(record.get("parameter_count", "")))
        active = record.get("active_parameters")
        use_case = str(record.get("use_case") or "")
        architecture = str(record.get("architecture") or "")
        architecture = "" if architecture == "unknown" else architecture
        quant = str(record.get("quantization") or DEFAULT_QUANT)
        min_ram = float(record["min_ram_gb"])
        return {
            "name": name,
            "provider": str(record.get("provider") or name.split("/")[0]),
            "parameter_count": str(record.get("parameter_count") or parameter_label(params)),
            "params_b": params / 1e9,
            "active_params_b": float(active) / 1e9 if active else None,
            "is_moe": bool(record.get("is_moe")),
            "num_experts": record.get("num_experts"),
            "active_experts": record.get("active_experts"),
            "context_length": int(record["context_length"]),
            "num_layers": record.get("num_hidden_layers"),
            "num_kv_heads": record.get("num_key_value_heads"),
            "num_attention_heads": record.get("num_attention_heads"),
            "head_dim": record.get("head_dim"),
            "kv_lora_rank": None,
            "qk_rope_head_dim": None,
            **{shape: _first_int(record.get(shape)) for shape in SHAPE_FIELDS},
            "quantization": quant,
            "weight_format": _llmfit_format(record, name),
            "min_ram_gb": min_ram,
            "recommended_ram_gb": float(record.get("recommended_ram_gb") or min_ram),
            "min_vram_gb": float(record["min_vram_gb"]) if record.get("min_vram_gb") is not None else None,
            "architecture": architecture,
            "category": category_infer(name, use_case),
            "use_case": use_case,
            "release_date": date.fromisoformat(record["release_date"]) if record.get("release_date") else None,
            "license": str(record.get("license") or ""),
            "capabilities": capabilities_infer(name, use_case, architecture, list(record.get("capabilities") or [])),
            "gguf_sources": list(record.get("gguf_sources") or []),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise Invalid(f"catalog file {source}: entry {name!r}: {type(error).__name__}: {error}") from None


def _first_int(value: Any) -> int | None:
    """Some configs give a per-layer list (ERNIE-4.5-VL): the first value stands for all."""
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if value is not None else None


def _parse_label(label: str) -> float:
    text = str(label).strip().upper()
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if text.endswith(suffix):
            return float(text[:-1]) * scale
    raise ValueError(f"no parameter count ({label!r})")


# --- applying -----------------------------------------------------------------------------------------


def catalog_apply(
    *, model_class: type, path: Path | None = None, entries: tuple[str, list[dict[str, Any]]] | None = None
) -> SyncReport:
    """Create and update catalog rows from the shipped catalog, the file at `path`, or (version, entries).

    Every admin-edited field is kept; rows an admin added are left alone."""
    version, entries_list = entries if entries is not None else catalog_read(path)
    fields = {f.name for f in model_class._meta.get_fields()}
    facts = [name for name in FACT_FIELDS if name in fields]
    report = SyncReport(version=version)
    existing = {row.name: row for row in model_class.objects.all()}
    to_create, to_update, version_only = [], {}, []
    now = timezone.now()
    for entry in entries_list:
        row = existing.pop(entry["name"], None)
        if row is None:
            to_create.append(model_class(name=entry["name"], catalog_version=version, **{f: entry[f] for f in facts}))
            report.created.append(entry["name"])
            continue
        # A model an admin added is the admin's in every fact; a catalog model, in the facts the admin changed.
        protected = set(facts) if row.source == "admin" else set(row.admin_edited_fields or [])
        changed = [f for f in facts if f not in protected and getattr(row, f) != entry[f]]
        kept = sorted(protected & {f for f in facts if getattr(row, f) != entry[f]})
        if kept:
            report.kept_admin_edits[row.name] = kept
        if changed:
            report.updated.append(row.name)
            to_update[row.pk] = {name: entry[name] for name in changed}
        else:
            report.unchanged += 1
            if row.catalog_version != version:
                version_only.append(row.pk)
    model_class.objects.bulk_create(to_create, batch_size=500)
    # One UPDATE per changed row: bulk_update's CASE expressions cost ~30 s of Python for 1,800 rows × 40 fields.
    # updated_at is set by hand (update() skips auto_now): the fit cache keys on it.
    for pk, changes in to_update.items():
        model_class.objects.filter(pk=pk).update(**changes, catalog_version=version, updated_at=now)
    model_class.objects.filter(pk__in=version_only).update(catalog_version=version)
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
        "num_attention_heads": row.num_attention_heads,
        "head_dim": row.head_dim,
        "hidden_size": row.hidden_size,
        "vocab_size": row.vocab_size,
        "moe_intermediate_size": row.moe_intermediate_size,
        "shared_expert_intermediate_size": row.shared_expert_intermediate_size,
        "quantization": row.quantization,
        "weight_format": row.weight_format,
        "min_ram_gb": row.min_ram_gb,
        "recommended_ram_gb": row.recommended_ram_gb,
        "min_vram_gb": row.min_vram_gb,
        "architecture": row.architecture,
        "category": row.category,
        "use_case": row.use_case,
        "release_date": row.release_date.isoformat() if row.release_date else None,
        "license": row.license,
        "capabilities": tuple(row.capabilities or ()),
        "gguf_sources": tuple(row.gguf_sources or ()),
    }
