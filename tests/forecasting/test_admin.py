"""Forecasting in the admin: the registry with its checkpoints and a pull action that starts a
download job, installed models, and fine-tunes with their progress."""

import pytest

from apps.core import jobs
from apps.forecasting.models import FineTune, ForecastModel, InstalledForecastModel
from apps.modelstore.models import DOWNLOAD_JOB_KIND

pytestmark = pytest.mark.django_db


def test_the_registry_lists_every_model_and_shows_its_checkpoints_with_variants(admin_client):
    listing = admin_client.get("/admin/forecasting/forecastmodel/")
    toto = ForecastModel.objects.get(name="toto")
    page = admin_client.get(f"/admin/forecasting/forecastmodel/{toto.pk}/change/")

    assert listing.status_code == 200 and listing.context["cl"].result_count == 4
    assert page.status_code == 200
    assert b"Datadog/Toto-2.0-2.5B" in page.content and b"Datadog/Toto-Open-Base-1.0" in page.content
    assert admin_client.get("/admin/forecasting/forecastcheckpoint/", {"q": "bolt"}).context["cl"].result_count == 4


def test_the_pull_action_starts_a_download_job(admin_client, forecast_store):
    chronos2 = ForecastModel.objects.get(name="chronos2")

    response = admin_client.post(
        "/admin/forecasting/forecastmodel/",
        {"action": "pull_default", "_selected_action": [chronos2.pk]},
        follow=True,
    )

    assert response.status_code == 200
    installed = InstalledForecastModel.objects.get(name="chronos2")
    assert installed.job.kind == DOWNLOAD_JOB_KIND
    assert f"download job {installed.job.id}" in response.content.decode()
    assert admin_client.get("/admin/forecasting/installedforecastmodel/").context["cl"].result_count == 1


def test_fine_tunes_show_their_state_and_progress(admin_client):
    job = jobs.job_enqueue(kind="forecasting.finetune", func="apps.forecasting.tasks.finetune_model", params={})
    job.progress_current, job.progress_total, job.state = 3, 12, "STARTED"
    job.save()
    FineTune.objects.create(job=job, output_model="my-model", data_path="/data/cpu.csv", targets=["cpu"])

    page = admin_client.get("/admin/forecasting/finetune/")

    assert page.status_code == 200
    assert b'<progress max="100" value="25.0"></progress> 3/12' in page.content
    assert b"my-model" in page.content and b'<td class="field-state">running</td>' in page.content
