"""Request body parsing shared by every surface."""

from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Code of the ParseError below: the handler of a `{"detail": [...]}` surface shows it as the error's type.
TOO_DEEP = "json_too_deep"


def json_depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (a scalar is 0, `[]` and `{}` are 1), counted
    without recursion so that no body can exhaust Python's stack here."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def json_body_check(value: Any) -> Any:
    """`value`, a parsed JSON body, if it nests no deeper than MODELYARD_MAX_JSON_DEPTH; else a
    ParseError that the surface's handler answers with 400/422. Code walking client JSON
    recursively (templates, chain inputs, serializers) then never meets a RecursionError."""
    limit = settings.MODELYARD_MAX_JSON_DEPTH
    if json_depth(value) > limit:
        raise ParseError(f"JSON nested deeper than {limit} levels", code=TOO_DEEP)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested too deeply (`json_body_check`). Python's json module itself
    parses a few hundred levels and raises RecursionError beyond: both are a parse error in the
    surface's shape, never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            limit = settings.MODELYARD_MAX_JSON_DEPTH
            raise ParseError(f"JSON nested deeper than {limit} levels", code=TOO_DEEP) from None
        return json_body_check(data)
