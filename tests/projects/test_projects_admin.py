"""The projects admin: configs as YAML validated on save, datasets with their files, deletes through services."""

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.projects.models import Dataset, Project, StoredFile
from tests.projects.conftest import stored_files

pytestmark = pytest.mark.django_db


def test_adding_a_project_in_the_admin_uses_the_template(admin_client, home):
    response = admin_client.post(
        "/admin/projects/project/add/",
        {
            "namespace": "acme",
            "name": "docs",
            "template": "rag",
            "datasets-TOTAL_FORMS": 0,
            "datasets-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    project = Project.objects.get(namespace="acme", name="docs")
    assert project.config["rag"]["default_database"] == "main_database"


def test_the_config_is_shown_as_yaml_and_an_invalid_edit_is_refused_with_its_path(admin_client, make_project):
    make_project()
    project = Project.objects.get()
    page = admin_client.get(f"/admin/projects/project/{project.pk}/change/")
    config = yaml.safe_load(page.context["adminform"].form.initial["config_yaml"])
    assert config["rag"]["databases"][0]["name"] == "main_database"

    config["rag"]["databases"][0]["type"] = "MongoStore"
    refused = admin_client.post(
        f"/admin/projects/project/{project.pk}/change/",
        {"config_yaml": yaml.safe_dump(config), "datasets-TOTAL_FORMS": 0, "datasets-INITIAL_FORMS": 0},
    )

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.non_field_errors()
    assert any(error.startswith("rag.databases[0].type: 'MongoStore'") for error in errors)
    project.refresh_from_db()
    assert project.config["rag"]["databases"][0]["type"] == "ChromaStore"


def test_a_valid_yaml_edit_is_saved(admin_client, make_project):
    make_project()
    project = Project.objects.get()
    config = yaml.safe_load(
        admin_client.get(f"/admin/projects/project/{project.pk}/change/")
        .context["adminform"]
        .form.initial["config_yaml"]
    )
    config["datasets"] = [{"name": "docs", "database": "main_database"}]

    saved = admin_client.post(
        f"/admin/projects/project/{project.pk}/change/",
        {"config_yaml": yaml.safe_dump(config), "datasets-TOTAL_FORMS": 0, "datasets-INITIAL_FORMS": 0},
    )

    assert saved.status_code == 302
    assert Dataset.objects.get().data_processing_strategy == "universal_processor"


def test_dataset_pages_list_files_and_deleting_a_project_removes_its_files(
    admin_client, client, make_project, home, django_capture_on_commit_callbacks
):
    make_project()
    client.post(
        "/v1/projects/my-org/chatbot/datasets",
        {"name": "docs", "data_processing_strategy": "universal_processor"},
        "application/json",
    )
    client.post("/v1/projects/my-org/chatbot/datasets/docs/data", {"file": SimpleUploadedFile("a.txt", b"hello")})
    dataset = Dataset.objects.get()

    assert b"a.txt" in admin_client.get(f"/admin/projects/dataset/{dataset.pk}/change/").content
    assert b"a.txt" in admin_client.get("/admin/projects/storedfile/").content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/projects/project/",
            {"action": "delete_selected", "_selected_action": [Project.objects.get().pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert not Project.objects.exists() and not StoredFile.objects.exists()
    assert stored_files(home) == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/projects/project/987654/rag/",  # a missing project
        "/admin/projects/project/abc/rag/",  # not an id: the admin's own redirect to the change view
        "/admin/projects/dataset/progress/00000000-0000-0000-0000-000000000000/",  # a missing run
        "/admin/projects/dataset/progress/not-a-uuid/",
    ],
)
def test_a_custom_admin_page_of_a_missing_object_redirects_with_a_message_never_500(admin_client, home, url):
    response = admin_client.get(url, follow=True)

    assert response.status_code == 200 and response.redirect_chain
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1 and ("doesn’t exist" in messages[0] or "No dataset run" in messages[0]), messages
