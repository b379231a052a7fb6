"""Document parsers: LlamaFarm's parser type names mapped onto our implementations, one module
per format, and `document_read`, which chooses a parser for a file, reads it and chunks it.

The type names are LlamaFarm's (`rag/schema.yaml`, `rag/components/parsers/*/config.yaml`), so an
existing `llamafarm.yaml` works. Several names share one implementation: `PDFParser_LlamaIndex`
reads with pypdf like `PDFParser_PyPDF2`, `CSVParser_Pandas` with the stdlib csv module, and so
on; each name keeps LlamaFarm's default chunk strategy for it. LlamaFarm has no HTML or JSON
parser of its own; `HTMLParser_BeautifulSoup` and `JSONParser_Python` are ours, and its `auto`,
`UniversalParser` and `MarkItDownParser` tell the format by content and extension.
`MsgParser_ExtractMsg` (Outlook .msg) is not implemented.
"""

from __future__ import annotations

import fnmatch
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.core.errors import Invalid
from apps.core.registry import Registry
from apps.rag.chunking import CHUNK_STRATEGIES, ChunkPiece, chunk_extracted, chunking_config
from apps.rag.parsers.base import DocumentUnreadable, Parser
from apps.rag.parsers.ocr import ocr_config_check

__all__ = [
    "CHUNK_STRATEGIES",
    "PARSERS",
    "PARSER_TYPES",
    "ChunkPiece",
    "DocumentUnreadable",
    "ReadDocument",
    "document_read",
    "parsers_config_check",
]

PARSERS: Registry[type[Parser]] = Registry(
    "parser type",
    {
        "auto": "apps.rag.parsers.auto.AutoParser",
        "UniversalParser": "apps.rag.parsers.auto.UniversalParser",
        "MarkItDownParser": "apps.rag.parsers.auto.MarkItDownParser",
        "PDFParser_PyPDF2": "apps.rag.parsers.pdf.PDFParserPyPDF2",
        "PDFParser_LlamaIndex": "apps.rag.parsers.pdf.PDFParserLlamaIndex",
        "MarkdownParser_Python": "apps.rag.parsers.markdown.MarkdownParserPython",
        "MarkdownParser_LlamaIndex": "apps.rag.parsers.markdown.MarkdownParserLlamaIndex",
        "TextParser_Python": "apps.rag.parsers.plaintext.TextParserPython",
        "TextParser_LlamaIndex": "apps.rag.parsers.plaintext.TextParserLlamaIndex",
        "HTMLParser_BeautifulSoup": "apps.rag.parsers.html.HTMLParser",
        "DocxParser_PythonDocx": "apps.rag.parsers.docx.DocxParserPythonDocx",
        "DocxParser_LlamaIndex": "apps.rag.parsers.docx.DocxParserLlamaIndex",
        "CSVParser_Python": "apps.rag.parsers.csv.CSVParserPython",
        "CSVParser_Pandas": "apps.rag.parsers.csv.CSVParserPandas",
        "CSVParser_LlamaIndex": "apps.rag.parsers.csv.CSVParserLlamaIndex",
        "ExcelParser_OpenPyXL": "apps.rag.parsers.xlsx.ExcelParserOpenPyXL",
        "ExcelParser_Pandas": "apps.rag.parsers.xlsx.ExcelParserPandas",
        "ExcelParser_LlamaIndex": "apps.rag.parsers.xlsx.ExcelParserLlamaIndex",
        "JSONParser_Python": "apps.rag.parsers.json.JSONParser",
        "ImageParser_OCR": "apps.rag.parsers.image.ImageParser",
    },
)
PARSER_TYPES: tuple[str, ...] = PARSERS.names()
logger = logging.getLogger(__name__)
DEFAULT_PRIORITY = 50  # LlamaFarm: "lower = try first", default 50


@dataclass(frozen=True)
class ReadDocument:
    """A document read and chunked: the parser type used (as the config names it), its chunks in
    order, and document-level metadata (title, page_count, sheets, chunk settings, ...)."""

    parser: str
    chunks: list[ChunkPiece]
    metadata: dict


def parsers_config_check(parsers: Any) -> list[dict[str, Any]]:
    """A strategy's `parsers[]` checked: each entry a mapping with a known `type`, a `config`
    mapping with valid chunking settings, an integer `priority`, a known `fallback_parser` and
    lists of strings for `file_include_patterns`/`file_extensions`/`mime_types`.

    Returns the entries; raises Invalid (400) naming the entry (`parsers[i].field`) and, for an
    unknown type or chunk strategy, the valid ones.
    """
    if not isinstance(parsers, list) or not parsers:
        raise Invalid("parsers must be a non-empty list", field="parsers")
    for index, entry in enumerate(parsers):
        where = f"parsers[{index}]"
        if not isinstance(entry, dict):
            raise Invalid(f"{where} must be a mapping", field=where)
        if entry.get("type") not in PARSERS:
            raise Invalid(f"{where}.type: {PARSERS.unknown_message(entry.get('type'))}", field=f"{where}.type")
        fallback = entry.get("fallback_parser")
        if fallback is not None and fallback not in PARSERS:
            message = f"{where}.fallback_parser: {PARSERS.unknown_message(fallback)}"
            raise Invalid(message, field=f"{where}.fallback_parser")
        priority = entry.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise Invalid(f"{where}.priority must be an integer", field=f"{where}.priority")
        for key in ("file_include_patterns", "file_extensions", "mime_types"):
            value = entry.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise Invalid(f"{where}.{key} must be a list of strings", field=f"{where}.{key}")
        config = entry.get("config") or {}
        if not isinstance(config, dict):
            raise Invalid(f"{where}.config must be a mapping", field=f"{where}.config")
        ocr_problem = ocr_config_check(config)
        if ocr_problem is not None:
            raise Invalid(f"{where}.config: {ocr_problem}", field=f"{where}.config")
        implementation = PARSERS.get(entry["type"])
        try:
            chunking_config(
                config,
                default_strategy=implementation.default_strategy,
                default_size=implementation.default_size,
                default_overlap=implementation.default_overlap,
            )
        except Invalid as error:
            field = error.fields.get("field", "")
            raise Invalid(f"{where}.config.{field}: {error.message}", field=f"{where}.config.{field}") from error
    return parsers


def parser_matches(entry: dict[str, Any], filename: str, mime_type: str | None = None) -> bool:
    """Whether a `parsers[]` entry takes this file: any of its `file_include_patterns` (globs on
    the file name), `file_extensions` or `mime_types` matches, case-insensitively. An entry with
    none of the three takes the extensions and MIME types its parser type handles."""
    name = Path(filename).name.lower()
    suffix = Path(name).suffix
    mime = (mime_type or mimetypes.guess_type(name)[0] or "").lower()
    patterns = entry.get("file_include_patterns") or []
    extensions = entry.get("file_extensions") or []
    mime_types = entry.get("mime_types") or []
    if not (patterns or extensions or mime_types):
        implementation = PARSERS.get(entry["type"])
        extensions, mime_types = implementation.extensions, implementation.mime_types
    return (
        any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in patterns)
        or suffix in {extension.lower() for extension in extensions}
        or (bool(mime) and mime in {item.lower() for item in mime_types})
    )


def _takes(entry: dict[str, Any]) -> str:
    """What an entry matches, in words, for the "no parser matches" reason."""
    given = [*(entry.get("file_include_patterns") or []), *(entry.get("file_extensions") or [])]
    given += entry.get("mime_types") or []
    return ", ".join(given) or "its default extensions: " + " ".join(PARSERS.get(entry["type"]).extensions)


def document_read(*, path: Path, filename: str, parsers: list[dict], mime_type: str | None = None) -> ReadDocument:
    """Read the file at `path` (named `filename`) with the first parser of a strategy's
    `parsers[]` that succeeds, and chunk it with that parser's `config`.

    The entries that match the file (`parser_matches`; `mime_type` defaults to the one guessed
    from the name) are tried by `priority`, lowest first (LlamaFarm's order; default 50; ties in
    config order); when one fails, its `fallback_parser` (the entry of that type, else that type
    with default settings) is tried before the next entry. No parser reads a file whose content
    is not its format: a PDF with no text layer, a binary file named .txt, a .pdf that is not a
    PDF all fail with their reason, never read as plain text.

    Raises Invalid (400) for a malformed `parsers` list (see `parsers_config_check`) and
    DocumentUnreadable with the reason when no entry matches the file, or every parser tried
    failed (each one named with why it failed, joined by " | ").
    """
    entries = parsers_config_check(parsers)
    order = sorted(range(len(entries)), key=lambda i: (entries[i].get("priority", DEFAULT_PRIORITY), i))
    candidates = [entries[i] for i in order if parser_matches(entries[i], filename, mime_type)]
    if not candidates:
        configured = ", ".join(f"{entry['type']} ({_takes(entry)})" for entry in entries)
        raise DocumentUnreadable(f"no parser matches {Path(filename).name}: configured are {configured}")
    failures: list[str] = []
    tried: set[object] = set()  # configured entries by index, default-settings fallbacks by type
    for candidate in candidates:
        entry: dict[str, Any] | None = candidate
        while entry is not None:
            key = next((i for i, other in enumerate(entries) if other is entry), entry["type"])
            if key in tried:
                break
            tried.add(key)
            try:
                return _read_with(entry, path, filename, failures)
            except DocumentUnreadable as error:
                failures.append(f"{entry['type']}: {error.reason}")
            entry = _fallback_entry(entry, entries)
    raise DocumentUnreadable(" | ".join(failures))


def _fallback_entry(entry: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The entry named by `entry`'s fallback_parser: the configured one of that type, else that
    type with default settings; None when it names none."""
    name = entry.get("fallback_parser")
    if not name:
        return None
    return next((other for other in entries if other.get("type") == name), {"type": name, "config": {}})


def _read_with(entry: dict[str, Any], path: Path, filename: str, failures: list[str]) -> ReadDocument:
    implementation = PARSERS.get(entry["type"])
    config = entry.get("config") or {}
    chunking = chunking_config(
        config,
        default_strategy=implementation.default_strategy,
        default_size=implementation.default_size,
        default_overlap=implementation.default_overlap,
    )
    try:
        extracted = implementation().extract(path, filename, config)
    except DocumentUnreadable:
        raise
    except Exception as error:  # a corrupt file can make a library fail in any way it likes
        logger.warning("%s failed on %s", entry["type"], filename, exc_info=True)
        raise DocumentUnreadable(f"{filename} could not be parsed: {type(error).__name__}: {error}") from error
    chunks = chunk_extracted(extracted, chunking)
    if not chunks:
        raise DocumentUnreadable(f"{filename} contains no text")
    metadata = {
        **extracted.metadata,
        "filename": filename,
        "parser": entry["type"],
        "chunk_strategy": chunking.strategy,
        "chunk_size": chunking.size,
        "chunk_overlap": chunking.overlap,
        "char_count": len(extracted.text),
        "chunk_count": len(chunks),
    }
    if failures:
        metadata["parsers_failed"] = list(failures)
    return ReadDocument(parser=entry["type"], chunks=chunks, metadata=metadata)
