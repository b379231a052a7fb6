"""Chat grounded in a project's RAG database, on real parts: authored documents (Markdown, HTML, a
PDF) ingested with all-MiniLM-L6-v2 on the real model runtime, questions through the `openai` client.

The non-e2e tests answer with a fake OpenAI-compatible model (its request log shows the context it
was given); the e2e test asks the real SmolLM2 (the rag template's default model) on the runtime.
Assertions are on `rag_sources`, never on a small model's prose."""

import hashlib
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone
from django_q.models import OrmQ

from apps.backends import routing
from apps.backends.local_runtime import local_runtime_register
from apps.backends.models import Backend, Pool, RegisteredModel
from apps.backends.tasks import sync_run
from apps.core.models import Job
from apps.modelstore.models import LocalModel
from apps.projects import services as projects
from apps.projects.models import EventLog, Project
from tests.fakes import inference_models
from tests.fakes.backends_openai import FakeOpenAI
from tests.fakes.servers import free_port, runtime_wait, start_runtime
from tests.inference.conftest import MINILM, SMOLLM2, put_in_store
from tests.projects.chats import configure, endpoint_model, project_openai_client
from tests.projects.runs import run_task
from tests.rag import documents

pytestmark = pytest.mark.django_db

NS, NAME = "acme", "library"
BASE = f"/v1/projects/{NS}/{NAME}"
BUILDERS = {
    "volcanoes.md": documents.markdown_volcanoes,
    "tea.html": documents.html_tea,
    "rail_signalling.pdf": documents.pdf_rail_signalling,
}
TEA = "How hot should the water be when I make a cup from unoxidised leaves?"
VOLCANO = "Why do airlines keep their planes away from an erupting mountain?"
RAIL = "How does the line know electrically that a locomotive is standing on a stretch of it?"


@pytest.fixture(scope="module")
def library(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    """Project acme/library (rag template: MiniLM embeddings, SmolLM2 default model) with BUILDERS'
    documents processed into its main_database on a real runtime, plus a model "echo" on a fake
    OpenAI-compatible server. Committed (module-wide), removed afterwards. Yields file hashes and the fake."""
    root = tmp_path_factory.mktemp("chat_rag")
    started_at = timezone.now()
    with django_db_blocker.unblock():
        queued_before = set(OrmQ.objects.values_list("id", flat=True))
        put_in_store(MINILM, inference_models.minilm_path())
        gguf = inference_models.smollm2_gguf()
        put_in_store(SMOLLM2, {gguf.name: gguf})
        port = free_port()
        runtime = start_runtime(port, root / "runtime.log", keep_loaded=(MINILM,), wait=False)
        fake = FakeOpenAI(name="echo-llm", models=["gpt-4o-mini"]).start()
        runtime_wait(runtime, port, root / "runtime.log")
        settings_override = override_settings(MODELYARD_RUNTIME_PORT=port, MODELYARD_HOME=root / "home")
        settings_override.enable()
        client = Client()
        try:
            local_runtime_register()
            sync_run()
            routing.routing_invalidate()
            routing.routing_health_reset()
            assert client.post(f"/v1/projects/{NS}", {"name": NAME, "config_template": "rag"}, "application/json")
            config = client.get(BASE).json()["project"]["config"]
            configure(
                client,
                BASE,
                models=[*config["runtime"]["models"], endpoint_model(fake, "echo", "gpt-4o-mini")],
                default=config["runtime"]["default_model"],
            )
            dataset = {"name": "reading", "data_processing_strategy": "universal_processor"}
            assert client.post(f"{BASE}/datasets", dataset, "application/json").status_code == 200
            hashes = {}
            for filename, build in BUILDERS.items():
                content = build(root).read_bytes()
                hashes[filename] = hashlib.sha256(content).hexdigest()
                uploaded = client.post(f"{BASE}/datasets/reading/data", {"file": SimpleUploadedFile(filename, content)})
                assert uploaded.status_code == 200, uploaded.content
            accepted = client.post(f"{BASE}/datasets/reading/actions", {"action_type": "process"}, "application/json")
            run_task(accepted.json()["task_id"])
            assert Job.objects.get(pk=accepted.json()["task_id"]).state == "SUCCESS"
            yield {"hashes": hashes, "fake": fake}
        finally:
            runtime.kill()
            runtime.wait(timeout=30)
            fake.stop()
            project = Project.objects.filter(namespace=NS, name=NAME).first()
            if project is not None:
                projects.project_delete(project=project)
            settings_override.disable()
            Backend.objects.filter(type="local").delete()
            Pool.objects.filter(name="default").delete()
            RegisteredModel.objects.filter(model__in=[MINILM, SMOLLM2]).delete()
            LocalModel.objects.filter(model_id__in=[MINILM, SMOLLM2]).delete()
            Job.objects.filter(created_at__gte=started_at).delete()
            OrmQ.objects.exclude(id__in=queued_before).delete()
            routing.routing_invalidate()


@pytest.fixture
def chat_client(library):
    library["fake"].clear_log()
    return project_openai_client(BASE)


def ask(chat_client, question: str, *, model: str = "echo", **extra):
    raw = chat_client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": question}], **extra
    )
    return raw.headers.get("X-Session-ID"), raw.parse()


def test_rag_sources_name_the_document_that_answers_and_the_context_reaches_the_model(library, chat_client):
    _session, answer = ask(chat_client, TEA, extra_body={"rag_top_k": 3})

    sources = answer.model_extra["rag_sources"]
    assert 1 <= len(sources) <= 3
    top = sources[0]
    assert (top["filename"], top["document_id"]) == ("tea.html", library["hashes"]["tea.html"])
    assert top["chunk_id"] and top["excerpt"] and top["score"] == max(source["score"] for source in sources)
    (request,) = library["fake"].requests_to("/v1/chat/completions")
    *_, context, question = request.json["messages"]
    assert question == {"role": "user", "content": TEA}
    assert context["role"] == "system" and "[1] tea.html" in context["content"]


def test_the_rag_context_is_not_written_into_the_session_history(library, chat_client, client):
    session_id, answer = ask(chat_client, TEA)

    history = client.get(f"{BASE}/chat/sessions/{session_id}/history").json()["messages"]
    assert history == [
        {"role": "user", "content": TEA},
        {"role": "assistant", "content": answer.choices[0].message.content},
    ]


def test_several_rag_queries_are_merged_deduplicated_sorted_and_cut_to_rag_top_k(library, chat_client):
    _session, answer = ask(
        chat_client, "Compare the two subjects", extra_body={"rag_queries": [VOLCANO, RAIL, VOLCANO], "rag_top_k": 4}
    )

    sources = answer.model_extra["rag_sources"]
    assert len(sources) == 4
    assert {"volcanoes.md", "rail_signalling.pdf"} <= {source["filename"] for source in sources}
    assert len({source["chunk_id"] for source in sources}) == 4
    assert [source["score"] for source in sources] == sorted((source["score"] for source in sources), reverse=True)
    event = EventLog.objects.filter(type="inference").latest("timestamp")
    steps = {sub.name: sub.data for sub in event.sub_events.all()}
    assert steps["rag_query_start"]["queries"] == [VOLCANO, RAIL, VOLCANO]
    assert [chunk["chunk_id"] for chunk in steps["retrieval_complete"]["top_chunks"]] == [
        source["chunk_id"] for source in sources
    ]


def test_rag_disabled_or_nothing_above_the_threshold_sends_no_context(library, chat_client):
    _session, off = ask(chat_client, TEA, extra_body={"rag_enabled": False})
    _session, none = ask(chat_client, TEA, extra_body={"rag_score_threshold": 0.99})

    assert off.model_extra["rag_sources"] == [] and none.model_extra["rag_sources"] == []
    for request in library["fake"].requests_to("/v1/chat/completions"):
        assert [message["role"] for message in request.json["messages"]] == ["system", "user"]  # the prompt only


def test_an_unknown_database_is_404_naming_the_projects_databases(library, client):
    body = {"messages": [{"role": "user", "content": TEA}], "database": "archive"}

    response = client.post(f"{BASE}/chat/completions", body, "application/json")

    assert response.status_code == 404
    assert response.json()["detail"] == "Database 'archive' not found in project acme/library; databases: main_database"


@pytest.mark.e2e
@pytest.mark.ml
def test_smollm2_on_the_runtime_answers_grounded_in_the_right_document(library, chat_client):
    session_id, answer = ask(chat_client, VOLCANO, model="", max_tokens=16, temperature=0, extra_body={"rag_top_k": 3})

    assert answer.model == SMOLLM2
    assert answer.choices[0].message.content.strip()
    assert answer.model_extra["rag_sources"][0]["filename"] == "volcanoes.md"
    assert session_id
