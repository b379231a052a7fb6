"""Document parsers and the choice of parser: real documents of every format, no database."""

import hashlib
from pathlib import Path

import pytest

from apps.core.errors import Invalid
from apps.rag.parsers import PARSER_TYPES, PARSERS, DocumentUnreadable, document_read
from tests.rag.documents import (
    BEES,
    CHESS_ROWS,
    CORPUS,
    QUESTIONS,
    RAIL_PAGES,
    TEA,
    TIDES_SHEETS,
    docx_bees,
    pdf_scanned,
    png_named_pdf,
)


def only(parser_type: str, **config: object) -> list[dict]:
    return [{"type": parser_type, "config": dict(config)}]


def read_checked(path: Path, parsers: list[dict]) -> tuple[str, list]:
    """Read `path` and check every chunk against the text its parser extracted."""
    document = document_read(path=path, filename=path.name, parsers=parsers)
    entry = next(entry for entry in parsers if entry["type"] == document.parser)
    extracted = PARSERS.get(document.parser)().extract(path, path.name, entry.get("config") or {})
    for ordinal, chunk in enumerate(document.chunks):
        assert chunk.ordinal == ordinal
        assert extracted.text[chunk.start : chunk.end] == chunk.text
    return extracted.text, document.chunks


def test_llamafarm_parser_type_names_are_registered() -> None:
    for name in (
        "PDFParser_PyPDF2",
        "PDFParser_LlamaIndex",
        "MarkdownParser_Python",
        "MarkdownParser_LlamaIndex",
        "TextParser_Python",
        "TextParser_LlamaIndex",
        "DocxParser_PythonDocx",
        "DocxParser_LlamaIndex",
        "CSVParser_Pandas",
        "CSVParser_Python",
        "ExcelParser_OpenPyXL",
        "ExcelParser_Pandas",
        "UniversalParser",
        "auto",
    ):
        assert name in PARSER_TYPES
        assert PARSERS.get(name).extensions


@pytest.mark.parametrize("filename", [filename for filename, _, _ in CORPUS])
def test_every_corpus_document_is_read_with_offsets_into_its_text(
    rag_documents: dict[str, Path], filename: str
) -> None:
    text, chunks = read_checked(rag_documents[filename], only("auto", chunk_size=250, chunk_overlap=40))
    assert len(chunks) >= 3
    assert all(len(chunk.text) <= 250 for chunk in chunks)
    keywords = next(keywords for name, _, keywords in CORPUS if name == filename)
    assert all(keyword.lower() in text.lower() for keyword in keywords)


NAMED_PARSER = {
    "volcanoes.md": "MarkdownParser_Python",
    "tea.html": "HTMLParser_BeautifulSoup",
    "rail_signalling.pdf": "PDFParser_PyPDF2",
    "bees.docx": "DocxParser_PythonDocx",
    "chess_openings.csv": "CSVParser_Python",
    "tides.xlsx": "ExcelParser_OpenPyXL",
    "lighthouses.json": "JSONParser_Python",
    "sourdough.txt": "TextParser_Python",
}


@pytest.mark.parametrize("filename", [filename for filename, _, _ in CORPUS])
@pytest.mark.parametrize("by", ["auto", "named"])
def test_a_file_stored_under_its_hash_without_extension_reads_like_the_named_one(
    rag_documents: dict[str, Path], tmp_path: Path, filename: str, by: str
) -> None:
    """Uploads are stored content-addressed (<sha256>, no extension); only `filename` carries one."""
    named = rag_documents[filename]
    stored = tmp_path / hashlib.sha256(named.read_bytes()).hexdigest()
    stored.write_bytes(named.read_bytes())
    parsers = only("auto" if by == "auto" else NAMED_PARSER[filename], chunk_size=250, chunk_overlap=40)
    from_store = document_read(path=stored, filename=filename, parsers=parsers)
    from_name = document_read(path=named, filename=filename, parsers=parsers)
    assert from_store.chunks == from_name.chunks
    assert len(from_store.chunks) >= 3


def test_corpus_has_a_dozen_questions_each_about_one_document() -> None:
    filenames = {filename for filename, _, _ in CORPUS}
    assert len(QUESTIONS) >= 12
    assert {expected for _, expected in QUESTIONS} == filenames


def test_markdown_chunks_keep_their_section_heading(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(
        rag_documents["volcanoes.md"], only("MarkdownParser_Python", chunk_size=400, chunk_overlap=0)
    )
    hazards = [chunk for chunk in chunks if "Pyroclastic flows" in chunk.text]
    assert [chunk.heading for chunk in hazards] == ["Hazards"]
    assert hazards[0].metadata["heading_path"] == ["Volcanoes", "Hazards"]
    # `sections` (MarkdownParser_Python's default): no chunk runs into the next section.
    assert all(chunk.text.count("## ") <= 1 for chunk in chunks)
    assert chunks[0].text.startswith("# Volcanoes\n\n## How magma")  # the title opens the first section


def test_html_text_leaves_out_script_and_style_and_keeps_headings(rag_documents: dict[str, Path]) -> None:
    document = document_read(
        path=rag_documents["tea.html"], filename="tea.html", parsers=only("HTMLParser_BeautifulSoup")
    )
    text = " ".join(chunk.text for chunk in document.chunks)
    assert "tracker" not in text and "color: green" not in text
    assert TEA["sections"][2][1][0] in text
    brewing = next(chunk for chunk in document.chunks if "70 to 80 degrees" in chunk.text)
    assert brewing.heading == "Brewing"
    assert document.metadata["title"] == "Tea"


def test_pdf_is_read_page_by_page(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(
        rag_documents["rail_signalling.pdf"], only("PDFParser_PyPDF2", chunk_size=300, chunk_overlap=50)
    )
    for page, (heading, _) in enumerate(RAIL_PAGES, start=1):
        on_page = [chunk for chunk in chunks if chunk.page == page]
        assert on_page, f"no chunk on page {page}"
        assert heading in on_page[0].text
    assert "William Robinson" in next(chunk.text for chunk in chunks if chunk.page == 2 and "Robinson" in chunk.text)
    document = document_read(
        path=rag_documents["rail_signalling.pdf"], filename="rail_signalling.pdf", parsers=only("PDFParser_PyPDF2")
    )
    assert document.metadata["page_count"] == 3
    assert document.metadata["title"] == "Rail signalling"


def test_a_whole_pdf_never_ends_up_in_one_chunk(rag_documents: dict[str, Path]) -> None:
    document = document_read(
        path=rag_documents["rail_signalling.pdf"],
        filename="rail_signalling.pdf",
        parsers=only("PDFParser_PyPDF2", chunk_size=50000, chunk_overlap=0, combine_pages=True),
    )
    assert [chunk.page for chunk in document.chunks] == [1, 2, 3]


def test_pdf_without_text_layer_is_unreadable_with_its_reason(tmp_path: Path) -> None:
    path = pdf_scanned(tmp_path)
    parsers = [{"type": "PDFParser_PyPDF2", "config": {"use_ocr": False}}]  # OCR: tests/rag/test_ocr_ingestion.py
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=path.name, parsers=parsers)
    assert "has no text layer (scanned?); OCR is off (use_ocr: false)" in raised.value.reason
    assert "PDFParser_PyPDF2" in raised.value.reason


def test_misnamed_binary_is_refused_by_its_content(tmp_path: Path) -> None:
    path = png_named_pdf(tmp_path, "report.pdf")
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=path.name, parsers=only("PDFParser_LlamaIndex"))
    assert "is not a PDF (it does not start with %PDF-): its content is an image" in raised.value.reason


@pytest.mark.parametrize(
    ("filename", "parser", "reason"),
    [
        ("rail_signalling.pdf", "PDFParser_PyPDF2", "rail_signalling.pdf is not a readable PDF"),
        ("tides.xlsx", "ExcelParser_OpenPyXL", "tides.xlsx is not an Excel (XLSX) workbook: its content is a ZIP"),
        ("bees.docx", "DocxParser_PythonDocx", "bees.docx is not a Word (DOCX) document: its content is a ZIP"),
    ],
)
def test_a_truncated_file_is_unreadable_with_its_reason(
    rag_documents: dict[str, Path], tmp_path: Path, filename: str, parser: str, reason: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(rag_documents[filename].read_bytes()[:400])
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=filename, parsers=only(parser))
    assert raised.value.reason.startswith(f"{parser}: {reason}")


def test_a_pdf_is_never_read_as_plain_text(rag_documents: dict[str, Path]) -> None:
    parsers = [{"type": "TextParser_Python", "config": {}, "file_include_patterns": ["*"]}]
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=rag_documents["rail_signalling.pdf"], filename="rail_signalling.pdf", parsers=parsers)
    assert "is not text: its content is a PDF" in raised.value.reason


def test_docx_headings_come_from_paragraph_styles(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(rag_documents["bees.docx"], only("DocxParser_PythonDocx", chunk_size=300))
    dance = next(chunk for chunk in chunks if "Karl von Frisch" in chunk.text)
    assert dance.heading == "The waggle dance"
    assert dance.metadata["heading_path"] == [BEES["title"], "The waggle dance"]
    assert "Queen | lays the eggs" in text  # the table, row by row


def test_csv_rows_are_text_with_their_header(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(rag_documents["chess_openings.csv"], only("CSVParser_Pandas", chunk_size=200))
    assert "Opening: Sicilian Defence; First moves: 1.e4 c5; Idea: The most popular reply" in text
    assert len(text.splitlines()) == len(CHESS_ROWS) - 1
    assert all(chunk.metadata["row"] >= 1 for chunk in chunks)
    assert all(len(chunk.text) <= 200 for chunk in chunks)


def test_xlsx_is_read_per_sheet_and_chunks_never_span_sheets(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(rag_documents["tides.xlsx"], only("ExcelParser_OpenPyXL", chunk_size=1000))
    assert {chunk.metadata["sheet"] for chunk in chunks} == set(TIDES_SHEETS)
    places = [chunk for chunk in chunks if chunk.metadata["sheet"] == "Places"]
    assert len(places) == 1 and "Place: Bay of Fundy; Country: Canada" in places[0].text
    assert places[0].metadata == {"sheet": "Places", "sheet_index": 2, "row": 1, "row_end": 3}
    only_places = document_read(
        path=rag_documents["tides.xlsx"], filename="tides.xlsx", parsers=only("ExcelParser_OpenPyXL", sheets=["Places"])
    )
    assert {chunk.metadata["sheet"] for chunk in only_places.chunks} == {"Places"}


def test_json_records_become_path_value_lines(rag_documents: dict[str, Path]) -> None:
    text, chunks = read_checked(rag_documents["lighthouses.json"], only("JSONParser_Python", chunk_size=300))
    assert "name: Bell Rock Lighthouse\nbuilt: 1810" in text
    assert [chunk.metadata["row"] for chunk in chunks] == [1, 2, 3, 4]


def test_json_lines_are_one_record_a_line(tmp_path: Path) -> None:
    path = tmp_path / "birds.jsonl"
    path.write_text('{"bird": "swift", "fact": "sleeps on the wing"}\n\n{"bird": "kiwi", "fact": "lays huge eggs"}\n')
    text, chunks = read_checked(path, only("JSONParser_Python", chunk_size=100, chunk_overlap=0))
    assert text == "bird: swift\nfact: sleeps on the wing\n\nbird: kiwi\nfact: lays huge eggs"
    broken = tmp_path / "broken.json"
    broken.write_text('{"bird": "swift",')
    with pytest.raises(DocumentUnreadable, match="broken.json is not valid JSON"):
        document_read(path=broken, filename=broken.name, parsers=only("JSONParser_Python"))


def test_parser_is_chosen_by_file_pattern(rag_documents: dict[str, Path]) -> None:
    parsers = [
        {"type": "PDFParser_PyPDF2", "file_include_patterns": ["*.pdf"], "config": {}},
        {"type": "MarkdownParser_Python", "file_include_patterns": ["*.md"], "config": {}},
        {"type": "CSVParser_Python", "file_extensions": [".csv"], "config": {}},
        {"type": "JSONParser_Python", "mime_types": ["application/json"], "config": {}},
    ]
    for filename, expected in [
        ("volcanoes.md", "MarkdownParser_Python"),
        ("rail_signalling.pdf", "PDFParser_PyPDF2"),
        ("chess_openings.csv", "CSVParser_Python"),
        ("lighthouses.json", "JSONParser_Python"),
    ]:
        assert document_read(path=rag_documents[filename], filename=filename, parsers=parsers).parser == expected


def test_lower_priority_number_is_tried_first(rag_documents: dict[str, Path]) -> None:
    parsers = [
        {"type": "PDFParser_PyPDF2", "file_include_patterns": ["*.pdf"], "priority": 50, "config": {}},
        {"type": "PDFParser_LlamaIndex", "file_include_patterns": ["*.pdf"], "priority": 10, "config": {}},
    ]
    path = rag_documents["rail_signalling.pdf"]
    assert document_read(path=path, filename=path.name, parsers=parsers).parser == "PDFParser_LlamaIndex"
    parsers[0]["priority"] = 0
    assert document_read(path=path, filename=path.name, parsers=parsers).parser == "PDFParser_PyPDF2"


def test_fallback_parser_reads_what_the_first_one_cannot(tmp_path: Path) -> None:
    path = docx_bees(tmp_path).rename(tmp_path / "bees_notes.pdf")  # a Word document under a PDF name
    parsers = [{"type": "PDFParser_PyPDF2", "file_include_patterns": ["*.pdf"], "fallback_parser": "auto"}]
    document = document_read(path=path, filename=path.name, parsers=parsers)
    assert document.parser == "auto"
    assert any("waggle" in chunk.text for chunk in document.chunks)
    assert document.metadata["parsers_failed"] == [
        "PDFParser_PyPDF2: bees_notes.pdf is not a PDF (it does not start with %PDF-): "
        "its content is a Word (DOCX) document"
    ]


def test_when_every_parser_fails_each_is_named_with_its_reason(tmp_path: Path) -> None:
    path = pdf_scanned(tmp_path, "scan.pdf")
    parsers = [
        {
            "type": "PDFParser_LlamaIndex",
            "file_include_patterns": ["*.pdf"],
            "priority": 0,
            "config": {"use_ocr": False},
        },
        {
            "type": "PDFParser_PyPDF2",
            "file_include_patterns": ["*.pdf"],
            "fallback_parser": "TextParser_Python",
            "config": {"use_ocr": False},
        },
    ]
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=path.name, parsers=parsers)
    reasons = raised.value.reason.split(" | ")
    assert [reason.split(":")[0] for reason in reasons] == [
        "PDFParser_LlamaIndex",
        "PDFParser_PyPDF2",
        "TextParser_Python",
    ]
    assert "no text layer" in reasons[0] and "is not text: its content is a PDF" in reasons[2]


def test_no_matching_parser_is_unreadable_naming_the_configured_ones(rag_documents: dict[str, Path]) -> None:
    parsers = [{"type": "PDFParser_PyPDF2", "file_include_patterns": ["*.pdf"]}, {"type": "CSVParser_Python"}]
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=rag_documents["volcanoes.md"], filename="volcanoes.md", parsers=parsers)
    assert raised.value.reason == (
        "no parser matches volcanoes.md: configured are PDFParser_PyPDF2 (*.pdf), "
        "CSVParser_Python (its default extensions: .csv .tsv)"
    )


def test_unknown_parser_type_is_invalid_naming_valid_ones(rag_documents: dict[str, Path]) -> None:
    with pytest.raises(Invalid) as raised:
        document_read(path=rag_documents["volcanoes.md"], filename="volcanoes.md", parsers=only("RtfParser_Magic"))
    assert not isinstance(raised.value, DocumentUnreadable)
    assert "parsers[0].type: unknown parser type 'RtfParser_Magic': use one of" in raised.value.message
    assert "PDFParser_PyPDF2" in raised.value.message
    assert raised.value.fields["field"] == "parsers[0].type"


def test_auto_refuses_an_unknown_extension_instead_of_reading_it_as_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.xyz"
    path.write_text("Plain words in a file of an unknown kind.\n")
    with pytest.raises(DocumentUnreadable) as raised:
        document_read(path=path, filename=path.name, parsers=[{"type": "auto", "file_include_patterns": ["*"]}])
    assert "no format is known for the extension '.xyz'" in raised.value.reason
