"""CSV/TSV (stdlib csv): each row as one line of text that names its columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, read_text


def row_text(header: list[str], row: list[Any]) -> str:
    """ "col: value; col: value" for the non-empty cells (columns past the header get "column N")."""
    cells = []
    for index, value in enumerate(row):
        value = "" if value is None else str(value).strip()
        if value:
            name = header[index] if index < len(header) and header[index] else f"column {index + 1}"
            cells.append(f"{name}: {value}")
    return "; ".join(cells)


class CSVParser(Parser):
    """CSV files: the first row is the header; every other row becomes a line "header: value; ..."
    (one segment per row, metadata `row`: its 1-based data row number). Config: `delimiter`
    (default "," and tab for .tsv), `quotechar`, `encoding`."""

    extensions = (".csv", ".tsv")
    mime_types = ("text/csv", "text/tab-separated-values")
    default_strategy = "rows"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        text = read_text(path, filename, config.get("encoding") or "utf-8")
        delimiter = config.get("delimiter") or ("\t" if filename.lower().endswith(".tsv") else ",")
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=config.get("quotechar") or '"'))
        except csv.Error as error:
            raise DocumentUnreadable(f"{filename} is not valid CSV: {error}") from error
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if len(rows) < 2:
            raise DocumentUnreadable(f"{filename} has no data rows under its header")
        header = [cell.strip() for cell in rows[0]]
        builder = TextBuilder(separator="\n")
        for number, row in enumerate(rows[1:], start=1):
            builder.add(row_text(header, row), metadata={"row": number})
        return builder.extracted(filename, {"title": None, "columns": header, "row_count": len(rows) - 1})


class CSVParserPython(CSVParser):
    name = "CSVParser_Python"


class CSVParserPandas(CSVParser):
    name = "CSVParser_Pandas"


class CSVParserLlamaIndex(CSVParser):
    name = "CSVParser_LlamaIndex"
