"""HTML (beautifulsoup4 with lxml): the visible text of block elements, headings kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import Parser, TextBuilder, read_text

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
BLOCKS = (*HEADINGS, "p", "li", "pre", "blockquote", "dt", "dd", "tr", "caption", "figcaption", "address")
INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe")


class HTMLParser(Parser):
    """HTML pages: each block element (heading, paragraph, list item, table row...) is a block
    of text; chunks keep the nearest heading. Scripts, styles and the head are left out; the
    <title> is the document's title."""

    name = "HTMLParser_BeautifulSoup"
    extensions = (".html", ".htm", ".xhtml")
    mime_types = ("text/html", "application/xhtml+xml")
    default_strategy = "paragraphs"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(read_text(path, filename, config.get("encoding") or "utf-8"), "lxml")
        title = soup.title.get_text(" ", strip=True) if soup.title else None
        for element in soup.find_all(INVISIBLE):
            element.decompose()
        builder = TextBuilder()
        heading: str | None = None
        heading_path: list[tuple[int, str]] = []
        for element in soup.find_all(BLOCKS):
            if element.find_parent(BLOCKS):  # its text is part of the enclosing block
                continue
            separator = " | " if element.name == "tr" else " "
            block = " ".join(element.get_text(separator, strip=True).split())
            if not block:
                continue
            if element.name in HEADINGS:
                level = int(element.name[1])
                heading = block
                heading_path = [(lvl, t) for lvl, t in heading_path if lvl < level] + [(level, block)]
            metadata = {"heading_path": [t for _, t in heading_path]} if heading else {}
            builder.add(block, heading=heading, metadata=metadata, is_heading=element.name in HEADINGS)
        return builder.extracted(filename, {"title": title or (heading_path[0][1] if heading_path else None)})
