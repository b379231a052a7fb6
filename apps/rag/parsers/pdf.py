"""PDF (pypdf): the text layer, page by page; a PDF without one is refused, never read as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, require_kind


class PDFParser(Parser):
    """PDF files: every page's text layer (`page.extract_text()`), pages 1-based. Chunks never
    span two pages. A PDF whose pages hold no text (a scan) is DocumentUnreadable: OCR is not
    available yet. An encrypted PDF is read when its user password is empty."""

    extensions = (".pdf",)
    mime_types = ("application/pdf", "application/x-pdf")
    default_strategy = "paragraphs"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        require_kind(path, filename, "pdf", "a PDF (it does not start with %PDF-)")
        try:
            reader = PdfReader(path)  # pypdf reads by content; the name is never consulted
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentUnreadable(f"{filename} is an encrypted PDF that needs a password")
            builder = TextBuilder()
            for number, page in enumerate(reader.pages, start=1):
                page_text = page.extract_text() or ""
                builder.add("\n".join(line.rstrip() for line in page_text.splitlines()), page=number, group=number)
            info = reader.metadata or {}
            page_count = len(reader.pages)
        except DocumentUnreadable:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
            raise DocumentUnreadable(f"{filename} is not a readable PDF: {error}") from error
        if not builder.segments:
            raise DocumentUnreadable(
                f"{filename} has no text layer (scanned?); OCR is not available yet ({page_count} pages)"
            )
        title = info.get("/Title") if hasattr(info, "get") else None
        return builder.extracted(filename, {"title": str(title) if title else None, "page_count": page_count})


class PDFParserPyPDF2(PDFParser):
    name = "PDFParser_PyPDF2"


class PDFParserLlamaIndex(PDFParser):
    name = "PDFParser_LlamaIndex"
    default_strategy = "sentences"
