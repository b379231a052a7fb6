"""Images (scans, photos of documents, screenshots): their text read by OCR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder
from apps.rag.parsers.ocr import ocr_enabled, ocr_image_file


class ImageParser(Parser):
    """PNG, JPEG, GIF (first frame), WebP, BMP and TIFF files, read by the OCR engine (`use_ocr`,
    `ocr_model`, see `apps.rag.parsers.ocr`); each frame of a multi-page TIFF is a page, any other
    image one page (page 1); a transparent background reads as white. Ours: LlamaFarm
    reads images only through its UniversalParser, which we also route here."""

    name = "ImageParser_OCR"
    extensions = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tiff", ".tif")
    mime_types = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff")
    default_strategy = "paragraphs"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        if not ocr_enabled(config):
            raise DocumentUnreadable(f"{filename} is an image and OCR is off for this parser (use_ocr: false)")
        engine, texts = ocr_image_file(path, filename, config)
        builder = TextBuilder()
        for number, text in enumerate(texts, start=1):
            for paragraph in text.split("\n\n"):
                builder.add(paragraph, page=number, group=number)
        if not builder.segments:
            raise DocumentUnreadable(f"{filename} is an image in which OCR ({engine}) found no text")
        pages = list(range(1, len(texts) + 1))
        return builder.extracted(filename, {"page_count": len(texts), "ocr_model": engine, "ocr_pages": pages})
