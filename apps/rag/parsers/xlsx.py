"""Excel XLSX (openpyxl, read-only): sheet by sheet, each row as a line that names its columns."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from apps.rag.chunking import Extracted
from apps.rag.parsers.base import DocumentUnreadable, Parser, TextBuilder, require_kind
from apps.rag.parsers.csv import row_text


class ExcelParser(Parser):
    """XLSX workbooks: per sheet (config `sheets`: names to read, default all), the first non-empty
    row is the header and every other row a line "header: value; ..." (cell values, not formulas).
    Chunks never span two sheets; `page` is None and metadata carries `sheet` (its name),
    `sheet_index` (1-based) and `row` (1-based data row). Legacy .xls files are refused."""

    extensions = (".xlsx", ".xlsm")
    mime_types = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
    )
    default_strategy = "rows"

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        from openpyxl import load_workbook

        require_kind(path, filename, "xlsx", "an Excel (XLSX) workbook")
        handle = path.open("rb")  # a handle: openpyxl refuses a *name* without an .xlsx extension
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            handle.close()
            raise DocumentUnreadable(f"{filename} is not a readable XLSX workbook: {error}") from error
        wanted = config.get("sheets")
        builder = TextBuilder(separator="\n")
        sheets = []
        try:
            for index, sheet in enumerate(workbook.worksheets, start=1):
                if wanted and sheet.title not in wanted:
                    continue
                sheets.append(sheet.title)
                header: list[str] | None = None
                number = 0
                for values in sheet.iter_rows(values_only=True):
                    if not any(value is not None and str(value).strip() for value in values):
                        continue
                    if header is None:
                        header = ["" if value is None else str(value).strip() for value in values]
                        continue
                    number += 1
                    builder.add(
                        row_text(header, list(values)),
                        group=sheet.title,
                        metadata={"sheet": sheet.title, "sheet_index": index, "row": number},
                    )
        finally:
            workbook.close()
            handle.close()
        if wanted and not sheets:
            raise DocumentUnreadable(f"{filename} has none of the sheets {', '.join(wanted)}")
        return builder.extracted(filename, {"title": None, "sheets": sheets})


class ExcelParserOpenPyXL(ExcelParser):
    name = "ExcelParser_OpenPyXL"


class ExcelParserPandas(ExcelParser):
    name = "ExcelParser_Pandas"


class ExcelParserLlamaIndex(ExcelParser):
    name = "ExcelParser_LlamaIndex"
