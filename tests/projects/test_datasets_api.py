"""The Datasets API: list, strategies, create, delete, uploads (streamed, limited, deduplicated), file removal."""

import hashlib
import os
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.projects.api.views import DatasetUploadView
from apps.projects.models import Dataset, DatasetFile, StoredFile
from tests.projects.conftest import stored_files

pytestmark = pytest.mark.django_db

BASE = "/v1/projects/my-org/chatbot"
MB = 1024 * 1024


@pytest.fixture
def dataset(client, make_project) -> str:
    """A rag project `my-org/chatbot` with an empty dataset `docs`; yields the dataset's path."""
    make_project()
    response = client.post(
        f"{BASE}/datasets", {"name": "docs", "data_processing_strategy": "universal_processor"}, "application/json"
    )
    assert response.status_code == 200, response.content
    return f"{BASE}/datasets/docs"


def upload(client, dataset_path: str, name: str, content: bytes):
    return client.post(f"{dataset_path}/data", {"file": SimpleUploadedFile(name, content, "text/plain")})


def test_created_dataset_uses_the_default_database_and_is_listed_with_details(client, dataset):
    upload(client, dataset, "a.txt", b"alpha")
    upload(client, dataset, "b.md", b"# beta\n")

    listing = client.get(f"{BASE}/datasets").json()
    plain = client.get(f"{BASE}/datasets", {"include_extra_details": "false"}).json()

    (entry,) = listing["datasets"]
    assert listing["total"] == 1
    assert entry["name"] == "docs" and entry["database"] == "main_database"
    assert entry["data_processing_strategy"] == "universal_processor"
    assert entry["files"] == [hashlib.sha256(b"alpha").hexdigest(), hashlib.sha256(b"# beta\n").hexdigest()]
    assert entry["details"]["total_files"] == 2
    assert entry["details"]["total_size_bytes"] == 5 + 7
    first = entry["details"]["file_details"][0]
    assert first["hash"] == entry["files"][0] and first["original_filename"] == "a.txt" and first["size"] == 5
    assert first["timestamp"] > 1_600_000_000
    assert "details" not in plain["datasets"][0]


def test_strategies_lists_the_configs_strategies_and_databases(client, make_project):
    make_project()

    assert client.get(f"{BASE}/datasets/strategies").json() == {
        "data_processing_strategies": ["universal_processor"],
        "databases": ["main_database"],
    }


def test_dataset_with_unknown_database_or_strategy_is_422_naming_the_valid_ones(client, make_project):
    make_project()

    database = client.post(
        f"{BASE}/datasets",
        {"name": "x", "database": "nope", "data_processing_strategy": "universal_processor"},
        "application/json",
    )
    strategy = client.post(f"{BASE}/datasets", {"name": "x", "data_processing_strategy": "nope"}, "application/json")

    assert database.status_code == 422 and "main_database" in database.json()["detail"][0]["msg"]
    assert [error["loc"] for error in database.json()["detail"]] == [["body", "database"]]
    assert strategy.status_code == 422 and "universal_processor" in strategy.json()["detail"][0]["msg"]
    assert [error["loc"] for error in strategy.json()["detail"]] == [["body", "data_processing_strategy"]]


def test_dataset_with_unknown_database_and_strategy_reports_both(client, make_project):
    make_project()

    response = client.post(
        f"{BASE}/datasets", {"name": "x", "database": "nope", "data_processing_strategy": "nada"}, "application/json"
    )

    assert response.status_code == 422
    errors = {tuple(error["loc"]): error["msg"] for error in response.json()["detail"]}
    assert set(errors) == {("body", "database"), ("body", "data_processing_strategy")}
    assert "main_database" in errors[("body", "database")]
    assert "universal_processor" in errors[("body", "data_processing_strategy")]
    assert not Dataset.objects.exists()


def test_existing_dataset_is_409_and_unknown_one_is_404(client, dataset):
    again = client.post(
        f"{BASE}/datasets", {"name": "docs", "data_processing_strategy": "universal_processor"}, "application/json"
    )

    assert again.status_code == 409
    assert client.delete(f"{BASE}/datasets/ghost").status_code == 404
    assert upload(client, f"{BASE}/datasets/ghost", "a.txt", b"x").status_code == 404


def test_upload_stores_the_content_once_by_its_hash(client, dataset, home):
    response = upload(client, dataset, "notes.txt", b"some notes")

    digest = hashlib.sha256(b"some notes").hexdigest()
    assert response.status_code == 200
    assert response.json() == {"filename": "notes.txt", "hash": digest, "processed": False, "skipped": False}
    assert stored_files(home) == [home / "projects" / "files" / digest[:2] / digest]
    assert stored_files(home)[0].read_bytes() == b"some notes"


def test_same_content_in_the_same_dataset_is_skipped_without_a_second_copy(client, dataset, home):
    upload(client, dataset, "notes.txt", b"same bytes")

    again = upload(client, dataset, "renamed.txt", b"same bytes")

    assert again.status_code == 200
    assert again.json()["skipped"] is True and again.json()["processed"] is False
    assert DatasetFile.objects.count() == 1 and StoredFile.objects.count() == 1
    assert len(stored_files(home)) == 1


def test_same_content_in_two_datasets_is_stored_once(client, dataset, home):
    client.post(
        f"{BASE}/datasets", {"name": "more", "data_processing_strategy": "universal_processor"}, "application/json"
    )

    upload(client, dataset, "a.txt", b"shared")
    second = upload(client, f"{BASE}/datasets/more", "a.txt", b"shared")

    assert second.json()["skipped"] is False
    assert DatasetFile.objects.count() == 2 and len(stored_files(home)) == 1


def test_upload_past_the_limit_is_413_and_leaves_nothing(client, dataset, home, settings):
    settings.MODELYARD_PROJECTS_MAX_UPLOAD_MB = 1

    response = upload(client, dataset, "big.bin", b"\0" * (MB + 1))

    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert stored_files(home) == []
    assert not StoredFile.objects.exists() and not DatasetFile.objects.exists()


def test_body_declared_past_the_upload_ceiling_is_413_before_it_is_read(client, dataset, home, settings):
    settings.MODELYARD_MAX_UPLOAD_BYTES = 1000
    settings.MODELYARD_MAX_BODY_BYTES = 1000

    response = upload(client, dataset, "big.bin", b"\0" * 5000)

    assert response.status_code == 413
    assert stored_files(home) == []


def test_missing_file_field_is_422(client, dataset):
    response = client.post(f"{dataset}/data", {"other": SimpleUploadedFile("a.txt", b"x")})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_20_mb_upload_streams_to_disk_with_flat_memory(rf, dataset, home):
    content = os.urandom(20 * MB)
    digest = hashlib.sha256(content).hexdigest()
    request = rf.post(f"{dataset}/data", {"file": SimpleUploadedFile("big.bin", content)})  # body built before tracing
    del content

    tracemalloc.start()
    try:
        response = DatasetUploadView.as_view()(request, namespace="my-org", project="chatbot", dataset="docs")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 200, response.data
    assert response.data["hash"] == digest
    assert peak < 4 * MB, f"upload handling allocated {peak / MB:.1f} MB at its peak"
    (stored,) = stored_files(home)
    assert stored.stat().st_size == 20 * MB and stored.name == digest


def test_removing_a_file_keeps_its_bytes_unless_asked(client, dataset, home, django_capture_on_commit_callbacks):
    digest = upload(client, dataset, "a.txt", b"to remove").json()["hash"]
    other = upload(client, dataset, "b.txt", b"to remove from disk").json()["hash"]

    kept = client.delete(f"{dataset}/data/{digest}")
    with django_capture_on_commit_callbacks(execute=True):
        removed = client.delete(f"{dataset}/data/{other}?remove_from_disk=true")

    assert kept.status_code == 200 and kept.json() == {"file_hash": digest}
    assert removed.status_code == 200 and removed.json() == {"file_hash": other}
    assert [path.name for path in stored_files(home)] == [digest]
    assert client.get(f"{BASE}/datasets").json()["datasets"][0]["files"] == []


def test_removing_from_disk_keeps_bytes_another_dataset_holds(
    client, dataset, home, django_capture_on_commit_callbacks
):
    client.post(
        f"{BASE}/datasets", {"name": "more", "data_processing_strategy": "universal_processor"}, "application/json"
    )
    digest = upload(client, dataset, "a.txt", b"shared").json()["hash"]
    upload(client, f"{BASE}/datasets/more", "a.txt", b"shared")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"{dataset}/data/{digest}?remove_from_disk=true")

    assert response.status_code == 200
    assert [path.name for path in stored_files(home)] == [digest]


def test_removing_an_unknown_hash_is_404(client, dataset):
    response = client.delete(f"{dataset}/data/{'0' * 64}")

    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


def test_deleting_a_dataset_removes_its_files_and_answers_it(client, dataset, home, django_capture_on_commit_callbacks):
    digest = upload(client, dataset, "a.txt", b"bytes").json()["hash"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(dataset)

    assert response.status_code == 200
    assert response.json() == {
        "dataset": {
            "name": "docs",
            "database": "main_database",
            "data_processing_strategy": "universal_processor",
            "files": [digest],
        }
    }
    assert client.get(f"{BASE}/datasets").json() == {"total": 0, "datasets": []}
    assert stored_files(home) == []


def test_a_very_long_filename_is_shortened_keeping_its_extension(client, dataset):
    response = upload(client, dataset, "n" * 300 + ".pdf", b"%PDF-1.4 not really")

    assert response.status_code == 200
    assert len(response.json()["filename"]) == 255 and response.json()["filename"].endswith("nn.pdf")
