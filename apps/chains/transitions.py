"""Transitions: which task runs next, from a task's output and its `branches`.

As in contenox, the branches with an operator other than `default` are tried in order and the
first that matches wins; when none does, the first `default` branch is taken, wherever it is
listed. The string operators compare exactly (case-sensitive); the numeric ones (`>`/`gt`, `<`/`lt`,
`in_range`) do not match an output that is not a number. A branch with no operator
means `default` when its `when` is "default", `equals` otherwise.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

END = "end"

NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
RANGE = re.compile(rf"^\s*({NUMBER})\s*-\s*({NUMBER})\s*$")


def parse_number(text: str) -> float | None:
    """A number written alone (surrounding spaces allowed); None otherwise."""
    try:
        number = float(text.strip())
    except (ValueError, AttributeError):
        return None
    return number if math.isfinite(number) else None


def parse_range_bounds(text: str) -> tuple[float, float] | None:
    """(low, high) of "low-high", or of a single number N as N-N; None when it is neither."""
    match = RANGE.match(text or "")
    if match:
        return float(match.group(1)), float(match.group(2))
    number = parse_number(text or "")
    return None if number is None else (number, number)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(output: str, when: str) -> bool:
        left, right = parse_number(output), parse_number(when)
        return left is not None and right is not None and compare(left, right)

    return check


def _in_range(output: str, when: str) -> bool:
    bounds, value = parse_range_bounds(when), parse_range_bounds(output)
    if bounds is None or value is None:
        return False
    # A range output (parse_range's "5-7") matches when it lies wholly inside.
    return bounds[0] <= value[0] and value[1] <= bounds[1]


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda output, when: output == when,
    "contains": lambda output, when: when in output,
    "starts_with": lambda output, when: output.startswith(when),
    "ends_with": lambda output, when: output.endswith(when),
    ">": _numeric(lambda left, right: left > right),
    "gt": _numeric(lambda left, right: left > right),
    "<": _numeric(lambda left, right: left < right),
    "lt": _numeric(lambda left, right: left < right),
    "in_range": _in_range,
    "default": lambda output, when: True,
}
NUMERIC_OPERATORS = {">", "gt", "<", "lt"}


def effective_operator(operator: str, when: str) -> str:
    if operator:
        return operator
    return "default" if when == "default" else "equals"


def when_problem(operator: str, when: str) -> str | None:
    """Why `when` cannot be compared with `operator`, or None when it can."""
    if operator in NUMERIC_OPERATORS and parse_number(when) is None:
        return f"operator {operator!r} needs a number in 'when', got {when!r}"
    if operator == "in_range":
        bounds = parse_range_bounds(when)
        if bounds is None or RANGE.match(when) is None:
            return f"operator 'in_range' needs 'when' as low-high (e.g. 5-7), got {when!r}"
        if bounds[0] > bounds[1]:
            return f"in_range {when!r}: the low bound is above the high one"
    return None


@dataclass(frozen=True)
class Branch:
    operator: str
    when: str
    goto: str
    alert_on_match: str = ""

    def matches(self, output: str) -> bool:
        return OPERATORS[self.operator](output, self.when)


def first_match(branches: tuple[Branch, ...], output: str) -> Branch | None:
    """The branch to follow: the first non-default one that matches, else the first `default`."""
    explicit = (branch for branch in branches if branch.operator != "default" and branch.matches(output))
    fallback = (branch for branch in branches if branch.operator == "default")
    return next(explicit, None) or next(fallback, None)


def is_end(goto: str) -> bool:
    return goto in ("", END)
