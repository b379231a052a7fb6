"""OCR engines, one module each, chosen by the spec's model names (`surya`, `easyocr`,
`paddleocr`, `tesseract`), loaded once per process and kept (`ocr_engine_get`).

On the inference floor so that both `vision` (the HTTP API) and `rag` (OCR of scanned pages while
ingesting) use the same engines. Heavy libraries are imported only when an engine is built.

    page = ocr_engine_get(name=ocr_engine_resolve(name="surya")).read(image=img, languages=["en"])
    page.text, page.confidence, [line.as_box() for line in page.lines]
"""

from __future__ import annotations

import threading
from typing import Any

from apps.core.registry import Registry
from apps.inference.ocr.base import EngineUnavailable, OcrEngine, OcrLine, OcrPage

__all__ = [
    "OCR_ENGINES",
    "OCR_PREFERENCE",
    "EngineUnavailable",
    "OcrEngine",
    "OcrLine",
    "OcrPage",
    "ocr_engine_default_name",
    "ocr_engine_get",
    "ocr_engine_resolve",
    "ocr_engines_available",
    "ocr_engines_describe",
]

OCR_ENGINES: Registry[type[Any]] = Registry(
    "OCR model",
    {
        "surya": "apps.inference.ocr.surya.SuryaEngine",
        "easyocr": "apps.inference.ocr.easyocr.EasyOcrEngine",
        "paddleocr": "apps.inference.ocr.rapid.RapidOcrEngine",
        "tesseract": "apps.inference.ocr.tesseract.TesseractEngine",
    },
)
# Best first: what runs when the spec's default (`surya`) is asked for and is not installed.
OCR_PREFERENCE = ("surya", "paddleocr", "easyocr", "tesseract")
# The spec's default model name.
SPEC_DEFAULT = "surya"

_engines: dict[str, Any] = {}
_lock = threading.Lock()


def ocr_engines_describe() -> list[dict[str, Any]]:
    """Every engine: `{name, available, reason, install}` (reason: why it cannot run, else None)."""
    described = []
    for name in OCR_PREFERENCE:
        engine = OCR_ENGINES.get(name)
        reason = engine.available()
        described.append({"name": name, "available": reason is None, "reason": reason, "install": engine.install_hint})
    return described


def ocr_engines_available() -> list[str]:
    """The names of the engines that can run here, best first."""
    return [entry["name"] for entry in ocr_engines_describe() if entry["available"]]


def ocr_engine_default_name() -> str:
    """The best engine available here; EngineUnavailable (400) when there is none at all."""
    available = ocr_engines_available()
    if not available:
        raise EngineUnavailable("no OCR engine is installed: pip install rapidocr-onnxruntime")
    return available[0]


def ocr_engine_resolve(*, name: str | None) -> str:
    """The engine that runs for the model name a client asked for.

    None, "" or the spec's default `surya` (when Surya is not installed) mean the best engine
    available. Invalid (400) for an unknown name, EngineUnavailable (400) for a known engine that
    cannot run here; both name the engines that can.
    """
    if not name or (name == SPEC_DEFAULT and OCR_ENGINES.get(SPEC_DEFAULT).available() is not None):
        return ocr_engine_default_name()
    if name not in OCR_ENGINES:
        raise EngineUnavailable(
            f"unknown OCR model {name!r}: use one of {', '.join(OCR_PREFERENCE)} "
            f"(available here: {', '.join(ocr_engines_available()) or 'none'})"
        )
    reason = OCR_ENGINES.get(name).available()
    if reason is not None:
        raise EngineUnavailable(
            f"OCR model {name!r} is not available: {reason}. Available here: "
            f"{', '.join(ocr_engines_available()) or 'none'}"
        )
    return name


def ocr_engine_get(*, name: str) -> OcrEngine:
    """The engine `name` (a resolved name, see `ocr_engine_resolve`), built on first use in this
    process and kept: its models load once per worker."""
    with _lock:
        if name not in _engines:
            _engines[name] = OCR_ENGINES.get(name)()
        return _engines[name]
