"""OCR while ingesting: scanned PDF pages and image files read by the OCR engines of
`apps.inference.ocr`, in the ingestion worker.

A parser entry's `config` takes LlamaFarm's `use_ocr` (default true: a PDF page without a text
layer, and an image file, are OCR'd; false: they are unreadable as before), `ocr_model` (an
engine name, as `POST /v1/vision/ocr` takes it; default the best installed) and `ocr_languages`
(language codes, default ["en"]). PDF pages are rendered
at MODELYARD_VISION_PDF_DPI; a page past MODELYARD_VISION_MAX_PIXELS fails the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.errors import DomainError
from apps.inference.ocr import OCR_ENGINES, ocr_engine_get, ocr_engine_resolve
from apps.inference.ocr.pages import image_decode
from apps.rag.parsers.base import DocumentUnreadable


def ocr_enabled(config: dict[str, Any]) -> bool:
    """The entry's `use_ocr` (LlamaFarm's name), true unless set to false."""
    return config.get("use_ocr", True) is not False


def ocr_config_check(config: dict[str, Any]) -> str | None:
    """The problem with an entry's OCR options (`use_ocr` a boolean, `ocr_model` a known engine
    name), or None. Whether the engine is installed is checked when a file is read."""
    use_ocr = config.get("use_ocr")
    if use_ocr is not None and not isinstance(use_ocr, bool):
        return f"use_ocr must be true or false, not {use_ocr!r}"
    model = config.get("ocr_model")
    if model is not None and model not in OCR_ENGINES:
        return OCR_ENGINES.unknown_message(model)
    languages = config.get("ocr_languages")
    if languages is not None and not (isinstance(languages, list) and all(isinstance(c, str) for c in languages)):
        return "ocr_languages must be a list of language codes"
    return None


def ocr_pdf_pages(path: Path, filename: str, pages: list[int], config: dict[str, Any]) -> tuple[str, dict[int, str]]:
    """The text OCR reads on the given 1-based `pages` of a PDF: (engine name, {page: text})."""
    import pypdfium2

    engine = _engine(config)
    dpi = settings.MODELYARD_VISION_PDF_DPI
    limit = settings.MODELYARD_VISION_MAX_PIXELS
    texts: dict[int, str] = {}
    try:
        document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as error:
        raise DocumentUnreadable(f"{filename} cannot be rendered for OCR: {error}") from error
    try:
        for number in pages:
            width, height = document.get_page_size(number - 1)
            pixels = round(width * dpi / 72) * round(height * dpi / 72)
            if limit and pixels > limit:
                raise DocumentUnreadable(
                    f"{filename} page {number} is {pixels} pixels at {dpi} dpi; OCR reads at most {limit} "
                    "(MODELYARD_VISION_MAX_PIXELS)"
                )
            page = document[number - 1]
            try:
                image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            finally:
                page.close()
            texts[number] = _read(engine, image, config)
    finally:
        document.close()
    return engine, texts


def ocr_image_file(path: Path, filename: str, config: dict[str, Any]) -> tuple[str, str]:
    """The text OCR reads in an image file: (engine name, text)."""
    engine = _engine(config)
    try:
        image = image_decode(data=path.read_bytes(), label=filename, max_pixels=settings.MODELYARD_VISION_MAX_PIXELS)
    except DomainError as error:
        raise DocumentUnreadable(error.message) from error
    return engine, _read(engine, image, config)


def _engine(config: dict[str, Any]) -> str:
    try:
        return ocr_engine_resolve(name=config.get("ocr_model"))
    except DomainError as error:
        raise DocumentUnreadable(f"OCR is not possible: {error.message}") from error


def _read(engine: str, image: Any, config: dict[str, Any]) -> str:
    languages = config.get("ocr_languages") or ["en"]
    return ocr_engine_get(name=engine).read(image=image, languages=list(languages)).text
