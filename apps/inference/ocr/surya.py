"""`surya`: Vik Paruchuri's Surya OCR, when the `surya-ocr` package and its weights are installed.

The spec's default engine. It is not installed here (it pins its own torch and transformers and
downloads its weights on first use), so the default falls back to the best engine available
(`apps.inference.ocr.ocr_engine_default_name`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from apps.inference.ocr.base import OcrLine, OcrPage
from apps.inference.ocr.layout import reading_order

if TYPE_CHECKING:
    from PIL.Image import Image


class SuryaEngine:
    """Surya ≥ 0.14: `RecognitionPredictor(FoundationPredictor())(images, det_predictor=DetectionPredictor())`
    → per image `text_lines`, each with `text`, `confidence` and `bbox` (x1, y1, x2, y2)."""

    name: ClassVar[str] = "surya"
    install_hint: ClassVar[str] = "pip install surya-ocr (its weights are downloaded on first use)"

    @classmethod
    def available(cls) -> str | None:
        import importlib.util

        if importlib.util.find_spec("surya") is None:
            return f"the package surya-ocr is not installed ({cls.install_hint})"
        return None

    def __init__(self) -> None:
        from surya.detection import DetectionPredictor
        from surya.foundation import FoundationPredictor
        from surya.recognition import RecognitionPredictor

        self.detect = DetectionPredictor()
        self.recognise = RecognitionPredictor(FoundationPredictor())

    def read(self, *, image: Image, languages: list[str]) -> OcrPage:
        rgb = image.convert("RGB")
        (result,) = self.recognise([rgb], det_predictor=self.detect)
        lines = [
            OcrLine(
                text=line.text.strip(),
                confidence=round(float(line.confidence or 0.0), 4),
                box=tuple(round(float(value), 1) for value in line.bbox),  # type: ignore[arg-type]
            )
            for line in result.text_lines
            if line.text.strip()
        ]
        return OcrPage(lines=reading_order(lines, [line.box for line in lines]), size=rgb.size)
