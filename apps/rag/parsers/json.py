"""JSON (stdlib json): flattened to "path: value" lines, one block per top-level item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, read_text


def flatten(value: Any, prefix: str = "") -> list[str]:
    """["a.b: 1", "a.c[0]: x", ...] for every scalar in `value`."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            lines += flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(value, list):
        lines = []
        for index, item in enumerate(value):
            lines += flatten(item, f"{prefix}[{index}]")
        return lines
    if value is None or value == "":
        return []
    return [f"{prefix}: {value}" if prefix else str(value)]


class JSONParser(Parser):
    """JSON files: each top-level item (array element, or object member) becomes a block of
    "path: value" lines (metadata `row`: its 1-based position), so records chunk like rows.
    JSON Lines (.jsonl, .ndjson): one item per non-empty line."""

    name = "JSONParser_Python"
    extensions = (".json", ".jsonl", ".ndjson")
    mime_types = ("application/json", "application/x-ndjson")
    default_strategy = "rows"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        text = read_text(path, filename, config.get("encoding") or "utf-8")
        try:
            if filename.lower().endswith((".jsonl", ".ndjson")):
                data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DocumentUnreadable(f"{filename} is not valid JSON: {error}") from error
        if isinstance(data, list):
            items = [(f"[{index}]", item) for index, item in enumerate(data)]
        elif isinstance(data, dict):
            items = [(str(key), {key: item}) for key, item in data.items()]
        else:
            items = [("", data)]
        builder = TextBuilder(separator="\n\n")
        for number, (_key, item) in enumerate(items, start=1):
            builder.add("\n".join(flatten(item)), metadata={"row": number})
        return builder.extracted(filename, {"title": None, "item_count": len(items)})
