"""The Projects API: list, create from a template, get, update (JSON and YAML), delete."""

import json
import textwrap

import pytest
import yaml

from apps.projects.models import Dataset, DatasetFile, Project, StoredFile
from tests.projects.conftest import stored_files

pytestmark = pytest.mark.django_db

LLAMAFARM_YAML = textwrap.dedent(
    """\
    version: v1
    name: chatbot
    namespace: my-org
    runtime:
      default_model: fast
      models:
        - name: fast
          description: Small local model
          provider: universal
          model: HuggingFaceTB/SmolLM2-135M-Instruct
          prompts: [support]
          model_api_parameters:
            temperature: 0.2
        - name: big
          provider: ollama
          model: llama3.1:8b
          base_url: http://localhost:11434/v1
    prompts:
      - name: support
        messages:
          - role: system
            content: |
              You answer questions about our product manuals.
    rag:
      default_database: manuals_db
      databases:
        - name: manuals_db
          type: ChromaStore
          config:
            distance_function: cosine
            collection_name: manuals
          embedding_strategies:
            - name: minilm
              type: UniversalEmbedder
              config:
                model: sentence-transformers/all-MiniLM-L6-v2
                dimension: 384
          retrieval_strategies:
            - name: basic
              type: BasicSimilarityStrategy
              config: {top_k: 5}
              default: true
          default_embedding_strategy: minilm
          default_retrieval_strategy: basic
      data_processing_strategies:
        - name: manuals_processor
          description: PDFs and Markdown manuals
          parsers:
            - type: PDFParser_PyPDF2
              file_include_patterns: ["*.pdf"]
              priority: 50
              config: {chunk_size: 800, chunk_overlap: 100, chunk_strategy: paragraphs}
            - type: MarkdownParser_Python
              file_include_patterns: ["*.md"]
              priority: 50
              config: {chunk_size: 800, chunk_overlap: 100, chunk_strategy: sections}
    datasets:
      - name: manuals
        database: manuals_db
        data_processing_strategy: manuals_processor
    """
)


def put_json(client, path: str, config: dict):
    return client.put(path, {"config": config}, "application/json")


def test_a_new_namespace_lists_no_projects(client, home):
    assert client.get("/v1/projects/nobody").json() == {"total": 0, "projects": []}


def test_created_project_is_listed_with_its_config(client, make_project):
    created = make_project("chatbot", template="server")

    listing = client.get("/v1/projects/my-org").json()

    assert created["namespace"] == "my-org" and created["name"] == "chatbot"
    assert created["config"]["version"] == "v1"
    assert created["config"]["runtime"]["models"][0]["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert created["config"]["datasets"] == []
    assert "rag" not in created["config"]
    assert listing == {"total": 1, "projects": [created]}


def test_rag_template_declares_one_database_embedding_with_the_runtime_default_model(make_project):
    config = make_project(template="rag")["config"]

    (database,) = config["rag"]["databases"]
    (embedder,) = database["embedding_strategies"]
    (strategy,) = config["rag"]["data_processing_strategies"]
    assert config["rag"]["default_database"] == database["name"]
    assert embedder["type"] == "UniversalEmbedder"
    assert embedder["config"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder["config"]["dimension"] == 384
    assert database["default_retrieval_strategy"] == "basic_search"
    patterns = {pattern for parser in strategy["parsers"] for pattern in parser["file_include_patterns"]}
    assert {"*.pdf", "*.md"} <= patterns


def test_default_template_is_server(client, home):
    response = client.post("/v1/projects/my-org", {"name": "plain"}, "application/json")

    assert response.status_code == 200
    assert "rag" not in response.json()["project"]["config"]


def test_existing_project_is_409(client, make_project):
    make_project("chatbot")

    response = client.post("/v1/projects/my-org", {"name": "chatbot"}, "application/json")

    assert response.status_code == 409
    assert response.json() == {"detail": "Project my-org/chatbot already exists"}


def test_unknown_template_is_404_naming_valid_ones(client, home):
    response = client.post("/v1/projects/my-org", {"name": "x", "config_template": "nope"}, "application/json")

    assert response.status_code == 404
    assert "server" in response.json()["detail"] and "rag" in response.json()["detail"]
    assert not Project.objects.exists()


def test_bad_project_name_is_422_and_bad_namespace_is_400(client, home):
    bad_name = client.post("/v1/projects/my-org", {"name": "../etc"}, "application/json")
    bad_namespace = client.post("/v1/projects/-org", {"name": "ok"}, "application/json")

    assert bad_name.status_code == 422
    assert bad_name.json()["detail"][0]["loc"] == ["body", "name"]
    assert bad_namespace.status_code == 400
    assert "namespace" in bad_namespace.json()["detail"]
    assert not Project.objects.exists()


def test_unknown_project_is_404(client, home):
    response = client.get("/v1/projects/my-org/ghost")

    assert response.status_code == 404
    assert response.json() == {"detail": "Project my-org/ghost not found"}


def test_update_with_invalid_config_is_422_with_every_violation_path(client, make_project):
    config = make_project()["config"]
    config["rag"]["databases"][0]["type"] = 42
    config["runtime"]["models"][0].pop("provider")
    config["version"] = "v9"

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("body", "config", "rag", "databases", 0, "type") in locations
    assert ("body", "config", "runtime", "models", 0) in locations
    assert ("body", "config", "version") in locations
    messages = [error["msg"] for error in response.json()["detail"]]
    assert any(message.startswith("rag.databases[0].type: ") for message in messages)


def test_update_with_dataset_naming_a_missing_database_is_422_naming_the_defined_ones(client, make_project):
    config = make_project()["config"]
    config["datasets"] = [{"name": "docs", "database": "nope", "data_processing_strategy": "universal_processor"}]

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "config", "datasets", 0, "database"]
    assert "'nope' does not exist" in error["msg"] and "main_database" in error["msg"]
    assert not Dataset.objects.exists()


def test_update_converts_the_legacy_runtime_and_prompts(client, make_project):
    config = make_project(template="server")["config"]
    config["runtime"] = {"provider": "ollama", "model": "llama3.2:3b", "base_url": "http://x/v1", "temperature": 0.7}
    config["prompts"] = [{"role": "system", "content": "Be brief."}]

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 200, response.content
    stored = response.json()["project"]["config"]
    assert stored["runtime"] == {
        "default_model": "default",
        "models": [
            {
                "name": "default",
                "provider": "ollama",
                "model": "llama3.2:3b",
                "base_url": "http://x/v1",
                "model_api_parameters": {"temperature": 0.7},
            }
        ],
    }
    assert stored["prompts"] == [{"name": "default", "messages": [{"role": "system", "content": "Be brief."}]}]


def test_update_with_another_projects_name_is_422(client, make_project):
    config = make_project()["config"]
    config["name"] = "other"

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "config", "name"]


def test_datasets_in_the_config_are_applied_to_the_rows(client, make_project):
    config = make_project()["config"]
    config["datasets"] = [
        {"name": "docs", "database": "main_database", "data_processing_strategy": "universal_processor"}
    ]
    assert put_json(client, "/v1/projects/my-org/chatbot", config).status_code == 200
    assert list(Dataset.objects.values_list("name", flat=True)) == ["docs"]

    config["datasets"] = []
    assert put_json(client, "/v1/projects/my-org/chatbot", config).status_code == 200

    assert not Dataset.objects.exists()


def test_a_llamafarm_yaml_is_put_as_is_and_read_back_as_yaml(client, make_project):
    make_project()

    put = client.put(
        "/v1/projects/my-org/chatbot", LLAMAFARM_YAML, "application/yaml", headers={"accept": "application/json"}
    )
    got = client.get("/v1/projects/my-org/chatbot", headers={"accept": "application/yaml"})

    assert put.status_code == 200, put.content
    assert got.status_code == 200
    assert got["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(got.content) == yaml.safe_load(LLAMAFARM_YAML)
    assert list(Dataset.objects.values_list("name", "database")) == [("manuals", "manuals_db")]


def test_yaml_errors_answer_422_and_x_yaml_is_accepted(client, make_project):
    make_project()
    broken = LLAMAFARM_YAML.replace("type: ChromaStore", "type: [not, a, string]")

    invalid = client.put("/v1/projects/my-org/chatbot", broken, "application/x-yaml")
    unparsable = client.put("/v1/projects/my-org/chatbot", "runtime: [unclosed", "application/yaml")
    legacy_type = client.put("/v1/projects/my-org/chatbot", LLAMAFARM_YAML, "application/x-yaml")

    assert invalid.status_code == 422
    assert ["body", "config", "rag", "databases", 0, "type"] in [error["loc"] for error in invalid.json()["detail"]]
    assert unparsable.status_code == 422
    assert unparsable.json()["detail"][0]["type"] == "yaml_invalid"
    assert legacy_type.status_code == 200


def test_delete_removes_the_project_its_datasets_and_files(
    client, make_project, home, django_capture_on_commit_callbacks
):
    make_project("keep")
    make_project("chatbot")
    client.post(
        "/v1/projects/my-org/chatbot/datasets",
        {"name": "docs", "data_processing_strategy": "universal_processor"},
        "application/json",
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.txt", b"hello world")
    assert client.post("/v1/projects/my-org/chatbot/datasets/docs/data", {"file": upload}).status_code == 200
    assert len(stored_files(home)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/v1/projects/my-org/chatbot")

    assert response.status_code == 200
    body = response.json()["project"]
    assert body["name"] == "chatbot" and body["config"]["datasets"][0]["name"] == "docs"
    assert client.get("/v1/projects/my-org/chatbot").status_code == 404
    assert list(Project.objects.values_list("name", flat=True)) == ["keep"]
    assert not Dataset.objects.exists() and not DatasetFile.objects.exists() and not StoredFile.objects.exists()
    assert stored_files(home) == []


def test_yaml_dates_stay_strings_and_non_json_values_are_refused(client, make_project):
    make_project()
    dated = LLAMAFARM_YAML.replace("description: Small local model", "description: 2024-05-01")
    binary = LLAMAFARM_YAML.replace("description: Small local model", "description: !!binary aGVsbG8=")

    accepted = client.put("/v1/projects/my-org/chatbot", dated, "application/yaml")
    refused = client.put("/v1/projects/my-org/chatbot", binary, "application/yaml")

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["project"]["config"]["runtime"]["models"][0]["description"] == "2024-05-01"
    assert refused.status_code == 422
    assert "plain JSON data" in refused.json()["detail"][0]["msg"]


SECRET_MODEL_KEY = "sk-live-4f9a8b7c6d5e0123"
SECRET_EMBED_KEY = "emb-key-99887766554433"


def secret_config(config: dict) -> dict:
    config["runtime"]["models"][0]["api_key"] = SECRET_MODEL_KEY
    config["rag"]["databases"][0]["embedding_strategies"][0]["config"]["api_key"] = SECRET_EMBED_KEY
    return config


def test_api_keys_are_masked_in_every_answer(client, make_project):
    config = secret_config(make_project()["config"])

    put = put_json(client, "/v1/projects/my-org/chatbot", config)
    answers = [
        put,
        client.get("/v1/projects/my-org/chatbot"),
        client.get("/v1/projects/my-org/chatbot", headers={"accept": "application/yaml"}),
        client.get("/v1/projects/my-org"),
        client.get("/v1/projects/my-org/chatbot/rag/databases/main_database"),
    ]

    for answer in answers:
        assert answer.status_code == 200, answer.content
        text = answer.content.decode()
        assert SECRET_MODEL_KEY not in text and SECRET_EMBED_KEY not in text
        assert "emb…4433" in text
    for answer in answers[:4]:
        assert "sk-…0123" in answer.content.decode()
    model = client.get("/v1/projects/my-org/chatbot").json()["project"]["config"]["runtime"]["models"][0]
    assert model["api_key"] == "sk-…0123"
    deleted = client.delete("/v1/projects/my-org/chatbot")
    assert SECRET_MODEL_KEY not in deleted.content.decode()


def test_a_get_edit_put_round_trip_keeps_the_secrets_and_a_new_key_replaces_one(client, make_project):
    put_json(client, "/v1/projects/my-org/chatbot", secret_config(make_project()["config"]))
    config = client.get("/v1/projects/my-org/chatbot").json()["project"]["config"]
    config["prompts"][0]["messages"][0]["content"] = "Be brief."

    kept = put_json(client, "/v1/projects/my-org/chatbot", config)
    stored = Project.objects.get().config

    assert kept.status_code == 200, kept.content
    assert stored["prompts"][0]["messages"][0]["content"] == "Be brief."
    assert stored["runtime"]["models"][0]["api_key"] == SECRET_MODEL_KEY
    assert stored["rag"]["databases"][0]["embedding_strategies"][0]["config"]["api_key"] == SECRET_EMBED_KEY

    config["runtime"]["models"][0]["api_key"] = "sk-rotated-000011112222"
    put_json(client, "/v1/projects/my-org/chatbot", config)
    assert Project.objects.get().config["runtime"]["models"][0]["api_key"] == "sk-rotated-000011112222"


def test_a_masked_secret_under_a_renamed_entry_is_422_not_stored_as_the_mask(client, make_project):
    put_json(client, "/v1/projects/my-org/chatbot", secret_config(make_project()["config"]))
    config = client.get("/v1/projects/my-org/chatbot").json()["project"]["config"]
    config["runtime"]["models"][0]["name"] = "renamed"
    config["runtime"]["default_model"] = "renamed"

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 422, response.content
    assert "masked secret" in json.dumps(response.json())
    assert Project.objects.get().config["runtime"]["models"][0]["api_key"] == SECRET_MODEL_KEY  # nothing lost


def test_a_secret_that_cannot_travel_in_an_http_header_is_422(client, make_project):
    config = secret_config(make_project()["config"])
    config["runtime"]["models"][0]["api_key"] = "sk-naïve-key-1"

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 422
    assert "printable ASCII" in json.dumps(response.json())


def test_the_spec_example_distance_euclidean_is_accepted_and_reported_as_declared(client, make_project):
    config = make_project()["config"]
    config["rag"]["databases"][0]["config"]["distance_function"] = "euclidean"

    response = put_json(client, "/v1/projects/my-org/chatbot", config)

    assert response.status_code == 200, response.content
    database = response.json()["project"]["config"]["rag"]["databases"][0]
    assert database["config"]["distance_function"] == "euclidean"


def test_config_answers_keep_the_schema_key_order(client, make_project):
    make_project()
    client.put(
        "/v1/projects/my-org/chatbot", LLAMAFARM_YAML, "application/yaml", headers={"accept": "application/json"}
    )

    as_yaml = client.get("/v1/projects/my-org/chatbot", headers={"accept": "application/yaml"}).content.decode()
    as_json = client.get("/v1/projects/my-org/chatbot").json()["project"]["config"]

    assert list(yaml.safe_load(as_yaml)) == ["version", "name", "namespace", "runtime", "prompts", "rag", "datasets"]
    assert list(as_json) == ["version", "name", "namespace", "runtime", "prompts", "rag", "datasets"]
    assert list(as_json["runtime"]) == ["default_model", "models"]
    assert list(as_json["runtime"]["models"][0]) == [
        "name",
        "description",
        "provider",
        "model",
        "model_api_parameters",
        "prompts",
    ]
    assert list(as_json["rag"]["databases"][0]) == [
        "name",
        "type",
        "config",
        "embedding_strategies",
        "retrieval_strategies",
        "default_embedding_strategy",
        "default_retrieval_strategy",
    ]
