"""LlamaFarm's `auto` and `UniversalParser`: the format told by content first, then by extension."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import KIND_WORDS, DocumentUnreadable, Parser, sniff
from apps.rag.parsers.csv import CSVParser
from apps.rag.parsers.docx import DocxParser
from apps.rag.parsers.html import HTMLParser
from apps.rag.parsers.image import ImageParser
from apps.rag.parsers.json import JSONParser
from apps.rag.parsers.markdown import MarkdownParser
from apps.rag.parsers.pdf import PDFParser
from apps.rag.parsers.plaintext import TextParser
from apps.rag.parsers.xlsx import ExcelParser

BY_CONTENT: dict[str, type[Parser]] = {
    "pdf": PDFParser,
    "docx": DocxParser,
    "xlsx": ExcelParser,
    "image": ImageParser,
}
# Order matters: the first format claiming an extension wins (.json is JSON here, not text).
BY_EXTENSION: tuple[type[Parser], ...] = (JSONParser, MarkdownParser, HTMLParser, CSVParser, TextParser)


class AutoParser(Parser):
    """Any format we read: a PDF, DOCX, XLSX or image (read by OCR) is recognised by its content whatever its name;
    a text file by its extension (Markdown, HTML, CSV, JSON, plain text). A file of an unknown
    extension is refused rather than read as plain text."""

    name = "auto"
    extensions = tuple(sorted({ext for parser in (*BY_CONTENT.values(), *BY_EXTENSION) for ext in parser.extensions}))
    mime_types = tuple(sorted({mime for parser in (*BY_CONTENT.values(), *BY_EXTENSION) for mime in parser.mime_types}))
    default_strategy = "semantic"
    default_overlap = 200

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        kind = sniff(path)
        if kind in BY_CONTENT:
            return BY_CONTENT[kind]().extract(path, filename, config)
        if kind != "text":
            raise DocumentUnreadable(f"{filename} cannot be read: its content is {KIND_WORDS[kind]}")
        suffix = Path(filename).suffix.lower()
        for parser in BY_EXTENSION:
            if suffix in parser.extensions:
                return parser().extract(path, filename, config)
        raise DocumentUnreadable(f"{filename}: no format is known for the extension {suffix or '(none)'!r}")


class UniversalParser(AutoParser):
    name = "UniversalParser"
    default_size = 1024
    default_overlap = 100


class MarkItDownParser(AutoParser):
    name = "MarkItDownParser"
    default_strategy = "sections"
    default_overlap = 100
