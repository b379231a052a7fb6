"""The example projects we ship (`apps/projects/examples/`) and the spec's Examples API over them:
listing with real sizes, their datasets, and importing one as a project, as data into a project,
or one dataset at a time, with `process` starting the dataset runs."""

import hashlib
import time
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings

from apps.core.models import Job
from apps.projects import examples
from apps.projects.config import config_normalize, config_validate
from apps.projects.models import Project
from apps.projects.processing import DATASET_PROCESS_KIND
from apps.rag.parsers import document_read
from tests.fakes.servers import free_port, start_live_server
from tests.projects.example_pdfs import PDFS

pytestmark = pytest.mark.django_db

EXAMPLES_DIR = Path(examples.__file__).with_name("examples")
EXAMPLE_IDS = ["bike_share_ops", "coffee_roasting"]


def manifest(example_id: str) -> dict:
    return yaml.safe_load((EXAMPLES_DIR / example_id / "manifest.yaml").read_text())


def example_files(example_id: str) -> list[Path]:
    return [
        EXAMPLES_DIR / example_id / path for dataset in manifest(example_id)["datasets"] for path in dataset["files"]
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def post(client, path: str, body: dict):
    return client.post(path, body, "application/json")


# --- the examples themselves -------------------------------------------------------------------------


@pytest.mark.parametrize("example_id", EXAMPLE_IDS)
def test_each_example_config_is_valid_and_uses_the_runtime_defaults(example_id):
    config = yaml.safe_load((EXAMPLES_DIR / example_id / "llamafarm.yaml").read_text())

    config_validate(config_normalize(config))
    model = config["runtime"]["models"][0]
    assert (model["provider"], model["model"]) == ("universal", settings.MODELYARD_DEFAULT_MODEL)
    for database in config["rag"]["databases"]:
        embedder = database["embedding_strategies"][0]
        assert (embedder["type"], embedder["config"]["model"]) == ("UniversalEmbedder", settings.MODELYARD_EMBED_MODEL)
    assert manifest(example_id)["primaryModel"] == settings.MODELYARD_DEFAULT_MODEL


@pytest.mark.parametrize("example_id", EXAMPLE_IDS)
def test_each_example_has_markdown_pdf_and_csv_that_its_own_strategy_reads(example_id):
    config = yaml.safe_load((EXAMPLES_DIR / example_id / "llamafarm.yaml").read_text())
    strategies = {strategy["name"]: strategy for strategy in config["rag"]["data_processing_strategies"]}
    files = example_files(example_id)

    assert {path.suffix for path in files} >= {".md", ".pdf", ".csv"}
    assert len(files) >= 4
    for dataset in manifest(example_id)["datasets"]:
        parsers = strategies[dataset["strategy"]]["parsers"]
        for relative in dataset["files"]:
            path = EXAMPLES_DIR / example_id / relative
            read = document_read(path=path, filename=path.name, parsers=parsers)
            assert read.chunks and all(chunk.text.strip() for chunk in read.chunks), relative


def test_the_committed_pdfs_hold_the_pages_their_generator_writes():
    from pypdf import PdfReader

    for example_id, filename, _title, pages in PDFS:
        reader = PdfReader(EXAMPLES_DIR / example_id / "files" / filename)
        assert len(reader.pages) == len(pages)
        for page, (heading, paragraphs) in zip(reader.pages, pages, strict=True):
            text = " ".join(page.extract_text().split())
            assert heading in text
            assert " ".join(paragraphs[0].split()[:12]) in text


def test_size_human_writes_sizes_as_the_spec_does():
    assert examples.size_human(2_097_152) == "2.0MB"
    assert examples.size_human(4096) == "4.0KB"
    assert examples.size_human(512) == "512B"
    assert examples.size_human(1536) == "1.5KB"


# --- listing -----------------------------------------------------------------------------------------


def test_examples_list_answers_every_example_with_its_real_sizes_on_disk(client):
    response = client.get("/v1/examples")

    assert response.status_code == 200
    listed = {entry["id"]: entry for entry in response.json()["examples"]}
    assert set(EXAMPLE_IDS) <= set(listed)
    for example_id in EXAMPLE_IDS:
        entry, source = listed[example_id], manifest(example_id)
        data_bytes = sum(path.stat().st_size for path in set(example_files(example_id)))
        project_bytes = sum(
            (EXAMPLES_DIR / example_id / name).stat().st_size for name in ("manifest.yaml", "llamafarm.yaml")
        )
        assert entry == {
            "id": example_id,
            "slug": source["slug"],
            "title": source["title"],
            "description": source["description"],
            "primaryModel": source["primaryModel"],
            "tags": source["tags"],
            "dataset_count": len(source["datasets"]),
            "data_size_bytes": data_bytes,
            "data_size_human": examples.size_human(data_bytes),
            "project_size_bytes": project_bytes,
            "project_size_human": examples.size_human(project_bytes),
            "updated_at": source["updated_at"],
        }
        assert entry["data_size_human"].endswith("KB") and 4096 < data_bytes < 64 * 1024


def test_example_datasets_lists_each_dataset_with_its_files_and_size(client):
    response = client.get("/v1/examples/bike_share_ops/datasets")

    assert response.status_code == 200
    datasets = {entry["name"]: entry for entry in response.json()["datasets"]}
    assert set(datasets) == {"handbook", "stations"}
    handbook = datasets["handbook"]
    assert handbook["files"] == [
        "files/rebalancing.md",
        "files/station_maintenance.md",
        "files/incidents_and_safety.pdf",
    ]
    assert (handbook["database"], handbook["strategy"], handbook["file_count"]) == (
        "bikeshare_db",
        "handbook_processor",
        3,
    )
    assert handbook["size_bytes"] == sum(
        (EXAMPLES_DIR / "bike_share_ops" / f).stat().st_size for f in handbook["files"]
    )
    assert handbook["example_title"] == manifest("bike_share_ops")["title"]


def test_an_unknown_example_is_404_naming_the_examples(client):
    response = client.get("/v1/examples/no_such_example/datasets")

    assert response.status_code == 404
    assert "no_such_example" in response.json()["detail"] and "coffee_roasting" in response.json()["detail"]
    imported = post(client, "/v1/examples/no_such_example/import-project", {"namespace": "acme", "name": "x"})
    assert imported.status_code == 404
    assert not Project.objects.exists()


# --- import as a project -------------------------------------------------------------------------------


def test_import_project_creates_the_project_with_its_datasets_files_and_runs(client, home):
    response = post(
        client, "/v1/examples/bike_share_ops/import-project", {"namespace": "acme", "name": "bikes", "process": True}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["project"], body["namespace"], body["datasets"]) == ("bikes", "acme", ["handbook", "stations"])
    project = client.get("/v1/projects/acme/bikes").json()["project"]
    assert (project["config"]["name"], project["config"]["namespace"]) == ("bikes", "acme")
    assert project["config"]["rag"]["default_database"] == "bikeshare_db"
    datasets = {entry["name"]: entry for entry in client.get("/v1/projects/acme/bikes/datasets").json()["datasets"]}
    for entry in manifest("bike_share_ops")["datasets"]:
        files = [EXAMPLES_DIR / "bike_share_ops" / relative for relative in entry["files"]]
        assert datasets[entry["name"]]["files"] == [sha256(path) for path in files]
        names = [detail["original_filename"] for detail in datasets[entry["name"]]["details"]["file_details"]]
        assert names == [path.name for path in files]
    # Stored as uploads are: content-addressed under the data dir, nothing left in the upload area.
    for path in example_files("bike_share_ops"):
        digest = sha256(path)
        assert (home / "projects" / "files" / digest[:2] / digest).read_bytes() == path.read_bytes()
    assert not list((home / "projects" / "files" / "incoming").iterdir())
    # One dataset run per dataset, over that dataset's files, answered by the project's task view.
    assert len(body["task_ids"]) == 2
    runs = [Job.objects.get(pk=task_id) for task_id in body["task_ids"]]
    assert [run.kind for run in runs] == [DATASET_PROCESS_KIND] * 2
    assert [run.params["dataset"] for run in runs] == ["handbook", "stations"]
    assert [len(run.params["files"]) for run in runs] == [3, 1]
    task = client.get(f"/v1/projects/acme/bikes/tasks/{body['task_ids'][0]}")
    assert task.status_code == 200 and task.json()["state"] == "PENDING"


def test_import_project_without_process_starts_nothing(client, home):
    response = post(
        client, "/v1/examples/coffee_roasting/import-project", {"namespace": "acme", "name": "coffee", "process": False}
    )

    assert response.status_code == 200, response.content
    assert response.json()["task_ids"] == []
    assert not Job.objects.filter(kind=DATASET_PROCESS_KIND).exists()
    datasets = client.get("/v1/projects/acme/coffee/datasets").json()["datasets"]
    assert [(entry["name"], len(entry["files"])) for entry in datasets] == [("roasting_guide", 4)]


def test_import_project_over_an_existing_project_is_409_and_changes_nothing(client, home, make_project):
    make_project("coffee", namespace="acme", template="server")
    before = client.get("/v1/projects/acme/coffee").json()
    jobs_before = Job.objects.count()  # other packages' live servers may have left committed jobs

    response = post(client, "/v1/examples/coffee_roasting/import-project", {"namespace": "acme", "name": "coffee"})

    assert response.status_code == 409
    assert "acme/coffee" in response.json()["detail"]
    assert client.get("/v1/projects/acme/coffee").json() == before
    assert Job.objects.count() == jobs_before


@pytest.mark.parametrize(
    "body",
    [
        {"namespace": "acme"},
        {"namespace": "acme", "name": "bad name!"},
        {"namespace": "acme", "name": "x", "process": "maybe"},
    ],
)
def test_import_project_with_a_bad_body_is_422_naming_the_field(client, home, body):
    response = post(client, "/v1/examples/coffee_roasting/import-project", body)

    assert response.status_code == 422
    field = "process" if "process" in body else "name"
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert not Project.objects.exists()


# --- import into an existing project --------------------------------------------------------------------


def test_import_data_adds_the_examples_databases_strategies_and_datasets(client, home, make_project):
    make_project("kitchen", namespace="acme", template="rag")

    response = post(
        client,
        "/v1/examples/coffee_roasting/import-data",
        {"namespace": "acme", "project": "kitchen", "include_strategies": True, "process": True},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["project"], body["namespace"], body["datasets"], len(body["task_ids"])) == (
        "kitchen",
        "acme",
        ["roasting_guide"],
        1,
    )
    rag = client.get("/v1/projects/acme/kitchen").json()["project"]["config"]["rag"]
    # The project's own database stays the default; the example's is added beside it.
    assert [database["name"] for database in rag["databases"]] == ["main_database", "coffee_db"]
    assert rag["default_database"] == "main_database"
    assert [strategy["name"] for strategy in rag["data_processing_strategies"]] == [
        "universal_processor",
        "guide_processor",
    ]
    datasets = client.get("/v1/projects/acme/kitchen/datasets").json()["datasets"]
    assert [(entry["name"], entry["database"], len(entry["files"])) for entry in datasets] == [
        ("roasting_guide", "coffee_db", 4)
    ]

    again = post(
        client,
        "/v1/examples/coffee_roasting/import-data",
        {"namespace": "acme", "project": "kitchen", "process": False},
    )
    assert again.status_code == 200 and again.json()["task_ids"] == []
    datasets = client.get("/v1/projects/acme/kitchen/datasets").json()["datasets"]
    assert [len(entry["files"]) for entry in datasets] == [4]  # the same files, kept once


def test_import_data_without_strategies_into_a_project_lacking_them_is_404_and_changes_nothing(
    client, home, make_project
):
    make_project("plain", namespace="acme", template="rag")
    before = client.get("/v1/projects/acme/plain").json()

    response = post(
        client,
        "/v1/examples/coffee_roasting/import-data",
        {"namespace": "acme", "project": "plain", "include_strategies": False},
    )

    assert response.status_code == 404
    assert "coffee_db" in response.json()["detail"] and "main_database" in response.json()["detail"]
    assert client.get("/v1/projects/acme/plain").json() == before
    assert client.get("/v1/projects/acme/plain/datasets").json()["datasets"] == []


def test_import_data_into_an_unknown_project_is_404(client, home):
    response = post(client, "/v1/examples/coffee_roasting/import-data", {"namespace": "acme", "project": "nope"})

    assert response.status_code == 404
    assert "acme/nope" in response.json()["detail"]


def test_import_dataset_adds_one_dataset_under_its_target_name(client, home, make_project):
    make_project("ops", namespace="acme", template="server")

    response = post(
        client,
        "/v1/examples/bike_share_ops/import-dataset",
        {"namespace": "acme", "project": "ops", "dataset": "stations", "target_dataset": "station_list"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["dataset"], body["file_count"]) == ("station_list", 1)
    assert Job.objects.get(pk=body["task_id"]).params["files"][0]["filename"] == "stations.csv"
    datasets = client.get("/v1/projects/acme/ops/datasets").json()["datasets"]
    assert [(entry["name"], entry["database"], entry["data_processing_strategy"]) for entry in datasets] == [
        ("station_list", "bikeshare_db", "handbook_processor")
    ]

    unknown = post(
        client, "/v1/examples/bike_share_ops/import-dataset", {"namespace": "acme", "project": "ops", "dataset": "nope"}
    )
    assert unknown.status_code == 404
    assert "handbook" in unknown.json()["detail"] and "stations" in unknown.json()["detail"]


# --- end to end: imported, ingested with MiniLM on the workers, and retrieving the right document -------

# (example, question in other words than the document's, the file that answers it)
QUESTIONS = [
    (
        "coffee_roasting",
        "How many days should beans meant for espresso rest after roasting?",
        "green_coffee_and_resting.md",
    ),
    ("coffee_roasting", "What do I do when the beans in my roaster catch fire?", "roaster_safety.pdf"),
    ("coffee_roasting", "At what temperature do the beans start popping for the first time?", "roast_stages.md"),
    ("coffee_roasting", "Which wet-hulled origin tastes of cedar and earth?", "origins.csv"),
    ("bike_share_ops", "What is done with an e-bike battery that got wet or swollen?", "station_maintenance.md"),
    ("bike_share_ops", "When is the bike scheme shut down because of wind or ice?", "incidents_and_safety.pdf"),
    ("bike_share_ops", "How many bikes fit in a van and in a cargo trike?", "rebalancing.md"),
    ("bike_share_ops", "Which station is closed for the farmers' market on Saturday mornings?", "stations.csv"),
]


@pytest.mark.e2e
@pytest.mark.ml
@pytest.mark.django_db(transaction=True)
def test_imported_examples_are_ingested_with_minilm_and_retrieve_the_document_that_answers(tmp_path):
    server = start_live_server(
        tmp_path / "serve.log", MODELYARD_RUNTIME_PORT=str(free_port()), MODELYARD_RUNTIME_REGISTER="true"
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=60)
        deadline = time.monotonic() + 90
        while not any(settings.MODELYARD_EMBED_MODEL in backend["models"] for backend in http.get("/backends").json()):
            assert time.monotonic() < deadline, "the local runtime was not registered with the embedding model"
            time.sleep(0.3)
        tasks = {}
        for example_id in EXAMPLE_IDS:
            imported = http.post(
                f"/v1/examples/{example_id}/import-project", json={"namespace": "demo", "name": example_id}
            )
            assert imported.status_code == 200, imported.text
            tasks[example_id] = imported.json()["task_ids"]
        deadline = time.monotonic() + 180
        for example_id, task_ids in tasks.items():
            for task_id in task_ids:
                while (body := http.get(f"/v1/projects/demo/{example_id}/tasks/{task_id}").json())["state"] in {
                    "PENDING",
                    "STARTED",
                }:
                    assert time.monotonic() < deadline, body
                    time.sleep(0.5)
                assert (body["state"], body["result"]["failed_files"]) == ("SUCCESS", 0), body["result"]
                assert all(detail["chunks"] > 0 for detail in body["result"]["details"])

        for example_id, question, expected in QUESTIONS:
            answer = http.post(f"/v1/projects/demo/{example_id}/rag/query", json={"query": question, "top_k": 3})
            assert answer.status_code == 200, answer.text
            found = [result["metadata"]["filename"] for result in answer.json()["results"]]
            assert found[0] == expected, (question, found)
    finally:
        server.stop()
    assert "Traceback" not in server.log()
