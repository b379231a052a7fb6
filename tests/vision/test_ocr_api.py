"""POST /v1/vision/ocr end to end: multipart `file` or base64 `images` in, the spec's body out,
the OCR run on a worker of a real server; every error a `{"detail": …}` with its status."""

import base64
import io
import json

import pytest

from apps.core.models import Job
from tests.fakes.vision_documents import (
    GLACIER_LINES,
    INVOICE_LINES,
    MEADOW_LINES,
    character_accuracy,
    damaged_pdf,
    multipage_tiff,
    png_bytes,
    render_lines,
    scanned_pdf,
    transparent_png,
)
from tests.vision.conftest import MAX_PAGES, MAX_PIXELS

pytestmark = [pytest.mark.e2e, pytest.mark.ml, pytest.mark.django_db]

OCR = "/v1/vision/ocr"


def data_uri(image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def test_a_scanned_pdf_is_read_page_by_page_and_a_rotated_page_comes_upright(vision_server):
    pages = [render_lines(INVOICE_LINES, size=40), render_lines(GLACIER_LINES, size=40)]
    pdf = scanned_pdf(pages, rotate={1: 90})  # page 2 carries /Rotate 90, as a scanner's "rotate" sets it

    response = vision_server.http.post(
        OCR, files={"file": ("scan.pdf", pdf, "application/pdf")}, data={"languages": "en"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["model"], body["usage"]) == ("list", "paddleocr", {"images_processed": 2})
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert character_accuracy(body["data"][0]["text"], "\n".join(INVOICE_LINES)) >= 0.95, body["data"][0]["text"]
    assert character_accuracy(body["data"][1]["text"], "\n".join(GLACIER_LINES)) >= 0.95, body["data"][1]["text"]
    assert all(0.9 <= item["confidence"] <= 1 for item in body["data"])
    assert all("boxes" not in item for item in body["data"])


def test_base64_images_are_read_in_order_with_boxes_in_pixels_when_asked(vision_server):
    first = render_lines(MEADOW_LINES, size=36, canvas=(1100, 300))
    second = render_lines(GLACIER_LINES[:1], size=36, canvas=(1000, 200))
    bare = base64.b64encode(png_bytes(second, "JPEG")).decode()  # no data: prefix, and a JPEG

    response = vision_server.http.post(
        OCR, data={"images": json.dumps([data_uri(first), bare]), "model": "paddleocr", "return_boxes": "true"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "paddleocr" and body["usage"] == {"images_processed": 2}
    assert character_accuracy(body["data"][0]["text"], "\n".join(MEADOW_LINES)) >= 0.95
    assert character_accuracy(body["data"][1]["text"], GLACIER_LINES[0]) >= 0.95
    boxes = body["data"][0]["boxes"]
    assert [box["text"] for box in boxes] == body["data"][0]["text"].split("\n")
    for box in boxes:
        assert set(box) == {"x1", "y1", "x2", "y2", "text", "confidence"}
        assert 0 <= box["x1"] < box["x2"] <= first.width and 0 <= box["y1"] < box["y2"] <= first.height
    assert abs(boxes[0]["x1"] - 80) <= 8 and abs(boxes[0]["y1"] - 80) <= 12  # drawn from (80, 80)


def truncated_png() -> bytes:
    whole = png_bytes(render_lines(["cut short"], canvas=(400, 200)))
    return whole[: len(whole) // 2]  # the header is intact: only decoding the pixels finds the fault


def blank_png(width: int, height: int) -> bytes:
    from PIL import Image

    return png_bytes(Image.new("L", (width, height), 255))


def tiff_of_blanks(pages: int) -> bytes:
    from PIL import Image

    return multipage_tiff([Image.new("L", (16, 16), 255) for _ in range(pages)])


def many_page_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format=(105, 148))  # A6
    for _ in range(pages):
        pdf.add_page()
    return bytes(pdf.output())


ERRORS = {
    "no_file_and_no_images": ({}, None, 400, "Either 'file' (upload) or 'images' (base64) must be provided"),
    "bad_base64": ({"images": '["not base64 at all!"]'}, None, 400, "images[0] is not valid base64"),
    "images_not_strings": ({"images": "[1, 2]"}, None, 400, "all array elements must be base64"),
    "images_empty_array": ({"images": "[]"}, None, 400, "array cannot be empty"),
    "images_broken_json": ({"images": '["abc"'}, None, 400, "not a JSON array"),
    "unsupported_extension": ({}, ("notes.txt", b"hello"), 400, "Unsupported file type: .txt"),
    "corrupt_image": (
        {},
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        400,
        "photo.png is not a PNG, JPEG, GIF, WebP, BMP, TIFF or PDF",
    ),
    "not_an_image_base64": (
        {"images": json.dumps([base64.b64encode(b"plain words, no picture").decode()])},
        None,
        400,
        "images[0] is not a PNG, JPEG, GIF, WebP, BMP, TIFF or PDF",
    ),
    "text_without_extension": ({}, ("blob", b"plain words, no picture"), 400, "Unsupported file type: (none)"),
    "truncated_image": ({}, ("cut.png", truncated_png()), 400, "cut.png is a corrupt image"),
    "corrupt_pdf": ({}, ("scan.pdf", b"%PDF-1.7\nthis is not a pdf body"), 400, "scan.pdf is not a readable PDF"),
    "damaged_pdf_page_tree": ({}, ("broken.pdf", damaged_pdf()), 400, "broken.pdf is not a readable PDF: page 1"),
    "unknown_engine": ({"model": "abbyy"}, ("a.png", blank_png(20, 20)), 400, "unknown OCR model 'abbyy'"),
    "unavailable_engine": ({"model": "easyocr"}, ("a.png", blank_png(20, 20)), 400, "Available here: paddleocr"),
    "too_many_pdf_pages": ({}, ("long.pdf", many_page_pdf(MAX_PAGES + 1)), 413, f"at most {MAX_PAGES} are read"),
    "too_many_images": (
        {"images": json.dumps([base64.b64encode(blank_png(8, 8)).decode()] * (MAX_PAGES + 1))},
        None,
        413,
        f"at most {MAX_PAGES} page images",
    ),
    "too_many_pixels": ({}, ("huge.png", blank_png(3000, 2500)), 413, f"at most {MAX_PIXELS} are read"),
    "too_many_tiff_pages": ({}, ("fax.tiff", tiff_of_blanks(MAX_PAGES + 1)), 413, f"at most {MAX_PAGES} are read"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_is_answered_with_its_status_and_reason_never_a_500(vision_server, case):
    data, upload, status, reason = ERRORS[case]
    files = {"file": (upload[0], io.BytesIO(upload[1]))} if upload else None
    if files is None and not data:
        data = {"languages": "en"}  # a multipart body with neither input

    response = vision_server.http.post(OCR, data=data, files=files)

    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail"} and reason in response.json()["detail"]
    assert "object at 0x" not in response.json()["detail"]  # no Python reprs in messages


def test_a_field_of_the_wrong_type_is_422_with_its_location(vision_server):
    response = vision_server.http.post(OCR, data={"images": "[]", "return_boxes": "maybe"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "return_boxes"]


def test_a_transparent_png_is_composited_onto_white_and_its_black_text_read(vision_server):
    response = vision_server.http.post(
        OCR, files={"file": ("screenshot.png", transparent_png(MEADOW_LINES[:2]), "image/png")}
    )

    assert response.status_code == 200, response.text
    text = response.json()["data"][0]["text"]
    assert character_accuracy(text, "\n".join(MEADOW_LINES[:2])) >= 0.95, text


def test_a_multi_page_tiff_is_read_one_page_per_frame(vision_server):
    pages = [
        render_lines(GLACIER_LINES[:1], size=36, canvas=(1000, 200)),
        render_lines(MEADOW_LINES[:1], size=36, canvas=(1000, 200)),
    ]

    response = vision_server.http.post(OCR, files={"file": ("fax.tif", multipage_tiff(pages), "image/tiff")})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["usage"] == {"images_processed": 2} and [item["index"] for item in body["data"]] == [0, 1]
    assert character_accuracy(body["data"][0]["text"], GLACIER_LINES[0]) >= 0.95, body["data"][0]["text"]
    assert character_accuracy(body["data"][1]["text"], MEADOW_LINES[0]) >= 0.95, body["data"][1]["text"]
    job = Job.objects.filter(kind="vision.ocr").latest("created_at")  # its progress: pages done of the total
    assert (job.progress_current, job.progress_total, job.progress) == (2, 2, {"pages": 2})


def test_a_file_without_an_extension_is_taken_by_its_content(vision_server):
    image = png_bytes(render_lines(GLACIER_LINES[:1], size=36, canvas=(1000, 200)))

    response = vision_server.http.post(OCR, files={"file": ("blob", image, "application/octet-stream")})

    assert response.status_code == 200, response.text
    assert character_accuracy(response.json()["data"][0]["text"], GLACIER_LINES[0]) >= 0.95
