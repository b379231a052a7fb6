"""OCR during ingestion: PDF pages without a text layer and image files are read by the OCR engine
(parser option `use_ocr`, on by default), their chunks keep their page numbers, and a scanned PDF
put in a dataset answers queries about its content."""

from pathlib import Path

import pytest

from apps.core.errors import Invalid
from apps.rag.parsers import DocumentUnreadable, document_read
from tests.fakes.vision_documents import (
    GLACIER_LINES,
    MEADOW_LINES,
    character_accuracy,
    damaged_pdf,
    multipage_tiff,
    png_bytes,
    render_lines,
    scanned_pdf,
    transparent_png,
)
from tests.projects.conftest import home, make_project  # noqa: F401 (fixtures of `project`)
from tests.projects.runs import run_task
from tests.projects.test_tasks_api import BASE, process, project, upload  # noqa: F401 (project: a fixture)
from tests.rag.conftest import fake_embedder  # noqa: F401 (a fixture)

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    """A two-page scanned-style PDF (page images only, no text layer): glaciers, then meadows."""
    path = tmp_path_factory.mktemp("scans") / "alps_scan.pdf"
    path.write_bytes(scanned_pdf([render_lines(GLACIER_LINES, size=40), render_lines(MEADOW_LINES, size=40)]))
    return path


def only(parser_type: str, **config) -> list[dict]:
    return [{"type": parser_type, "config": {"chunk_size": 400, "chunk_overlap": 0, **config}}]


def test_a_scanned_pdf_is_read_by_ocr_and_its_chunks_keep_their_pages(scan):
    document = document_read(path=scan, filename=scan.name, parsers=only("PDFParser_PyPDF2"))

    assert [chunk.page for chunk in document.chunks] == [1, 2]
    assert character_accuracy(document.chunks[0].text, "\n".join(GLACIER_LINES)) >= 0.95, document.chunks[0].text
    assert character_accuracy(document.chunks[1].text, "\n".join(MEADOW_LINES)) >= 0.95, document.chunks[1].text
    assert document.metadata["ocr_pages"] == [1, 2] and document.metadata["ocr_model"] == "paddleocr"
    assert document.metadata["page_count"] == 2


def test_only_the_pages_without_a_text_layer_are_ocrd(tmp_path):
    from fpdf import FPDF

    pdf = FPDF(format="A5")
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.multi_cell(0, 8, "This first page has a real text layer about rivers.")
    pdf.add_page()
    pdf.image(render_lines(MEADOW_LINES, size=40), x=10, y=10, w=pdf.w - 20)
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))

    document = document_read(path=path, filename=path.name, parsers=only("PDFParser_LlamaIndex"))

    assert document.metadata["ocr_pages"] == [2]
    assert [chunk.page for chunk in document.chunks] == [1, 2]
    assert "real text layer about rivers" in document.chunks[0].text
    assert character_accuracy(document.chunks[1].text, "\n".join(MEADOW_LINES)) >= 0.95


def test_with_use_ocr_off_a_scan_stays_unreadable_with_the_reason(scan):
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=scan, filename=scan.name, parsers=only("PDFParser_PyPDF2", use_ocr=False))

    assert "alps_scan.pdf has no text layer (scanned?); OCR is off (use_ocr: false) (2 pages)" in raised.value.reason


def test_an_image_file_is_read_by_ocr_through_the_universal_parser(tmp_path):
    path = tmp_path / "whiteboard.jpg"
    path.write_bytes(png_bytes(render_lines(GLACIER_LINES, size=36, canvas=(1100, 300)), "JPEG"))

    document = document_read(path=path, filename=path.name, parsers=only("UniversalParser"))

    assert document.parser == "UniversalParser" and document.metadata["ocr_model"] == "paddleocr"
    assert [chunk.page for chunk in document.chunks] == [1]
    assert character_accuracy(document.chunks[0].text, "\n".join(GLACIER_LINES)) >= 0.95


def test_an_image_with_no_text_is_unreadable_saying_ocr_found_none(tmp_path):
    path = tmp_path / "blank.png"
    path.write_bytes(png_bytes(render_lines([], canvas=(400, 300))))

    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=path.name, parsers=only("ImageParser_OCR"))

    assert "blank.png is an image in which OCR (paddleocr) found no text" in raised.value.reason


def test_a_multi_page_tiff_gives_one_page_per_frame(tmp_path):
    path = tmp_path / "fax.tiff"
    pages = [render_lines(GLACIER_LINES[:2], size=36, canvas=(1100, 260)), render_lines(MEADOW_LINES[:2], size=36)]
    path.write_bytes(multipage_tiff(pages))

    document = document_read(path=path, filename=path.name, parsers=only("ImageParser_OCR"))

    assert [chunk.page for chunk in document.chunks] == [1, 2]
    assert document.metadata["page_count"] == 2 and document.metadata["ocr_pages"] == [1, 2]
    assert character_accuracy(document.chunks[0].text, "\n".join(GLACIER_LINES[:2])) >= 0.95, document.chunks[0].text
    assert character_accuracy(document.chunks[1].text, "\n".join(MEADOW_LINES[:2])) >= 0.95, document.chunks[1].text


def test_a_transparent_png_reads_its_black_text_as_on_white(tmp_path):
    path = tmp_path / "export.png"
    path.write_bytes(transparent_png(GLACIER_LINES[:2]))

    document = document_read(path=path, filename=path.name, parsers=only("ImageParser_OCR"))

    assert character_accuracy(document.chunks[0].text, "\n".join(GLACIER_LINES[:2])) >= 0.95, document.chunks[0].text


def test_a_pdf_whose_pages_pdfium_cannot_read_is_unreadable_not_a_crash(tmp_path):
    from apps.rag.parsers.ocr import ocr_pdf_pages

    path = tmp_path / "broken.pdf"
    path.write_bytes(damaged_pdf())

    with pytest.raises(DocumentUnreadable) as raised:
        ocr_pdf_pages(path, path.name, [1], {})

    assert "broken.pdf is not a readable PDF: page 1" in raised.value.reason


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"use_ocr": "yes"}, "parsers[0].config: use_ocr must be true or false, not 'yes'"),
        ({"ocr_model": "abbyy"}, "parsers[0].config: unknown OCR model 'abbyy': use one of"),
        ({"ocr_languages": "en"}, "parsers[0].config: ocr_languages must be a list of language codes"),
    ],
)
def test_bad_ocr_options_are_invalid_naming_the_entry(tmp_path, config, reason):
    with pytest.raises(Invalid) as raised:
        document_read(path=tmp_path / "any.pdf", filename="any.pdf", parsers=only("PDFParser_PyPDF2", **config))

    assert reason in raised.value.message


def test_an_unavailable_ocr_model_makes_the_scan_unreadable_naming_those_available(scan):
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=scan, filename=scan.name, parsers=only("PDFParser_PyPDF2", ocr_model="easyocr"))

    assert "OCR is not possible: OCR model 'easyocr' is not available" in raised.value.reason
    assert "Available here: paddleocr" in raised.value.reason


@pytest.mark.django_db
@pytest.mark.usefixtures("project")
def test_a_scanned_pdf_in_a_dataset_becomes_retrievable_by_its_content(client, scan):
    from django.contrib.postgres.search import SearchQuery

    from apps.rag.models import Chunk

    upload(client, scan.name, scan.read_bytes())
    run_task(process(client))

    # Vector search (the fake embedder hashes words into 32 dimensions) finds both pages' chunks.
    response = client.post(f"{BASE}/rag/query", {"query": "glaciers granite marmots", "top_k": 5}, "application/json")
    assert response.status_code == 200, response.content
    found = {result["metadata"]["page"]: result for result in response.json()["results"]}
    assert set(found) == {1, 2} and {result["metadata"]["filename"] for result in found.values()} == {scan.name}
    assert "granite" in found[1]["content"] and "Marmots" in found[2]["content"]
    # Full-text search over the OCR'd text finds each word on its own page.
    for word, page in (("granite", 1), ("moraines", 1), ("marmots", 2), ("meadows", 2)):
        chunks = Chunk.objects.filter(search_vector=SearchQuery(word, config="english"))
        assert [chunk.metadata["page"] for chunk in chunks] == [page], word
