"""`tesseract`: Google's Tesseract through pytesseract; needs the `tesseract` binary (Debian:
`apt-get install tesseract-ocr`, plus `tesseract-ocr-<lang>` per extra language)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, ClassVar

from apps.inference.ocr.base import EngineUnavailable, OcrLine, OcrPage
from apps.inference.ocr.layout import reading_order

if TYPE_CHECKING:
    from PIL.Image import Image

# ISO 639-1 codes the API takes (`en,fr`) and Tesseract's traineddata names for them.
TESSERACT_LANGUAGES = {
    "en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "pt": "por", "nl": "nld",
    "ru": "rus", "zh": "chi_sim", "ja": "jpn", "ko": "kor", "ar": "ara", "pl": "pol", "sv": "swe",
}  # fmt: skip


class TesseractEngine:
    """Tesseract 4/5 (LSTM): words grouped into its own lines (block, paragraph, line numbers of
    `image_to_data`); a line's confidence is the mean of its words' (Tesseract's 0–100 scaled to 0–1)."""

    name: ClassVar[str] = "tesseract"
    install_hint: ClassVar[str] = "apt-get install tesseract-ocr (and pip install pytesseract)"

    @classmethod
    def available(cls) -> str | None:
        import importlib.util

        if importlib.util.find_spec("pytesseract") is None:
            return f"the package pytesseract is not installed ({cls.install_hint})"
        if shutil.which("tesseract") is None:
            return f"the tesseract binary is not on PATH ({cls.install_hint})"
        return None

    def __init__(self) -> None:
        import pytesseract

        self.pytesseract = pytesseract
        self.installed = set(pytesseract.get_languages(config=""))

    def read(self, *, image: Image, languages: list[str]) -> OcrPage:
        codes = [TESSERACT_LANGUAGES.get(code, code) for code in languages] or ["eng"]
        missing = [code for code in codes if code not in self.installed]
        if missing:
            raise EngineUnavailable(
                f"tesseract has no data for {', '.join(missing)}; installed: {', '.join(sorted(self.installed))}"
            )
        rgb = image.convert("RGB")
        data = self.pytesseract.image_to_data(rgb, lang="+".join(codes), output_type=self.pytesseract.Output.DICT)
        grouped: dict[tuple[int, int, int], list[int]] = {}
        for index, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][index]) >= 0:
                key = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
                grouped.setdefault(key, []).append(index)
        lines = []
        for indexes in grouped.values():
            x1 = min(data["left"][i] for i in indexes)
            y1 = min(data["top"][i] for i in indexes)
            x2 = max(data["left"][i] + data["width"][i] for i in indexes)
            y2 = max(data["top"][i] + data["height"][i] for i in indexes)
            confidence = sum(float(data["conf"][i]) for i in indexes) / len(indexes) / 100
            text = " ".join(data["text"][i].strip() for i in indexes)
            lines.append(OcrLine(text=text, confidence=round(confidence, 4), box=(x1, y1, x2, y2)))
        return OcrPage(lines=reading_order(lines, [line.box for line in lines]), size=rgb.size)
