"""Sizes and parameter counts: parsing the search filters, formatting for people.

Size filters (`size=<100gb`) use binary units (1 GB = 1024³ bytes), as the spec's examples do.
Parameter counts are reported in billions (`parameter_count: 8` for 8.03e9); a bare filter value
(`params=7b`) matches counts within ±20% of it, and `<`, `<=`, `>`, `>=`, `=` compare exactly.
"""

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from apps.core.errors import Invalid

SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
PARAM_UNITS = {"": 1e9, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
PARAMS_TOLERANCE = 0.2

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "==": operator.eq,
}

_SIZE = re.compile(r"^\s*(<=|>=|==|<|>|=)?\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$", re.IGNORECASE)
_PARAMS = re.compile(r"^\s*(<=|>=|==|<|>|=)?\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Bound:
    """A numeric filter: `low <= value <= high` for "about", else `op(value, target)`."""

    op: str
    target: float
    low: float
    high: float

    def matches(self, value: float | None) -> bool:
        if value is None:
            return False  # unknown never matches a filter: nothing is invented
        if self.op == "~":
            return self.low <= value <= self.high
        return OPERATORS[self.op](value, self.target)


def parse_size_filter(text: str) -> Bound:
    """`<100gb`, `>=1.5tb`, `500mb` (means at most 500 MB)."""
    match = _SIZE.match(text or "")
    if not match:
        raise Invalid(f"invalid size filter {text!r}: use e.g. '<100gb', '>=500mb'")
    op, number, unit = match.groups()
    target = float(number) * SIZE_UNITS[(unit or "gb").lower()]
    op = op or "<="
    return Bound(op=op, target=target, low=0, high=target)


def parse_params_filter(text: str) -> Bound:
    """`7b` (about 7 billion), `<3b`, `>=70b`, `500m`."""
    match = _PARAMS.match(text or "")
    if not match:
        raise Invalid(f"invalid params filter {text!r}: use e.g. '7b', '<3b', '>=30b', '500m'")
    op, number, unit = match.groups()
    target = float(number) * PARAM_UNITS[unit.lower()]
    if not op:
        return Bound(op="~", target=target, low=target * (1 - PARAMS_TOLERANCE), high=target * (1 + PARAMS_TOLERANCE))
    return Bound(op=op, target=target, low=target, high=target)


def params_hub_range(bound: Bound) -> str | None:
    """The hub's `num_parameters` query (`min:6B,max:9B`) that holds every match of `bound`."""
    low = bound.low if bound.op in {"~", ">", ">=", "=", "=="} else None
    high = bound.high if bound.op in {"~", "<", "<=", "=", "=="} else None
    parts = []
    if low:
        parts.append(f"min:{_hub_count(low, floor=True)}")
    if high is not None:
        parts.append(f"max:{_hub_count(high, floor=False)}")
    return ",".join(parts) or None


def _hub_count(count: float, *, floor: bool) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            value = count / size
            rounded = int(value) if floor else int(value) + (0 if value.is_integer() else 1)
            return f"{rounded}{unit}"
    return str(int(count))


def parse_hub_count(text: str) -> float | None:
    """`6B`, `500M`, `1.5K`, `1000` → a count (the mirror reads the hub's syntax)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", text or "", re.IGNORECASE)
    if not match:
        return None
    return float(match.group(1)) * (PARAM_UNITS[match.group(2).lower()] if match.group(2) else 1)


def billions(count: int | None) -> int | float | None:
    """A parameter count in billions: 8 for 8.03e9, 1.7 for 1.72e9, 0.494 for 4.94e8."""
    if not count:
        return None
    value = count / 1e9
    if value >= 1:
        rounded = round(value, 1)
        return int(rounded) if rounded.is_integer() else rounded
    return float(f"{value:.3g}")


def human_size_binary(size: int) -> str:
    """`1.0 GB`, `1.75 GB`, `3.25 GB`, `512.0 KB`: the quantization listing's style."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{round(value, 2)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_size_decimal(size: int) -> str:
    """`90MB`, `1.2GB`, `512B`: the models cache listing's style."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
        value /= 1000
    raise AssertionError("unreachable")
