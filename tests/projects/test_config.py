"""Project configs: legacy conversion, schema and reference validation with paths, templates, YAML."""

import pytest
import yaml

from apps.core.errors import NotFound
from apps.projects.config import (
    ConfigInvalid,
    config_masked,
    config_normalize,
    config_ordered,
    config_schema,
    config_secrets_restored,
    config_template,
    config_to_yaml,
    config_validate,
    path_dotted,
)
from apps.rag.parsers import PARSER_TYPES
from apps.rag.services import EMBEDDER_TYPES, STORE_TYPES
from apps.rag.storage import DISTANCE_SYNONYMS, distance_of


def rag_config() -> dict:
    return config_template(template="rag", namespace="acme", name="manuals")


def problems_of(config: dict) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as raised:
        config_validate(config)
    return {path_dotted(loc): message for loc, message, _kind in raised.value.problems}


def test_both_templates_validate_and_name_the_project():
    for template in ("server", "rag"):
        config = config_template(template=template, namespace="acme", name="manuals")
        assert config_validate(config) is config
        assert (config["namespace"], config["name"], config["version"]) == ("acme", "manuals", "v1")


def test_unknown_template_names_the_valid_ones():
    with pytest.raises(NotFound, match="server, rag"):
        config_template(template="fancy", namespace="acme", name="x")


def test_rag_template_parsers_cover_every_format_the_rag_app_reads():
    (strategy,) = rag_config()["rag"]["data_processing_strategies"]

    types = {parser["type"] for parser in strategy["parsers"]}

    assert types <= set(PARSER_TYPES)
    for extension in ("*.pdf", "*.docx", "*.md", "*.html", "*.csv", "*.xlsx", "*.json", "*.txt"):
        assert any(extension in parser["file_include_patterns"] for parser in strategy["parsers"]), extension


def test_the_schema_takes_its_type_lists_from_the_rag_app():
    definitions = config_schema()["$defs"]

    assert definitions["parser"]["properties"]["type"]["enum"] == list(PARSER_TYPES)
    assert definitions["database"]["properties"]["type"]["enum"] == list(STORE_TYPES)
    assert definitions["database"]["properties"]["config"]["properties"]["distance_function"]["enum"] == list(
        DISTANCE_SYNONYMS
    )
    embedder = definitions["database"]["properties"]["embedding_strategies"]["items"]["properties"]["type"]
    assert embedder["enum"] == list(EMBEDDER_TYPES)


def test_unknown_types_are_reported_at_their_paths():
    config = rag_config()
    config["rag"]["databases"][0]["type"] = "MongoStore"
    config["rag"]["databases"][0]["config"]["distance_function"] = "manhattan"
    config["rag"]["data_processing_strategies"][0]["parsers"][0]["type"] = "PDFParser_Magic"
    config["rag"]["databases"][0]["embedding_strategies"][0]["type"] = "MagicEmbedder"

    problems = problems_of(config)

    assert set(problems) == {
        "rag.databases[0].type",
        "rag.databases[0].config.distance_function",
        "rag.databases[0].embedding_strategies[0].type",
        "rag.data_processing_strategies[0].parsers[0].type",
    }
    assert "'MongoStore' is not one of" in problems["rag.databases[0].type"]


def test_missing_required_keys_and_unknown_keys_are_both_reported():
    with pytest.raises(ConfigInvalid) as raised:
        config_validate({"version": "v1", "name": "x", "namespace": "y", "runtim": {}})

    messages = [message for loc, message, _kind in raised.value.problems if loc == ()]
    assert "'runtime' is a required property" in messages
    assert any("'runtim' was unexpected" in message for message in messages)


def test_references_that_name_nothing_are_reported():
    config = rag_config()
    config["runtime"]["default_model"] = "ghost"
    config["rag"]["default_database"] = "ghost_db"
    config["rag"]["databases"][0]["default_embedding_strategy"] = "ghost_embeddings"
    config["datasets"] = [
        {"name": "a", "database": "main_database", "data_processing_strategy": "ghost_strategy"},
        {"name": "a", "database": "main_database"},
    ]

    problems = problems_of(config)

    assert "'ghost' does not exist; defined: default" in problems["runtime.default_model"]
    assert "main_database" in problems["rag.default_database"]
    assert "default_embeddings" in problems["rag.databases[0].default_embedding_strategy"]
    assert "universal_processor" in problems["datasets[0].data_processing_strategy"]
    assert problems["datasets[1].name"] == "duplicate name 'a'"


def test_duplicate_database_names_are_reported():
    config = rag_config()
    config["rag"]["databases"].append(dict(config["rag"]["databases"][0]))

    assert problems_of(config) == {"rag.databases[1].name": "duplicate name 'main_database'"}


def test_a_model_naming_an_unknown_prompt_set_is_reported():
    config = rag_config()
    config["runtime"]["models"][0]["prompts"] = ["default", "missing"]

    assert list(problems_of(config)) == ["runtime.models[0].prompts[1]"]


def test_legacy_runtime_becomes_one_default_model_with_its_extra_keys_as_parameters():
    legacy = {
        "runtime": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "api_key": "sk-x",
            "temperature": 0.3,
            "model_api_parameters": {"top_p": 0.9},
        }
    }

    converted = config_normalize(legacy)

    assert converted["runtime"] == {
        "default_model": "default",
        "models": [
            {
                "name": "default",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "api_key": "sk-x",
                "model_api_parameters": {"top_p": 0.9, "temperature": 0.3},
            }
        ],
    }
    assert legacy["runtime"]["provider"] == "openai"  # the input is left as it was


def test_legacy_prompt_list_becomes_one_named_set_and_named_sets_are_kept():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    named = [{"name": "support", "messages": messages}]

    assert config_normalize({"prompts": messages})["prompts"] == [{"name": "default", "messages": messages}]
    assert config_normalize({"prompts": named})["prompts"] == named


def test_yaml_round_trip_keeps_the_config_and_its_key_order():
    config = rag_config()

    text = config_to_yaml(config)

    assert yaml.safe_load(text) == config
    assert text.startswith("version: v1\nname: manuals\nnamespace: acme\n")


def test_invalid_config_renders_as_the_platforms_422_list():
    config = rag_config()
    config["rag"]["databases"][0]["name"] = "Bad Name"

    with pytest.raises(ConfigInvalid) as raised:
        config_validate(config)

    (entry,) = raised.value.message
    assert raised.value.status_code == 422
    assert entry["loc"] == ["body", "config", "rag", "databases", 0, "name"]
    assert entry["msg"].startswith("rag.databases[0].name: 'Bad Name' does not match")
    assert entry["type"] == "schema.pattern"


def test_a_dataset_without_a_strategy_needs_one_to_default_to():
    config = config_template(template="server", namespace="acme", name="manuals")
    config["rag"] = {"databases": [rag_config()["rag"]["databases"][0]]}
    config["datasets"] = [{"name": "docs", "database": "main_database"}]

    assert list(problems_of(config)) == ["datasets[0].data_processing_strategy"]


@pytest.mark.parametrize("name", ["euclidean", "inner_product", "dot", "dotproduct", "euclid", "l2", "ip", "cosine"])
def test_every_distance_name_the_storage_maps_is_accepted_and_kept_as_written(name):
    config = rag_config()
    config["rag"]["databases"][0]["config"]["distance_function"] = name

    assert config_validate(config)["rag"]["databases"][0]["config"]["distance_function"] == name
    assert distance_of(config["rag"]["databases"][0]) in {"cosine", "l2", "ip"}


def test_an_unknown_distance_names_every_accepted_one():
    config = rag_config()
    config["rag"]["databases"][0]["config"]["distance_function"] = "hamming"

    message = problems_of(config)["rag.databases[0].config.distance_function"]

    assert "'euclidean'" in message and "'inner_product'" in message


def test_schema_errors_and_broken_references_are_reported_together():
    config = rag_config()
    config["version"] = "v9"
    config["rag"]["databases"][0]["type"] = "NoStore"
    config["rag"]["default_database"] = "ghost"
    config["runtime"]["default_model"] = "nobody"
    config["datasets"] = [{"name": "docs", "database": "nope", "data_processing_strategy": 7}]

    problems = problems_of(config)

    assert set(problems) == {
        "version",
        "rag.databases[0].type",
        "rag.default_database",
        "runtime.default_model",
        "datasets[0].database",
        "datasets[0].data_processing_strategy",
    }
    assert "'ghost' does not exist" in problems["rag.default_database"]
    assert "7 is not of type 'string'" in problems["datasets[0].data_processing_strategy"]


def test_reference_checks_skip_parts_whose_shape_is_wrong_instead_of_failing():
    config = rag_config()
    config["runtime"]["models"] = "not a list"
    config["rag"]["databases"] = [42, {"name": 5}]
    config["datasets"] = ["docs"]

    problems = problems_of(config)

    assert {"runtime.models", "rag.databases[0]", "rag.databases[1].name", "datasets[0]"} <= set(problems)


def test_secrets_are_masked_at_any_depth_and_other_keys_are_not():
    config = {
        "runtime": {
            "models": [{"name": "m", "api_key": "sk-live-0123456789abcd", "model_api_parameters": {"max_tokens": 9}}]
        },
        "rag": {"databases": [{"embedding_strategies": [{"config": {"api_key": "short", "model": "x"}}]}]},
        "mcp": {"servers": [{"env": {"GITHUB_TOKEN": "ghp_0123456789xyz", "client_secret": "s3cr3t-value-1"}}]},
    }

    masked = config_masked(config)

    model = masked["runtime"]["models"][0]
    assert model["api_key"] == "sk-…abcd" and model["model_api_parameters"] == {"max_tokens": 9}
    assert masked["rag"]["databases"][0]["embedding_strategies"][0]["config"] == {"api_key": "*****", "model": "x"}
    assert masked["mcp"]["servers"][0]["env"] == {"GITHUB_TOKEN": "ghp…9xyz", "client_secret": "s3c…ue-1"}
    assert config["runtime"]["models"][0]["api_key"] == "sk-live-0123456789abcd"  # the input is untouched


def test_a_masked_secret_sent_back_keeps_the_stored_one_and_a_new_value_replaces_it():
    stored = {
        "runtime": {
            "models": [{"name": "a", "api_key": "sk-aaaa-11112222"}, {"name": "b", "api_key": "sk-bbbb-33334444"}]
        }
    }
    incoming = config_masked(stored)
    incoming["runtime"]["models"].reverse()  # matched by name, not position
    incoming["runtime"]["models"][0]["api_key"] = "sk-new-key-5555"

    restored = config_secrets_restored(incoming, stored)

    assert restored["runtime"]["models"] == [
        {"name": "b", "api_key": "sk-new-key-5555"},
        {"name": "a", "api_key": "sk-aaaa-11112222"},
    ]


def test_configs_are_ordered_as_the_schema_lists_their_keys_unknown_keys_last():
    config = rag_config()
    scrambled = {key: config[key] for key in sorted(config, reverse=True)}
    model = scrambled["runtime"]["models"][0]
    scrambled["runtime"]["models"][0] = {"zeta": 1, **{key: model[key] for key in sorted(model)}, "alpha": 2}

    ordered = config_ordered(scrambled)

    assert list(ordered) == ["version", "name", "namespace", "runtime", "prompts", "rag", "datasets"]
    assert list(ordered["runtime"]["models"][0]) == ["name", "description", "provider", "model", "alpha", "zeta"]
    assert list(ordered["rag"]["databases"][0])[:2] == ["name", "type"]
    assert ordered == config
