"""The OCR engines themselves (no HTTP): what the default engine reads on clean renders of known
text, pages turned or in two columns, boxes in pixel coordinates, and how engine names resolve."""

import shutil

import pytest

from apps.inference.ocr import (
    OCR_PREFERENCE,
    EngineUnavailable,
    ocr_engine_default_name,
    ocr_engine_get,
    ocr_engine_resolve,
    ocr_engines_available,
    ocr_engines_describe,
)
from apps.inference.ocr.layout import reading_order
from tests.fakes.vision_documents import (
    INVOICE_LINES,
    character_accuracy,
    render_lines,
    render_mixed_fonts,
    render_two_columns,
)

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def engine():
    return ocr_engine_get(name=ocr_engine_default_name())


def test_the_default_engine_here_is_paddleocr_served_by_rapidocr_and_surya_falls_back_to_it():
    assert ocr_engine_default_name() == "paddleocr"
    assert ocr_engine_resolve(name="surya") == "paddleocr"  # the spec's default, not installed here
    assert ocr_engine_resolve(name=None) == ocr_engine_resolve(name="") == "paddleocr"
    described = {entry["name"]: entry for entry in ocr_engines_describe()}
    assert set(described) == set(OCR_PREFERENCE)
    assert described["paddleocr"]["available"] and described["paddleocr"]["reason"] is None
    assert not described["easyocr"]["available"] and "easyocr" in described["easyocr"]["reason"]


def test_an_unknown_engine_is_invalid_naming_the_engines_and_those_available():
    with pytest.raises(EngineUnavailable) as raised:
        ocr_engine_resolve(name="abbyy")
    assert raised.value.status_code == 400
    assert "unknown OCR model 'abbyy'" in raised.value.message
    assert "surya, paddleocr, easyocr, tesseract" in raised.value.message
    assert "available here: paddleocr" in raised.value.message


@pytest.mark.skipif(shutil.which("tesseract") is not None, reason="the tesseract binary is installed here")
def test_tesseract_without_its_binary_is_unavailable_with_how_to_install_it():
    assert "tesseract" not in ocr_engines_available()
    with pytest.raises(EngineUnavailable) as raised:
        ocr_engine_resolve(name="tesseract")
    assert "tesseract binary is not on PATH" in raised.value.message
    assert "apt-get install tesseract-ocr" in raised.value.message
    assert "Available here: paddleocr" in raised.value.message


def test_clean_renders_in_several_fonts_and_sizes_are_read_with_at_least_95_percent_accuracy(engine):
    image, lines = render_mixed_fonts()

    page = engine.read(image=image, languages=["en"])

    assert character_accuracy(page.text, "\n".join(lines)) >= 0.95, page.text
    assert len(page.lines) == len(lines)
    assert 0.9 <= page.confidence <= 1.0 and all(0.5 <= line.confidence <= 1.0 for line in page.lines)


def test_boxes_are_pixel_coordinates_around_each_line(engine):
    image = render_lines(INVOICE_LINES, size=36, origin=(100, 90))

    page = engine.read(image=image, languages=["en"])

    assert character_accuracy(page.text, "\n".join(INVOICE_LINES)) >= 0.95, page.text
    first = page.lines[0].box
    # The first line is drawn from (100, 90) and is about 36 px tall: its box is around it.
    assert abs(first[0] - 100) <= 8 and abs(first[1] - 90) <= 12
    assert 20 <= first[3] - first[1] <= 60 and first[2] < image.width
    tops = [line.box[1] for line in page.lines]
    assert tops == sorted(tops) and page.lines[0].as_box()["text"] == page.lines[0].text


def test_a_page_turned_a_quarter_is_read_in_order_with_boxes_on_the_image_as_given(engine):
    upright = render_lines(INVOICE_LINES, size=36, canvas=(1300, 500))
    turned = upright.rotate(90, expand=True, fillcolor="white")  # counter-clockwise: lines run bottom to top

    page = engine.read(image=turned, languages=["en"])

    assert character_accuracy(page.text, "\n".join(INVOICE_LINES)) >= 0.95, page.text
    x1, y1, x2, y2 = page.lines[0].box
    assert y2 - y1 > 3 * (x2 - x1)  # a line of the turned page stands upright in its pixels
    assert x2 <= turned.width and y2 <= turned.height


def test_an_upside_down_page_is_read_the_right_way_up(engine):
    page = engine.read(image=render_lines(INVOICE_LINES, size=36).rotate(180), languages=["en"])

    assert character_accuracy(page.text, "\n".join(INVOICE_LINES)) >= 0.95, page.text


def test_a_two_column_page_is_read_column_by_column(engine):
    image, lines = render_two_columns()

    page = engine.read(image=image, languages=["en"])

    assert character_accuracy(page.text, "\n".join(lines)) >= 0.95, page.text
    assert page.text.index("this summer") < page.text.index("The hut was")


def test_a_blank_page_reads_as_no_text_with_zero_confidence(engine):
    page = engine.read(image=render_lines([], canvas=(600, 400)), languages=["en"])

    assert (page.text, page.lines, page.confidence) == ("", [], 0.0)


def test_reading_order_keeps_a_table_row_together_and_columns_apart():
    boxes = [(500, 0, 900, 30), (0, 0, 400, 30), (0, 40, 400, 70), (500, 40, 900, 70)]
    # One gutter 100 px wide (over 3 line heights): two columns, each read top to bottom.
    assert reading_order(["b", "a", "c", "d"], boxes) == ["a", "c", "b", "d"]
    narrow = [(120, 0, 400, 30), (0, 0, 100, 30)]  # a 20 px gap is no gutter: one row, left to right
    assert reading_order(["right", "left"], narrow) == ["left", "right"]
