"""Chain templates: `{{ .name }}` (or `{{.name}}`) is replaced by the variable `name` as text.

Only variable references are supported, not Go's full template language: that is what chains
use (`{{ .input }}`, `{{ .previous_output }}`, `{{ .<task_id> }}`), and it keeps a prompt from
running code. A reference to an unknown name is refused when the chain is validated; one to a
task that has not run yet on this path fails the task when it renders.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from apps.chains.values import as_text

REFERENCE = re.compile(r"\{\{-?\s*\.([A-Za-z_][\w\-]*)\s*-?\}\}")
TAG = re.compile(r"\{\{.*?\}\}", re.DOTALL)


class TemplateError(Exception):
    """A template refers to a variable that has no value."""


def references(template: str) -> list[str]:
    """The variable names a template uses, in order."""
    return REFERENCE.findall(template or "")


def unknown_references(template: str, known: Iterable[str]) -> list[str]:
    known_names = set(known)
    return [name for name in references(template) if name not in known_names]


def unsupported_tags(template: str) -> list[str]:
    """The `{{ ... }}` tags that are not a plain variable reference (Go's pipes, functions, `if`):
    refused up front rather than sent to a model as they are."""
    return [tag for tag in TAG.findall(template or "") if not REFERENCE.fullmatch(tag)]


def render(template: str, variables: Mapping[str, Any], *, strict: bool = True) -> str:
    """The template with its references replaced. A variable with no value is an error, or renders
    as nothing when `strict` is off (print lines and alerts: they must never fail a chain)."""

    def value_of(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            if not strict:
                return ""
            raise TemplateError(f"{{{{ .{name} }}}} has no value yet (the task {name!r} has not run)")
        return as_text(variables[name])

    return REFERENCE.sub(value_of, template or "")


def render_args(args: Any, variables: Mapping[str, Any]) -> Any:
    """Hook args with every string rendered as a template (nested objects and lists too)."""
    if isinstance(args, str):
        return render(args, variables)
    if isinstance(args, dict):
        return {key: render_args(value, variables) for key, value in args.items()}
    if isinstance(args, list):
        return [render_args(value, variables) for value in args]
    return args


def args_templates(args: Any) -> list[str]:
    """Every string inside hook args (each one a template), at any depth."""
    if isinstance(args, str):
        return [args]
    if isinstance(args, dict):
        return [text for value in args.values() for text in args_templates(value)]
    if isinstance(args, list):
        return [text for value in args for text in args_templates(value)]
    return []
