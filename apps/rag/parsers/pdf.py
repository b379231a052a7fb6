"""PDF (pypdf): the text layer, page by page; pages without one (scans) are read by OCR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, require_kind
from apps.rag.parsers.ocr import ocr_enabled, ocr_pdf_pages


class PDFParser(Parser):
    """PDF files: every page's text layer (`page.extract_text()`), pages 1-based. Chunks never
    span two pages. A page with no text layer (a scan) is rendered and read by OCR when the entry's
    `use_ocr` is on (the default; `ocr_model` picks the engine, see `apps.rag.parsers.ocr`); the
    metadata lists those pages (`ocr_pages`) and the engine (`ocr_model`). A PDF in which neither
    finds any text is DocumentUnreadable. An encrypted PDF is read when its user password is empty."""

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
            texts = [
                "\n".join(line.rstrip() for line in (page.extract_text() or "").splitlines()) for page in reader.pages
            ]
            info = reader.metadata or {}
            page_count = len(reader.pages)
        except DocumentUnreadable:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
            raise DocumentUnreadable(f"{filename} is not a readable PDF: {error}") from error
        metadata: dict[str, Any] = {}
        scanned = [number for number, text in enumerate(texts, start=1) if not text.strip()]
        if scanned and ocr_enabled(config):
            engine, read = ocr_pdf_pages(path, filename, scanned, config)
            for number, text in read.items():
                texts[number - 1] = text
            metadata = {"ocr_model": engine, "ocr_pages": scanned}
        builder = TextBuilder()
        for number, text in enumerate(texts, start=1):
            builder.add(text, page=number, group=number)
        if not builder.segments:
            why = f"OCR ({metadata['ocr_model']}) found no text either" if metadata else "OCR is off (use_ocr: false)"
            raise DocumentUnreadable(f"{filename} has no text layer (scanned?); {why} ({page_count} pages)")
        title = info.get("/Title") if hasattr(info, "get") else None
        return builder.extracted(
            filename, {"title": str(title) if title else None, "page_count": page_count, **metadata}
        )


class PDFParserPyPDF2(PDFParser):
    name = "PDFParser_PyPDF2"


class PDFParserLlamaIndex(PDFParser):
    name = "PDFParser_LlamaIndex"
    default_strategy = "sentences"
