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
from apps.inference.ocr.pages import image_pages, pdf_open, pdf_page_render
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
    """The text OCR reads on the given 1-based `pages` of a PDF: (engine name, {page: text}).
    DocumentUnreadable when PDFium cannot read the file or a page, or a page is past
    MODELYARD_VISION_MAX_PIXELS at MODELYARD_VISION_PDF_DPI."""
    engine = _engine(config)
    texts: dict[int, str] = {}
    try:
        document = pdf_open(data=str(path), label=filename)
    except DomainError as error:
        raise DocumentUnreadable(f"{filename} cannot be rendered for OCR: {error.message}") from error
    try:
        for number in pages:
            try:
                image = pdf_page_render(
                    document=document,
                    number=number - 1,
                    label=filename,
                    dpi=settings.MODELYARD_VISION_PDF_DPI,
                    max_pixels=settings.MODELYARD_VISION_MAX_PIXELS,
                )
            except DomainError as error:
                raise DocumentUnreadable(error.message) from error
            texts[number] = _read(engine, image, config)
    finally:
        document.close()
    return engine, texts


def ocr_image_file(path: Path, filename: str, config: dict[str, Any]) -> tuple[str, list[str]]:
    """The text OCR reads in an image file, page by page (one page per frame of a multi-page
    TIFF, else one): (engine name, [text of page 1, …]). DocumentUnreadable for an unreadable
    image or a page past MODELYARD_VISION_MAX_PIXELS."""
    engine = _engine(config)
    texts = []
    try:
        for image in image_pages(
            data=path.read_bytes(), label=filename, max_pixels=settings.MODELYARD_VISION_MAX_PIXELS
        ):
            texts.append(_read(engine, image, config))
    except DomainError as error:
        raise DocumentUnreadable(error.message) from error
    return engine, texts


def _engine(config: dict[str, Any]) -> str:
    try:
        return ocr_engine_resolve(name=config.get("ocr_model"))
    except DomainError as error:
        raise DocumentUnreadable(f"OCR is not possible: {error.message}") from error


def _read(engine: str, image: Any, config: dict[str, Any]) -> str:
    languages = config.get("ocr_languages") or ["en"]
    return ocr_engine_get(name=engine).read(image=image, languages=list(languages)).text
