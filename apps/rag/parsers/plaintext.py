"""Plain text: decoded with the configured encoding; binary content is refused, never read as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import Parser, TextBuilder, read_text


class TextParser(Parser):
    """Text files (LlamaFarm's TextParser extensions, .json included as text).

    `clean_text` (default true) collapses runs of blank lines; offsets refer to the cleaned text.
    """

    extensions = (
        ".txt", ".text", ".log", ".rst", ".tex", ".asc", ".ascii",
        ".conf", ".cfg", ".ini", ".yaml", ".yml", ".json", ".xml",
    )  # fmt: skip
    mime_types = ("text/plain", "text/x-log", "text/x-rst", "text/x-tex", "application/x-yaml", "text/xml")
    default_strategy = "sentences"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        text = read_text(path, filename, config.get("encoding") or "utf-8")
        builder = TextBuilder()
        if config.get("clean_text", True):
            for paragraph in text.split("\n\n"):
                builder.add(paragraph)
        else:
            builder.add(text)
        lines = text.count("\n") + 1
        return builder.extracted(filename, {"title": None, "line_count": lines})


class TextParserPython(TextParser):
    name = "TextParser_Python"


class TextParserLlamaIndex(TextParser):
    name = "TextParser_LlamaIndex"
    default_strategy = "semantic"
