"""`clean` selects the same models in a dry run and a real run (issue 10, D2): a model whose
download is queued or running is in neither."""

from pathlib import Path

import pytest

from apps.core.models import Job
from apps.modelstore import locks
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel

pytestmark = pytest.mark.django_db


def clean(client, **body) -> dict:
    response = client.post("/api/v1/clean", body, content_type="application/json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_model_being_re_downloaded_is_in_neither_the_dry_run_nor_the_real_run(client, stored):
    busy = stored("org/busy", source="huggingface")
    idle = stored("org/idle", source="huggingface")

    with locks.model_lock("huggingface", "org/busy"):  # a forced re-download writing its folder
        dry = clean(client, all=True, dry_run=True)
        real = clean(client, all=True)

    expected = {"removed": 1, "freed_bytes": idle.size_bytes, "models": ["huggingface/org/idle"]}
    assert dry == {**expected, "dry_run": True}
    assert real == {**expected, "dry_run": False}
    assert Path(busy.path).exists()
    assert list(LocalModel.objects.values_list("model_id", flat=True)) == ["org/busy"]


@pytest.mark.parametrize("state", [Job.State.PENDING, Job.State.STARTED])
def test_a_model_with_a_queued_or_running_download_job_is_left_alone(client, stored, state):
    busy = stored("org/busy", source="huggingface")
    Job.objects.create(
        kind=DOWNLOAD_JOB_KIND,
        func="apps.modelstore.tasks.download_model",
        params={"source": "huggingface", "model_id": "org/busy", "include_patterns": None, "force": True},
        owner_ref="huggingface/org/busy",
        state=state,
    )

    dry = clean(client, all=True, dry_run=True)
    real = clean(client, unused=True, days=0)

    assert dry == {"removed": 0, "freed_bytes": 0, "dry_run": True, "models": []}
    assert real == {"removed": 0, "freed_bytes": 0, "dry_run": False, "models": []}
    assert Path(busy.path).exists()


def test_a_finished_download_job_does_not_protect_a_model(client, stored):
    model = stored("org/done", source="huggingface")
    Job.objects.create(kind=DOWNLOAD_JOB_KIND, func="x", owner_ref="huggingface/org/done", state=Job.State.SUCCESS)

    assert clean(client, all=True, dry_run=True)["models"] == ["huggingface/org/done"]
    assert clean(client, all=True)["models"] == ["huggingface/org/done"]
    assert not Path(model.path).exists()
