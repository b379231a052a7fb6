"""`easyocr`: JaidedAI's EasyOCR, when the `easyocr` package and its weights are installed.

Not installable beside this project's CPU torch (easyocr needs torchvision, whose operators fail
with torch 2.13.0+cpu: "torchvision::nms does not exist"), so it is offered only where it imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from apps.inference.ocr.base import OcrLine, OcrPage, box_of
from apps.inference.ocr.layout import reading_order

if TYPE_CHECKING:
    from PIL.Image import Image


class EasyOcrEngine:
    """`easyocr.Reader(languages, gpu=False).readtext(image)` → (polygon, text, confidence) per line."""

    name: ClassVar[str] = "easyocr"
    install_hint: ClassVar[str] = "pip install easyocr (needs torchvision matching torch; weights downloaded once)"

    @classmethod
    def available(cls) -> str | None:
        try:
            import easyocr  # noqa: F401  (importing it is the only reliable check: torchvision may fail)
        except Exception as error:  # ImportError, or torchvision's operator errors
            return f"easyocr cannot be imported ({type(error).__name__}: {error}); {cls.install_hint}"
        return None

    def __init__(self) -> None:
        self.readers: dict[tuple[str, ...], object] = {}

    def read(self, *, image: Image, languages: list[str]) -> OcrPage:
        import easyocr
        import numpy as np

        key = tuple(languages or ["en"])
        if key not in self.readers:
            self.readers[key] = easyocr.Reader(list(key), gpu=False, download_enabled=False)
        rgb = image.convert("RGB")
        found = self.readers[key].readtext(np.asarray(rgb))
        lines = [
            OcrLine(text=str(text).strip(), confidence=round(float(score), 4), box=box_of(points))
            for points, text, score in found
            if str(text).strip()
        ]
        return OcrPage(lines=reading_order(lines, [line.box for line in lines]), size=rgb.size)
