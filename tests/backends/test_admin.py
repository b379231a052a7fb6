"""The backends admin: usable lists, inline pool membership, a sync action, a periodic schedule."""

import pytest
from django_q.models import Schedule

from apps.backends import services
from apps.backends.models import Backend
from apps.backends.signals import schedule_backend_sync
from apps.core.models import Job

pytestmark = pytest.mark.django_db


def test_the_backend_list_change_page_and_sync_action_work(admin_client):
    backend = services.backend_create(name="ollama-a", base_url="http://127.0.0.1:1", type="ollama")
    pool = services.pool_create(name="chat", purpose_type="Internal Tasks")
    services.pool_backend_assign(pool_id=pool.id, backend_id=backend.id)

    listing = admin_client.get("/admin/backends/backend/")
    change = admin_client.get(f"/admin/backends/backend/{backend.id}/change/")
    synced = admin_client.post(
        "/admin/backends/backend/", {"action": "sync_now", "_selected_action": [backend.pk]}, follow=True
    )

    assert listing.status_code == 200 and b"ollama-a" in listing.content
    assert change.status_code == 200 and b"chat" in change.content  # inline pool membership
    assert synced.status_code == 200
    assert Job.objects.filter(kind="backends.sync").exists()


@pytest.mark.parametrize("path", ["pool", "registeredmodel", "providerconfig", "runtimesettings", "pullhold"])
def test_every_backends_admin_page_loads(admin_client, path):
    assert admin_client.get(f"/admin/backends/{path}/").status_code == 200
    assert admin_client.get(f"/admin/backends/{path}/add/").status_code == 200


def test_a_provider_key_saved_in_the_admin_is_encrypted(admin_client):
    admin_client.post("/admin/backends/providerconfig/add/", {"type": "openai", "api_key": "sk-admin-key-9999"})
    config = services.provider_config_get(type="openai")
    assert "sk-admin" not in config.api_key_encrypted
    assert services.provider_config_masked(config) == {"Type": "openai", "APIKey": "sk-…9999"}


def test_workers_keep_the_sync_schedule_at_the_configured_interval(settings):
    settings.MODELYARD_BACKEND_SYNC_MINUTES = 5
    schedule_backend_sync(sender="django_q", proc_name="Process-1")
    schedule_backend_sync(sender="django_q", proc_name="Process-2")

    schedule = Schedule.objects.get(name="backends.sync")
    assert (schedule.func, schedule.minutes, Schedule.objects.count()) == ("apps.backends.tasks.sync_backends", 5, 1)
    assert Backend.objects.count() == 0


def test_zero_sync_minutes_switches_the_sync_schedule_off(settings):
    schedule_backend_sync(sender="django_q", proc_name="Process-1")
    settings.MODELYARD_BACKEND_SYNC_MINUTES = 0

    schedule_backend_sync(sender="django_q", proc_name="Process-2")

    assert not Schedule.objects.filter(name="backends.sync").exists()
