"""core.registry: one helper for every set of pluggable implementations (providers, sources, hooks…)."""

import subprocess
import sys
from pathlib import Path

import pytest

from apps.backends.providers import PROVIDERS
from apps.chains.hooks import LOCAL_HOOKS
from apps.core.errors import Invalid
from apps.core.registry import Registry
from apps.modelstore.sources import SOURCES

ROOT = Path(__file__).resolve().parents[2]

PARSERS = Registry("parser", {"text": "pathlib.PurePosixPath", "csv": "csv.reader"})


def test_names_are_sorted_for_validation_and_enums():
    assert PARSERS.names() == ("csv", "text")
    assert list(PARSERS) == ["csv", "text"]
    assert "csv" in PARSERS and "pdf" not in PARSERS and None not in PARSERS


def test_an_unknown_name_is_invalid_naming_the_valid_ones():
    with pytest.raises(Invalid) as raised:
        PARSERS.get("pdf")
    assert raised.value.message == "unknown parser 'pdf': use one of csv, text"
    assert raised.value.status_code == 400


def test_get_imports_the_dotted_path_once():
    import csv

    assert PARSERS.get("csv") is csv.reader
    assert PARSERS.check("text") == "text"
    assert PARSERS.dotted_path("text") == "pathlib.PurePosixPath"


def test_nothing_is_imported_until_a_name_is_asked_for():
    code = (
        "from apps.core.registry import Registry; import sys; "
        "r = Registry('engine', {'x': 'xml.dom.minidom.parseString'}); "
        "print('xml.dom.minidom' in sys.modules); r.get('x'); print('xml.dom.minidom' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    ("registry", "names", "message"),
    [
        (
            PROVIDERS,
            ("local", "ollama", "openai", "vllm"),
            "unknown provider 'nope': use one of local, ollama, openai, vllm",
        ),
        (SOURCES, ("huggingface",), "unknown source 'nope': use one of huggingface"),
        (LOCAL_HOOKS, ("echo", "http_request"), "unknown hook 'nope': use one of echo, http_request"),
    ],
    ids=["providers", "sources", "hooks"],
)
def test_the_three_existing_registries_are_core_registries(registry, names, message):
    assert isinstance(registry, Registry)
    assert registry.names() == names
    for name in names:
        assert isinstance(registry.get(name), type)
    with pytest.raises(Invalid, match=message):
        registry.get("nope")
