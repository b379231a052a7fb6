"""Markdown (markdown-it-py finds the headings): the source is the text, one segment per section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from apps.rag.chunking import Extracted, Segment
from apps.rag.parsers.base import DocumentUnreadable, Parser, read_text


class MarkdownParser(Parser):
    """Markdown files: chunks keep their section's heading (and the heading path in metadata);
    YAML front matter goes to the document metadata."""

    extensions = (".md", ".markdown", ".mdown", ".mkd", ".mdwn", ".mdtxt", ".mdtext")
    mime_types = ("text/markdown", "text/x-markdown")
    default_strategy = "sections"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        from markdown_it import MarkdownIt

        text = read_text(path, filename, config.get("encoding") or "utf-8")
        lines = text.splitlines(keepends=True)
        line_starts = [0]
        for line in lines:
            line_starts.append(line_starts[-1] + len(line))
        metadata: dict[str, Any] = {}
        first_line = 0
        if lines and lines[0].strip() == "---":
            closing = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
            if closing is not None:
                try:
                    front = yaml.safe_load("".join(lines[1:closing]))
                except yaml.YAMLError:
                    front = None
                if isinstance(front, dict):
                    metadata["front_matter"] = {str(key): str(value) for key, value in front.items()}
                    first_line = closing + 1
        body = "".join(lines[first_line:])
        tokens = MarkdownIt("commonmark").parse(body)
        headings: list[tuple[int, int, str]] = []  # (line, level, title)
        for index, token in enumerate(tokens):
            if token.type == "heading_open" and token.map:
                title = tokens[index + 1].content.strip() if index + 1 < len(tokens) else ""
                headings.append((token.map[0] + first_line, int(token.tag[1]), title))
        segments: list[Segment] = []
        bounds = [(first_line, 0, None)] + headings
        path_titles: list[tuple[int, str]] = []
        for position, (line, level, title) in enumerate(bounds):
            if title is not None:
                path_titles = [(lvl, t) for lvl, t in path_titles if lvl < level] + [(level, title)]
            end_line = bounds[position + 1][0] if position + 1 < len(bounds) else len(lines)
            start, end = line_starts[line], line_starts[end_line]
            if not text[start:end].strip():
                continue
            segments.append(
                Segment(
                    start=start,
                    end=end,
                    heading=title,
                    metadata={"heading_path": [t for _, t in path_titles]} if title is not None else {},
                    is_heading=title is not None and len(text[start:end].strip().splitlines()) == 1,
                )
            )
        if not segments:
            raise DocumentUnreadable(f"{filename} contains no text")
        title = metadata.get("front_matter", {}).get("title") or next((t for _, lvl, t in headings if lvl == 1), None)
        metadata.update({"title": title, "heading_count": len(headings)})
        return Extracted(text=text, segments=segments, metadata=metadata)


class MarkdownParserPython(MarkdownParser):
    name = "MarkdownParser_Python"


class MarkdownParserLlamaIndex(MarkdownParser):
    name = "MarkdownParser_LlamaIndex"
    default_strategy = "headings"
