"""Parsing the search filters, formatting sizes, GGUF labels and headers, content hashes."""

import hashlib

import pytest

from apps.core.errors import Invalid
from apps.modelstore import gguf, layout, manifest, units
from tests.fakes.modelstore_repos import GGUF_TENSORS, gguf_file


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("<100gb", [99 * 1024**3], [100 * 1024**3]),
        ("<=1.5tb", [int(1.5 * 1024**4)], [int(1.5 * 1024**4) + 1]),
        (">500mb", [500 * 1024**2 + 1], [500 * 1024**2]),
        ("2gb", [2 * 1024**3], [2 * 1024**3 + 1]),
    ],
)
def test_size_filters_compare_total_bytes_in_binary_units(text, inside, outside):
    bound = units.parse_size_filter(text)
    assert all(bound.matches(value) for value in inside)
    assert not any(bound.matches(value) for value in outside)


def test_a_bare_params_filter_matches_within_twenty_percent_and_operators_compare():
    about_seven = units.parse_params_filter("7b")
    assert about_seven.matches(8.03e9) and about_seven.matches(5.7e9)
    assert not about_seven.matches(8.5e9) and not about_seven.matches(5.5e9)
    assert units.parse_params_filter("<3b").matches(2.9e9)
    assert not units.parse_params_filter("<3b").matches(3e9)
    assert units.parse_params_filter(">=500m").matches(5e8)
    assert units.parse_params_filter("2m").matches(1.9e6)


def test_an_unknown_value_never_matches_a_filter():
    assert not units.parse_params_filter("7b").matches(None)


@pytest.mark.parametrize("text", ["big", "<", "100 parsecs", "7q"])
def test_malformed_filters_are_refused(text):
    with pytest.raises(Invalid):
        units.parse_size_filter(text)
    with pytest.raises(Invalid):
        units.parse_params_filter(text)


def test_the_hub_parameter_range_holds_every_match():
    assert units.params_hub_range(units.parse_params_filter("7b")) == "min:5B,max:9B"
    assert units.params_hub_range(units.parse_params_filter("<3b")) == "max:3B"
    assert units.params_hub_range(units.parse_params_filter("500m")) == "min:400M,max:600M"


@pytest.mark.parametrize(
    ("count", "shown"),
    [(8_030_000_000, 8), (1_720_000_000, 1.7), (494_000_000, 0.494), (19_424, 1.94e-05), (None, None)],
)
def test_parameter_counts_are_shown_in_billions(count, shown):
    assert units.billions(count) == shown


@pytest.mark.parametrize(
    ("size", "binary", "decimal"),
    [
        (1073741824, "1.0 GB", "1.1GB"),
        (1879048192, "1.75 GB", "1.9GB"),
        (3489660928, "3.25 GB", "3.5GB"),
        (90_000_000, "85.83 MB", "90MB"),
        (512, "512.0 B", "512B"),
    ],
)
def test_sizes_are_formatted_as_each_spec_shows_them(size, binary, decimal):
    assert units.human_size_binary(size) == binary
    assert units.human_size_decimal(size) == decimal


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Qwen3-1.7B-Q4_K_M.gguf", "Q4_K_M"),
        ("Qwen3-1.7B-Q8_0.gguf", "Q8_0"),
        ("Qwen3-1.7B-F16.gguf", "F16"),
        ("llama-3-8b.q5_k_s.gguf", "Q5_K_S"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL-00001-of-00002.gguf", "Q4_K_XL"),
        ("model-IQ3_XXS.gguf", "IQ3_XXS"),
        ("gemma-bf16.gguf", "BF16"),
        ("mmproj-model.gguf", None),
    ],
)
def test_the_quantization_label_is_read_from_the_file_name(name, label):
    assert gguf.quantization_label(name) == label


def test_the_gguf_header_gives_architecture_context_and_parameter_count(tmp_path):
    path = tmp_path / "m-Q8_0.gguf"
    gguf_file(path, tensors=GGUF_TENSORS, size=100_000)

    assert gguf.read_header(path) == {"version": 3, "total": 524_288, "architecture": "llama", "context_length": 2048}


def test_a_file_that_is_not_gguf_is_reported(tmp_path):
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"not a gguf file at all")
    with pytest.raises(gguf.GGUFError):
        gguf.read_header(path)


def test_content_hashes_are_git_blob_ids_or_lfs_sha256(tmp_path):
    small, weights = tmp_path / "config.json", tmp_path / "model.safetensors"
    small.write_bytes(b'{"a": 1}\n')
    weights.write_bytes(b"\0" * 1000)

    small_record = manifest.file_record(small, "config.json")
    weights_record = manifest.file_record(weights, "model.safetensors")

    assert small_record["lfs"] is False
    assert small_record["blob_id"] == hashlib.sha1(b"blob 9\0" + b'{"a": 1}\n').hexdigest()
    assert manifest.etag(small_record) == small_record["blob_id"]
    assert weights_record["lfs"] is True
    assert manifest.etag(weights_record) == hashlib.sha256(b"\0" * 1000).hexdigest()


@pytest.mark.parametrize(
    "model_id",
    ["../etc", "a//b", "/", "a/../b", "a b", "", "x" * 97, "a/b/c", "org/name/", "/org/name", "o/t--l", "x.git"],
)
def test_model_ids_the_hub_client_refuses_are_refused(model_id):
    with pytest.raises(Invalid):
        layout.check_model_id(model_id)


@pytest.mark.parametrize("model_id", ["gpt2", "Qwen/Qwen2.5-7B-Instruct", "tiny-org/tiny-gguf-GGUF", "a_b/c.d-e"])
def test_model_ids_the_hub_client_accepts_are_kept_as_they_are(model_id):
    from huggingface_hub.utils import validate_repo_id

    validate_repo_id(model_id)
    assert layout.check_model_id(model_id) == model_id
