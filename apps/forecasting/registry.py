"""The shipped forecast model registry (`data/registry.json`) and how it becomes rows.

`registry_apply` takes the model classes as arguments so that the data migration can run it with
its historical models and `forecast_registry_sync` (services) with the real ones.
"""

import json
from pathlib import Path
from typing import Any

REGISTRY_PATH = Path(__file__).resolve().parent / "data" / "registry.json"
MODEL_FIELDS = ("description", "default_version", "default_params", "legacy_variants", "variant_notes")
CHECKPOINT_FIELDS = ("family", "repo_id", "parameter_count", "variants")


def registry_load(path: Path = REGISTRY_PATH) -> dict[str, Any]:
    """The registry document: `{"models": [{name, default_version, …, "checkpoints": [...]}]}`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def registry_apply(*, data: dict[str, Any], model_cls: type, checkpoint_cls: type) -> dict[str, int]:
    """Create or update every model and checkpoint of `data` (rows it does not name are kept: an
    operator's additions survive). Returns `{"models": n, "checkpoints": n}`."""
    counts = {"models": 0, "checkpoints": 0}
    for entry in data["models"]:
        model, _ = model_cls.objects.update_or_create(
            name=entry["name"], defaults={field: entry.get(field, {}) for field in MODEL_FIELDS}
        )
        counts["models"] += 1
        for checkpoint in entry.get("checkpoints", []):
            checkpoint_cls.objects.update_or_create(
                model=model,
                version=checkpoint["version"],
                params=checkpoint["params"],
                defaults={field: checkpoint.get(field) for field in CHECKPOINT_FIELDS},
            )
            counts["checkpoints"] += 1
    return counts
