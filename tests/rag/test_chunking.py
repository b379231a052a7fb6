"""Chunk strategies: sizes, overlaps, offsets and boundaries, on text built here. No database."""

from pathlib import Path

import pytest

from apps.core.errors import Invalid
from apps.rag.chunking import (
    CHUNK_STRATEGIES,
    ChunkingConfig,
    Extracted,
    chunk_extracted,
    chunking_config,
    minilm_tokenizer,
)
from apps.rag.parsers import document_read
from apps.rag.parsers.base import TextBuilder

SIZE, OVERLAP = 300, 60
SUBJECTS = ["rivers", "glass", "owls", "copper", "comets", "kelp"]


def sentence(number: int, subject: str) -> str:
    return f"Sentence {number} says something new about {subject}."


def sample() -> Extracted:
    """Six sections, each a heading, short paragraphs (one sentence: they fit in the overlap) and
    one long paragraph (above the chunk size); the last three sections are on page 2."""
    builder = TextBuilder()
    for index, subject in enumerate(SUBJECTS):
        page = 1 if index < 3 else 2
        heading = f"About {subject}"
        builder.add(heading, heading=heading, page=page, group=page, is_heading=True)
        for number in range(3):
            builder.add(sentence(number, subject), heading=heading, page=page, group=page, metadata={"row": number})
        long = " ".join(sentence(number, subject) for number in range(3, 12))
        builder.add(long, heading=heading, page=page, group=page, metadata={"row": 3})
    return builder.extracted("sample.txt", {})


def overlaps(chunks: list) -> int:
    return sum(1 for before, after in zip(chunks, chunks[1:], strict=False) if after.start < before.end)


@pytest.mark.parametrize("strategy", [name for name in CHUNK_STRATEGIES if name != "tokens"])
def test_every_strategy_honours_size_and_overlap_with_exact_offsets(strategy: str) -> None:
    extracted = sample()
    chunks = chunk_extracted(extracted, ChunkingConfig(strategy=strategy, size=SIZE, overlap=OVERLAP))
    assert len(chunks) > len(SUBJECTS)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert len(chunk.text) <= SIZE
        assert extracted.text[chunk.start : chunk.end] == chunk.text
    assert overlaps(chunks) > 0
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start > before.start
        assert before.end - after.start <= OVERLAP


@pytest.mark.parametrize("strategy", [name for name in CHUNK_STRATEGIES if name != "tokens"])
def test_no_chunk_spans_two_pages(strategy: str) -> None:
    extracted = sample()
    page_two = extracted.text.index("About copper")
    for chunk in chunk_extracted(extracted, ChunkingConfig(strategy=strategy, size=SIZE, overlap=OVERLAP)):
        assert chunk.end <= page_two or chunk.start >= page_two
        assert chunk.page == (1 if chunk.start < page_two else 2)


@pytest.mark.parametrize("strategy", ["sentences", "paragraphs", "semantic", "sections", "headings", "rows"])
def test_structured_strategies_keep_each_chunk_in_one_section(strategy: str) -> None:
    chunks = chunk_extracted(sample(), ChunkingConfig(strategy=strategy, size=SIZE, overlap=OVERLAP))
    for chunk in chunks:
        subject = chunk.heading.removeprefix("About ")
        assert all(other not in chunk.text for other in SUBJECTS if other != subject), chunk.text
    # A heading on its own is never a chunk: it opens the chunk of its section.
    assert all(chunk.text != chunk.heading for chunk in chunks)


def test_characters_are_fixed_windows_with_the_overlap() -> None:
    extracted = sample()
    chunks = chunk_extracted(extracted, ChunkingConfig(strategy="characters", size=100, overlap=20))
    first, second = chunks[0], chunks[1]
    assert (first.start, len(first.text)) == (0, 100)
    assert second.start == 80


def test_paragraphs_are_packed_whole() -> None:
    extracted = sample()
    paragraphs = {paragraph.strip() for paragraph in extracted.text.split("\n\n")}
    chunks = chunk_extracted(extracted, ChunkingConfig(strategy="paragraphs", size=SIZE, overlap=OVERLAP))
    for chunk in chunks:
        pieces = chunk.text.split("\n\n")
        # Whole paragraphs, except the pieces of a paragraph too long for one chunk.
        assert all(piece in paragraphs for piece in pieces) or len(pieces) == 1


def test_rows_chunks_give_their_row_range() -> None:
    chunks = chunk_extracted(sample(), ChunkingConfig(strategy="rows", size=SIZE, overlap=OVERLAP))
    assert chunks[0].metadata == {"row": 0, "row_end": 2}


def test_token_strategy_gives_many_chunks_each_within_the_token_budget(rag_documents: dict[str, Path]) -> None:
    config = {"chunk_strategy": "tokens", "chunk_size": 24, "chunk_overlap": 8}
    parsers = [{"type": "TextParser_Python", "config": config}]
    document = document_read(path=rag_documents["sourdough.txt"], filename="sourdough.txt", parsers=parsers)
    tokenizer = minilm_tokenizer()
    counts = [len(tokenizer.encode(chunk.text, add_special_tokens=False).ids) for chunk in document.chunks]
    assert len(counts) >= 8  # the tokenizer file truncates at 128 tokens: not one giant chunk
    assert max(counts) <= 24
    assert overlaps(document.chunks) > 0


def test_defaults_are_llamafarms_per_parser_type(rag_documents: dict[str, Path]) -> None:
    expected = {
        ("volcanoes.md", "MarkdownParser_Python"): "sections",
        ("volcanoes.md", "MarkdownParser_LlamaIndex"): "headings",
        ("rail_signalling.pdf", "PDFParser_PyPDF2"): "paragraphs",
        ("rail_signalling.pdf", "PDFParser_LlamaIndex"): "sentences",
        ("sourdough.txt", "TextParser_Python"): "sentences",
        ("chess_openings.csv", "CSVParser_Pandas"): "rows",
        ("sourdough.txt", "UniversalParser"): "semantic",
    }
    for (filename, parser), strategy in expected.items():
        document = document_read(
            path=rag_documents[filename], filename=filename, parsers=[{"type": parser, "config": {}}]
        )
        assert document.metadata["chunk_strategy"] == strategy
        assert document.metadata["chunk_size"] == (1024 if parser == "UniversalParser" else 1000)


def test_unknown_chunk_strategy_is_invalid_naming_the_valid_ones() -> None:
    with pytest.raises(Invalid) as raised:
        chunking_config({"chunk_strategy": "by_vibes"}, default_strategy="sentences")
    assert raised.value.message == f"unknown chunk_strategy 'by_vibes': use one of {', '.join(CHUNK_STRATEGIES)}"


def test_unknown_chunk_strategy_in_a_parser_entry_names_its_place(rag_documents: dict[str, Path]) -> None:
    parsers = [{"type": "TextParser_Python", "config": {}}, {"type": "auto", "config": {"chunk_strategy": "x"}}]
    with pytest.raises(Invalid) as raised:
        document_read(path=rag_documents["sourdough.txt"], filename="sourdough.txt", parsers=parsers)
    assert raised.value.fields["field"] == "parsers[1].config.chunk_strategy"


def test_default_overlap_shrinks_to_a_tenth_of_a_small_chunk_size() -> None:
    assert chunking_config({"chunk_size": 48}, default_strategy="tokens") == ChunkingConfig("tokens", 48, 4)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be a positive integer, not 0"),
        ({"chunk_size": "big"}, "chunk_size must be a positive integer, not 'big'"),
        ({"chunk_overlap": -1}, "chunk_overlap must be a non-negative integer, not -1"),
        ({"chunk_size": 200, "chunk_overlap": 200}, "chunk_overlap (200) must be smaller than chunk_size (200)"),
    ],
)
def test_chunk_size_and_overlap_are_checked(config: dict, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        chunking_config(config, default_strategy="sentences")
    assert raised.value.message == message
