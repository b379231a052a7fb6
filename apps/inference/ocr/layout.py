"""Reading order of the lines found on a page: recursive XY-cut.

RapidOCR (like PaddleOCR) sorts boxes top to bottom, which interleaves the lines of a two-column
page. XY-cut (Nagy & Seth, "Hierarchical representation of optically scanned documents", 1984)
splits the page at the widest empty vertical gutter (columns, read left to right) or, where none
is wide enough, at empty horizontal gaps taller than ordinary line spacing (blocks, read top to
bottom), recursively; lines in a block that splits no further are read top to bottom, left to right.

Thresholds are in units of the median line height `h`: a gutter is at least `GUTTER_LINES` × h
wide, a block gap at least `BLOCK_GAP_LINES` × h tall (ordinary line spacing is 0.2–0.8 h).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import TypeVar

GUTTER_LINES = 1.0
BLOCK_GAP_LINES = 1.0

Box = tuple[float, float, float, float]
T = TypeVar("T")


def reading_order(items: Sequence[T], boxes: Sequence[Box]) -> list[T]:
    """`items` reordered for reading, `boxes[i]` (x1, y1, x2, y2) being where `items[i]` lies."""
    if len(items) < 2:
        return list(items)
    height = median(max(box[3] - box[1], 1.0) for box in boxes)
    order = _cut(list(range(len(items))), boxes, height, depth=0)
    return [items[index] for index in order]


def _gaps(intervals: list[tuple[float, float, int]], minimum: float) -> list[list[int]]:
    """Indexes grouped where the union of the intervals (start, end, index) has an empty gap of at
    least `minimum`; one group when there is none."""
    groups: list[list[int]] = []
    reach = None
    for start, end, index in sorted(intervals):
        if reach is None or start - reach >= minimum:
            groups.append([])
        groups[-1].append(index)
        reach = end if reach is None else max(reach, end)
    return groups


def _cut(indexes: list[int], boxes: Sequence[Box], height: float, depth: int) -> list[int]:
    if len(indexes) < 2 or depth > 32:
        return sorted(indexes, key=lambda i: (boxes[i][1], boxes[i][0]))
    columns = _gaps([(boxes[i][0], boxes[i][2], i) for i in indexes], GUTTER_LINES * height)
    if len(columns) > 1:
        return [i for column in columns for i in _cut(column, boxes, height, depth + 1)]
    blocks = _gaps([(boxes[i][1], boxes[i][3], i) for i in indexes], BLOCK_GAP_LINES * height)
    if len(blocks) > 1:
        return [i for block in blocks for i in _cut(block, boxes, height, depth + 1)]
    return _rows(indexes, boxes, height)


def _rows(indexes: list[int], boxes: Sequence[Box], height: float) -> list[int]:
    """Lines top to bottom; boxes whose vertical centres are within half a line height are one row,
    read left to right."""
    ordered = sorted(indexes, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rows: list[list[int]] = []
    for index in ordered:
        centre = (boxes[index][1] + boxes[index][3]) / 2
        if rows and abs(centre - (boxes[rows[-1][0]][1] + boxes[rows[-1][0]][3]) / 2) < height / 2:
            rows[-1].append(index)
        else:
            rows.append([index])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]
