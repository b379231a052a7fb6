"""What every OCR engine is: a text reader over page images, loaded once per process.

An engine reads one page image (a PIL image in RGB) and answers an `OcrPage`: the page's lines in
reading order, each with its text, its confidence (0–1) and its box in the image's pixel
coordinates (x1, y1 top left, x2, y2 bottom right). Engines know nothing of HTTP, jobs or limits:
`apps.vision.services` and the RAG parsers put those around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from apps.core.errors import Invalid

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class OcrLine:
    """One line of text read from a page: its text, confidence (0–1) and pixel box
    (x1, y1, x2, y2: the axis-aligned box around what was read, in the page image's pixels)."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]

    def as_box(self) -> dict[str, Any]:
        """The spec's box shape (LlamaFarm's OCRBox): x1, y1, x2, y2, text, confidence."""
        x1, y1, x2, y2 = self.box
        return {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "text": self.text, "confidence": self.confidence}


@dataclass(frozen=True)
class OcrPage:
    """A page read: its lines in reading order and the page's size in pixels (width, height)."""

    lines: list[OcrLine] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)

    @property
    def text(self) -> str:
        """The lines joined by newlines (reading order)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """The mean of the lines' confidences weighted by their length in characters (a long line
        read well outweighs a stray mark); 0.0 for a page with no text."""
        weight = sum(len(line.text) for line in self.lines)
        if not weight:
            return 0.0
        return sum(line.confidence * len(line.text) for line in self.lines) / weight


class EngineUnavailable(Invalid):
    """An OCR engine that is known but cannot run here (its package or binary is missing)."""


class OcrEngine(Protocol):
    """One OCR backend. `name` is the spec's model name (`paddleocr`, `tesseract`, …); `available()`
    tells, without loading anything heavy, whether it can run here and if not why;
    `read(image=…, languages=…)` reads one page."""

    name: ClassVar[str]
    install_hint: ClassVar[str]

    @classmethod
    def available(cls) -> str | None:
        """None when the engine can run in this process; else the reason it cannot."""
        ...

    def read(self, *, image: Image, languages: list[str]) -> OcrPage: ...


def box_of(points: Any) -> tuple[float, float, float, float]:
    """The axis-aligned box (x1, y1, x2, y2) around a polygon of (x, y) points, rounded to 0.1 px."""
    xs = [float(point[0]) for point in points]
    ys = [float(point[1]) for point in points]
    return (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1))
