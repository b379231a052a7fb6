"""Word DOCX (python-docx): paragraphs in order, headings from the paragraph styles, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, require_kind


def heading_level(style_name: str) -> int | None:
    """0 for "Title", N for "Heading N"; None for any other style."""
    if style_name == "Title":
        return 0
    if style_name.startswith("Heading "):
        suffix = style_name.removeprefix("Heading ").strip()
        return int(suffix) if suffix.isdigit() else None
    return None


class DocxParser(Parser):
    """DOCX files: body paragraphs in document order; a paragraph styled "Title" or "Heading N"
    is a heading (chunks keep the nearest one); tables (`extract_tables`, default true) in place,
    as rows of cells joined by " | ". Legacy .doc files are refused."""

    extensions = (".docx",)
    mime_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    default_strategy = "paragraphs"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        require_kind(path, filename, "docx", "a Word (DOCX) document")
        try:
            with path.open("rb") as handle:  # by content: the stored file's name has no extension
                document = docx.Document(handle)
        except (PackageNotFoundError, KeyError, ValueError) as error:
            raise DocumentUnreadable(f"{filename} is not a readable DOCX document: {error}") from error
        from docx.table import Table

        builder = TextBuilder()
        heading: str | None = None
        heading_path: list[tuple[int, str]] = []
        tables = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                tables += 1
                if config.get("extract_tables", True):
                    for row in block.rows:
                        cells = " | ".join(cell.text.strip() for cell in row.cells)
                        builder.add(cells, heading=heading, metadata={"table": tables})
                continue
            text = block.text.strip()
            if not text:
                continue
            level = heading_level(block.style.name if block.style is not None else "")
            if level is not None:
                heading = text
                heading_path = [(lvl, t) for lvl, t in heading_path if lvl < level] + [(level, text)]
            metadata = {"heading_path": [t for _, t in heading_path]} if heading else {}
            builder.add(text, heading=heading, metadata=metadata, is_heading=level is not None)
        title = document.core_properties.title or (heading_path[0][1] if heading_path else None)
        return builder.extracted(filename, {"title": title or None})


class DocxParserPythonDocx(DocxParser):
    name = "DocxParser_PythonDocx"


class DocxParserLlamaIndex(DocxParser):
    name = "DocxParser_LlamaIndex"
