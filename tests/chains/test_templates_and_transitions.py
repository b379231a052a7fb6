"""Templates, transition operators and durations: the engine's pure parts."""

import pytest

from apps.chains import templates, transitions
from apps.chains.definitions import parse_duration
from apps.chains.transitions import Branch, first_match
from apps.chains.values import chat_history

VARIABLES = {
    "input": "the question",
    "previous_output": 42,
    "summarize": "a summary",
    "score-task": 7.5,
    "whole": 8.0,
    "big": 1e21,
    "flag": True,
    "chat": chat_history([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]),
    "data": {"b": 1, "a": [1, 2]},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Q: {{ .input }}", "Q: the question"),
        ("Q: {{.input}}", "Q: the question"),
        ("{{ .previous_output }} / {{.summarize}}", "42 / a summary"),
        ("score {{ .score-task }}, flag {{ .flag }}", "score 7.5, flag true"),
        ("whole {{ .whole }}, big {{ .big }}", "whole 8, big 1e+21"),
        ("last: {{ .chat }}", "last: hello there"),
        ("json: {{ .data }}", 'json: {"a": [1, 2], "b": 1}'),
        ("no references {{ here }}", "no references {{ here }}"),
    ],
)
def test_templates_replace_variables_with_or_without_spaces(template, expected):
    assert templates.render(template, VARIABLES) == expected


def test_a_variable_with_no_value_fails_strict_rendering_and_is_empty_otherwise():
    with pytest.raises(templates.TemplateError, match=r"\{\{ \.later \}\} has no value yet"):
        templates.render("x {{ .later }}", VARIABLES)
    assert templates.render("x {{ .later }}!", VARIABLES, strict=False) == "x !"


def test_hook_args_are_rendered_at_every_depth():
    args = {"url": "http://h/{{ .input }}", "nested": {"list": ["{{.summarize}}", 3]}, "n": 1}
    assert templates.render_args(args, VARIABLES) == {
        "url": "http://h/the question",
        "nested": {"list": ["a summary", 3]},
        "n": 1,
    }
    assert templates.args_templates(args) == ["http://h/{{ .input }}", "{{.summarize}}"]
    assert templates.unknown_references("{{ .input }} {{ .nope }}", ["input"]) == ["nope"]


@pytest.mark.parametrize(
    ("template", "unsupported"),
    [
        ("{{ .input }} and {{- .input -}}", []),
        ("{{ .input | upper }}", ["{{ .input | upper }}"]),
        ("{{ if .flag }}yes{{ end }}", ["{{ if .flag }}", "{{ end }}"]),
        ("{{ here }}", ["{{ here }}"]),
    ],
)
def test_only_plain_variable_references_are_supported(template, unsupported):
    assert templates.unsupported_tags(template) == unsupported


@pytest.mark.parametrize(
    ("operator", "when", "output", "matches"),
    [
        ("equals", "yes", "yes", True),
        ("equals", "yes", "Yes", False),
        ("contains", "cat", "concatenate", True),
        ("contains", "dog", "concatenate", False),
        ("starts_with", "/search", "/search cats", True),
        ("starts_with", "search", "/search cats", False),
        ("ends_with", "?", "is it?", True),
        ("ends_with", "?", "it is.", False),
        (">", "5", "7", True),
        (">", "5", "5", False),
        ("gt", "5", "5.5", True),
        ("<", "5", "4", True),
        ("lt", "5", "10", False),
        ("gt", "5", "seven", False),  # not a number: no match
        ("in_range", "5-7", "5", True),
        ("in_range", "5-7", "7", True),
        ("in_range", "5-7", "7.5", False),
        ("in_range", "5-7", "5-6", True),  # a range output lies wholly inside
        ("in_range", "5-7", "6-8", False),
        ("in_range", "-3-3", "-1", True),
        ("in_range", "5-7", "many", False),
        ("default", "", "anything at all", True),
    ],
)
def test_each_operator_compares_the_output_with_when(operator, when, output, matches):
    assert Branch(operator=operator, when=when, goto="next").matches(output) is matches


def test_the_first_matching_branch_wins_and_default_is_the_fallback_wherever_it_is_listed():
    branches = (
        Branch("default", "", "fallback"),
        Branch("contains", "error", "handle"),
        Branch("default", "", "second fallback"),
        Branch("equals", "an error", "later"),
    )
    assert first_match(branches, "an error").goto == "handle"
    assert first_match(branches, "fine").goto == "fallback"
    assert first_match(branches[1:2], "fine") is None


def test_a_branch_without_operator_means_default_or_equals():
    assert transitions.effective_operator("", "default") == "default"
    assert transitions.effective_operator("", "yes") == "equals"
    assert transitions.effective_operator("gt", "5") == "gt"


@pytest.mark.parametrize(
    ("operator", "when", "problem"),
    [("gt", "five", "needs a number"), ("in_range", "5", "low-high"), ("in_range", "7-5", "low bound is above")],
)
def test_a_when_the_operator_cannot_use_is_reported(operator, when, problem):
    assert problem in transitions.when_problem(operator, when)
    assert transitions.when_problem("equals", "anything") is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("2m", 120), ("1h", 3600), ("1m30s", 90), ("500ms", 0.5), ("1.5s", 1.5), ("250us", 0.00025)],
)
def test_durations_read_like_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "ten seconds", "1d", "", "5s extra"])
def test_a_duration_without_units_or_with_unknown_ones_is_refused(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
