"""The RAG section over HTTP: databases (list, create, get, update, delete) edit the project's config,
documents, health, stats and query of a database, with a fake OpenAI-compatible embedder on 127.0.0.1."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.projects.models import Project
from apps.rag.models import Database, Document
from tests.projects.runs import run_task
from tests.rag.conftest import fake_embedder, openai_database  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

NS, NAME = "my-org", "chatbot"
BASE = f"/v1/projects/{NS}/{NAME}"


@pytest.fixture
def project(make_project):
    make_project(NAME, namespace=NS)
    return NAME


def config(name: str = NAME) -> dict:
    return Project.objects.get(namespace=NS, name=name).config


def new_database(fake, name: str = "research_db") -> dict:
    database = openai_database(fake, name=name)
    database["retrieval_strategies"] = [
        {"name": "basic_search", "type": "BasicSimilarityStrategy", "config": {"top_k": 10}, "default": True}
    ]
    return database


def ingested(client, fake, *texts: tuple[str, bytes]) -> None:
    """`research_db` (embedding with `fake`) and a dataset `notes` in it holding `texts`, processed."""
    assert client.post(f"{BASE}/rag/databases", new_database(fake), "application/json").status_code == 201
    dataset = {"name": "notes", "data_processing_strategy": "universal_processor", "database": "research_db"}
    assert client.post(f"{BASE}/datasets", dataset, "application/json").status_code == 200
    for filename, content in texts:
        uploaded = client.post(f"{BASE}/datasets/notes/data", {"file": SimpleUploadedFile(filename, content)})
        assert uploaded.status_code == 200, uploaded.content
    response = client.post(f"{BASE}/datasets/notes/actions", {"action_type": "process"}, "application/json")
    run_task(response.json()["task_id"])


def test_the_databases_list_shows_the_templates_database_as_default(client, project):
    body = client.get(f"{BASE}/rag/databases").json()

    assert body["default_database"] == "main_database"
    (database,) = body["databases"]
    assert (database["name"], database["type"], database["is_default"]) == ("main_database", "ChromaStore", True)
    assert database["embedding_strategies"] == [
        {"name": "default_embeddings", "type": "UniversalEmbedder", "priority": 0, "is_default": True}
    ]
    assert database["retrieval_strategies"] == [
        {"name": "basic_search", "type": "BasicSimilarityStrategy", "is_default": True}
    ]


def test_creating_a_database_is_201_adds_it_to_the_config_and_creates_its_storage(client, project, fake_embedder):  # noqa: F811
    response = client.post(f"{BASE}/rag/databases", new_database(fake_embedder), "application/json")

    assert response.status_code == 201
    assert response.json()["database"]["name"] == "research_db"
    assert response.json()["database"]["is_default"] is False
    assert [database["name"] for database in config()["rag"]["databases"]] == ["main_database", "research_db"]
    assert Database.objects.filter(scope=f"{NS}/{NAME}", name="research_db").exists()
    again = client.post(f"{BASE}/rag/databases", new_database(fake_embedder), "application/json")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_a_database_that_breaks_the_config_is_422_with_the_path(client, project, fake_embedder):  # noqa: F811
    database = new_database(fake_embedder)
    database["default_retrieval_strategy"] = "nowhere"

    response = client.post(f"{BASE}/rag/databases", database, "application/json")

    assert response.status_code == 422
    assert any("default_retrieval_strategy" in error["msg"] for error in response.json()["detail"])
    assert len(config()["rag"]["databases"]) == 1


def test_a_database_shows_its_config_strategies_and_dependent_datasets(client, project):
    body = {"name": "papers", "data_processing_strategy": "universal_processor", "database": "main_database"}
    client.post(f"{BASE}/datasets", body, "application/json")

    detail = client.get(f"{BASE}/rag/databases/main_database").json()

    assert detail["config"] == {"distance_function": "cosine", "collection_name": "documents"}
    assert detail["embedding_strategies"][0]["config"]["dimension"] == 384
    assert (detail["default_embedding_strategy"], detail["default_retrieval_strategy"]) == (
        "default_embeddings",
        "basic_search",
    )
    assert detail["dependent_datasets"] == ["papers"]
    assert client.get(f"{BASE}/rag/databases/nowhere").status_code == 404


def test_updating_a_database_merges_its_config_and_keeps_name_and_type_immutable(client, project):
    url = f"{BASE}/rag/databases/main_database"
    strategies = [
        {"name": "basic_search", "type": "BasicSimilarityStrategy", "config": {"top_k": 10}},
        {"name": "hybrid", "type": "HybridUniversalStrategy", "config": {}},
    ]

    response = client.patch(
        url,
        {
            "config": {"distance_function": "l2"},
            "retrieval_strategies": strategies,
            "default_retrieval_strategy": "hybrid",
        },
        "application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["config"] == {"distance_function": "l2", "collection_name": "documents"}
    assert body["default_retrieval_strategy"] == "hybrid"
    assert [strategy["default"] for strategy in body["retrieval_strategies"]] == [False, True]
    for change in ({"name": "renamed"}, {"type": "QdrantStore"}):
        refused = client.patch(url, change, "application/json")
        assert refused.status_code == 400 and "immutable" in refused.json()["detail"]
    assert client.patch(url, {"name": "main_database", "type": "ChromaStore"}, "application/json").status_code == 200


def test_deleting_a_database_that_datasets_use_is_409_with_the_specs_message(client, project):
    for name in ("dataset1", "dataset2"):
        body = {"name": name, "data_processing_strategy": "universal_processor", "database": "main_database"}
        client.post(f"{BASE}/datasets", body, "application/json")

    response = client.delete(f"{BASE}/rag/databases/main_database")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot delete database 'main_database': 2 dataset(s) depend on it. "
        "Delete or reassign these datasets first: ['dataset1', 'dataset2']"
    }


def test_deleting_a_database_removes_it_from_the_config_and_its_vectors_unless_told_to_keep_them(
    client,
    project,
    fake_embedder,  # noqa: F811
):
    ingested(client, fake_embedder, ("a.txt", b"Alpha notes.\n\nMore alpha notes."))
    client.delete(f"{BASE}/datasets/notes")
    ingested_again = client.post(f"{BASE}/rag/databases", new_database(fake_embedder, "keep_db"), "application/json")
    assert ingested_again.status_code == 201

    response = client.delete(f"{BASE}/rag/databases/research_db")
    kept = client.delete(f"{BASE}/rag/databases/keep_db?delete_collection=false")

    assert response.status_code == 200
    assert response.json()["message"] == "Database 'research_db' deleted successfully"
    assert response.json()["database"]["name"] == "research_db" and response.json()["collection_deleted"] is True
    assert kept.json()["collection_deleted"] is False
    assert [database["name"] for database in config()["rag"]["databases"]] == ["main_database"]
    assert not Database.objects.filter(name="research_db").exists()
    assert Database.objects.filter(name="keep_db").exists()


def test_documents_health_and_stats_describe_what_was_ingested(client, project, fake_embedder):  # noqa: F811
    ingested(client, fake_embedder, ("a.txt", b"Alpha notes.\n\nMore alpha notes."), ("b.txt", b"Beta notes."))
    document = Document.objects.get(filename="a.txt")

    documents = client.get(f"{BASE}/rag/databases/research_db/documents?limit=1").json()
    stats = client.get(f"{BASE}/rag/stats?database=research_db").json()
    health = client.get(f"{BASE}/rag/health?database=research_db").json()

    assert len(documents) == 1 and documents[0]["filename"] in {"a.txt", "b.txt"}
    assert documents[0]["metadata"]["source_dataset"] == "notes"
    every = client.get(f"{BASE}/rag/databases/research_db/documents").json()
    assert {entry["id"]: entry["chunk_count"] for entry in every}[document.file_hash] == document.chunk_count
    for limit in (0, 1001):
        assert client.get(f"{BASE}/rag/databases/research_db/documents?limit={limit}").status_code == 422
    assert stats["database"] == "research_db" and stats["embedding_dimension"] == 32
    assert stats["vector_count"] == sum(entry["chunk_count"] for entry in every) and stats["storage_bytes"] > 0
    assert health["status"] == "healthy" and health["database"] == "research_db"
    assert set(health["components"]) == {"vector_store", "embeddings"}
    assert health["components"]["embeddings"]["latency"] >= 0
    assert client.get(f"{BASE}/rag/stats").json()["database"] == "main_database"  # the default
    assert client.get(f"{BASE}/rag/stats?database=nowhere").status_code == 404


def test_a_query_answers_citations_and_an_unknown_database_or_strategy_is_404(client, project, fake_embedder):  # noqa: F811
    ingested(client, fake_embedder, ("tea.txt", b"Green tea is steamed.\n\nBlack tea is oxidised."))
    url = f"{BASE}/rag/query"

    response = client.post(url, {"query": "green tea", "database": "research_db", "top_k": 2}, "application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["database_used"], body["retrieval_strategy_used"]) == ("research_db", "basic_search")
    assert body["total_results"] == len(body["results"]) > 0
    first = body["results"][0]
    assert first["document_id"] == Document.objects.get(filename="tea.txt").file_hash
    assert first["metadata"]["filename"] == "tea.txt" and first["chunk_id"] == first["metadata"]["chunk_id"]
    assert "page" in first["metadata"] and "heading" in first["metadata"]
    for body in ({"query": "tea", "database": "nowhere"}, {"query": "tea", "retrieval_strategy": "nowhere"}):
        missing = client.post(url, body, "application/json")
        assert missing.status_code == 404 and set(missing.json()) == {"detail"}
