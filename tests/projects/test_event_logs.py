"""Event logs: the recorder (`apps.projects.event_logs`), the two read endpoints, retention and the admin."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_q.models import Schedule

from apps.projects import event_logs, tasks
from apps.projects.event_logs import event_start
from apps.projects.models import EventLog, Project, SubEvent
from apps.projects.signals import ensure_event_logs_prune_schedule

pytestmark = pytest.mark.django_db

EVENT_ID = re.compile(r"^evt_\d{8}_\d{6}_inference_[0-9a-f]{6}$")


@pytest.fixture
def project() -> Project:
    return Project.objects.create(namespace="my-org", name="chatbot", config={})


def test_recorder_writes_the_event_its_timed_sub_events_and_the_finish(project: Project):
    recorder = event_start(project=project, type="inference", data={"model": "smollm2"})
    assert EVENT_ID.match(recorder.event_id)
    row = EventLog.objects.get(event_id=recorder.event_id)
    assert (row.status, row.type, row.data, row.duration_ms) == ("running", "inference", {"model": "smollm2"}, None)

    recorder.sub("request_received", messages=2)
    recorder.sub("inference_start", model="smollm2")
    recorder.finish(summary={"model": "smollm2", "tokens": 7}, tokens={"prompt": 3, "completion": 4, "total": 7})

    row.refresh_from_db()
    assert row.status == "completed"
    assert row.duration_ms is not None and row.duration_ms >= 0
    assert row.summary == {"model": "smollm2", "tokens": 7, "duration_ms": row.duration_ms}
    assert row.data == {
        "model": "smollm2",
        "tokens": {"prompt": 3, "completion": 4, "total": 7},
        "duration_ms": row.duration_ms,
    }
    subs = list(row.sub_events.all())
    assert [(s.ordinal, s.name, s.data) for s in subs] == [
        (1, "request_received", {"messages": 2}),
        (2, "inference_start", {"model": "smollm2"}),
    ]
    assert subs[0].elapsed_ms <= subs[1].elapsed_ms <= row.duration_ms


def test_recorder_fail_adds_a_failed_sub_event_and_ignores_a_later_finish(project: Project):
    recorder = event_start(project=project, type="inference")
    recorder.fail("backend closed the stream", stage="inference")
    recorder.finish(summary={"tokens": 1})

    row = EventLog.objects.get(event_id=recorder.event_id)
    assert row.status == "failed"
    assert row.summary["error"] == "backend closed the stream"
    assert row.data["error"] == "backend closed the stream"
    failed = row.sub_events.get()
    assert (failed.name, failed.data) == ("failed", {"error": "backend closed the stream", "stage": "inference"})


def test_recorder_stores_non_json_values_as_text(project: Project):
    when = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    recorder = event_start(project=project, type="inference", data={"at": when})
    recorder.sub("retrieval_complete", chunks=[{"score": 0.5, "source": object()}])
    row = EventLog.objects.get(event_id=recorder.event_id)
    assert row.data == {"at": "2024-01-15T10:30:00Z"}
    assert row.sub_events.get().data["chunks"][0]["source"].startswith("<object object at")


def test_a_failed_write_is_logged_once_and_never_raised(project: Project, caplog: pytest.LogCaptureFixture):
    recorder = event_start(project=project, type="inference")
    # Drop the table under the recorder's feet (inside the test's transaction, rolled back after).
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT before_drop")
        cursor.execute(f"DROP TABLE {SubEvent._meta.db_table}")
    recorder.sub("request_received")
    recorder.sub("inference_start")
    recorder.finish(summary={})
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK TO SAVEPOINT before_drop")
    errors = [record for record in caplog.records if record.name == "apps.projects.event_logs"]
    assert len(errors) == 1 and recorder.event_id in errors[0].getMessage()


def test_event_start_for_an_unsaved_project_returns_a_quiet_recorder(caplog: pytest.LogCaptureFixture):
    recorder = event_start(project=Project(namespace="x", name="y"), type="rag_processing")
    recorder.sub("task_queued")
    recorder.finish()
    assert recorder.event_id.startswith("evt_") and not EventLog.objects.exists()
    assert len([r for r in caplog.records if r.name == "apps.projects.event_logs"]) == 1


def test_prune_deletes_events_past_the_retention_and_zero_keeps_all(project: Project):
    now = datetime(2024, 3, 1, tzinfo=UTC)
    for days, name in ((40, "old"), (10, "recent")):
        EventLog.objects.create(
            project=project, event_id=f"evt_{name}", type="inference", timestamp=now - timedelta(days=days)
        )
    assert event_logs.event_logs_prune(retention_days=0, now=now) == 0
    assert event_logs.event_logs_prune(retention_days=30, now=now) == 1
    assert list(EventLog.objects.values_list("event_id", flat=True)) == ["evt_recent"]


# --- HTTP ------------------------------------------------------------------------------------------
def make_event(project: Project, event_id: str, type: str, at: datetime, **fields: object) -> EventLog:
    return EventLog.objects.create(project=project, event_id=event_id, type=type, timestamp=at, **fields)


def test_list_is_newest_first_filtered_by_type_and_time_and_paginated(client, project: Project):
    base = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    for minute in range(5):
        kind = "inference" if minute % 2 == 0 else "rag_processing"
        make_event(project, f"evt_{minute}", kind, base + timedelta(minutes=minute), summary={"n": minute})
    make_event(Project.objects.create(namespace="other", name="p"), "evt_other", "inference", base)
    url = "/v1/projects/my-org/chatbot/event_logs"

    body = client.get(url).json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 10, 0)
    assert [e["event_id"] for e in body["events"]] == ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]
    assert body["events"][0] == {
        "event_id": "evt_4",
        "type": "inference",
        "timestamp": "2024-01-15T10:04:00Z",
        "status": "running",
        "summary": {"n": 4},
    }

    body = client.get(url, {"type": "inference", "limit": 2, "offset": 1}).json()
    assert (body["total"], [e["event_id"] for e in body["events"]]) == (3, ["evt_2", "evt_0"])

    window = {"start_time": "2024-01-15T10:01:00Z", "end_time": "2024-01-15T11:03:00+01:00"}
    assert [e["event_id"] for e in client.get(url, window).json()["events"]] == ["evt_3", "evt_2", "evt_1"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start_time": "yesterday"}, "start_time"), ({"limit": 101}, "limit"), ({"limit": 0}, "limit")],
)
def test_list_refuses_a_bad_time_or_limit_with_422_naming_the_field(client, project: Project, params, field):
    response = client.get("/v1/projects/my-org/chatbot/event_logs", params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_list_of_an_unknown_project_is_404(client, project: Project):
    response = client.get("/v1/projects/my-org/nope/event_logs")
    assert response.status_code == 404 and "detail" in response.json()


def test_detail_shows_data_and_sub_events_in_the_spec_field_names(client, project: Project):
    recorder = event_start(project=project, type="inference", data={"model": "smollm2", "messages": [{"role": "user"}]})
    recorder.sub("request_received")
    recorder.sub("inference_complete", tokens=7)
    recorder.finish(summary={"model": "smollm2"}, response={"content": "hi"})

    body = client.get(f"/v1/projects/my-org/chatbot/event_logs/{recorder.event_id}").json()
    assert body["event_id"] == recorder.event_id and body["type"] == "inference" and body["status"] == "completed"
    assert body["data"]["model"] == "smollm2" and body["data"]["response"] == {"content": "hi"}
    assert body["data"]["duration_ms"] == body["duration_ms"] == body["summary"]["duration_ms"]
    first, second = body["sub_events"]
    assert (first["event_name"], second["event_name"], second["data"]) == (
        "request_received",
        "inference_complete",
        {"tokens": 7},
    )
    assert second["duration_ms"] == pytest.approx(second["elapsed_ms"] - first["elapsed_ms"], abs=0.01)


def test_detail_of_an_unknown_event_or_another_projects_is_404(client, project: Project):
    other = Project.objects.create(namespace="other", name="p")
    theirs = event_start(project=other, type="inference").event_id
    for event_id in (theirs, "evt_20240115_103000_inference_abc123"):
        response = client.get(f"/v1/projects/my-org/chatbot/event_logs/{event_id}")
        assert response.status_code == 404 and event_id in response.json()["detail"]


def test_admin_shows_an_event_with_its_sub_events(admin_client, project: Project):
    recorder = event_start(project=project, type="rag_processing")
    recorder.sub("file_processed", filename="notes.md", chunks=3)
    row = EventLog.objects.get(event_id=recorder.event_id)
    page = admin_client.get(f"/admin/projects/eventlog/{row.pk}/change/")
    assert page.status_code == 200
    assert b"file_processed" in page.content and b"notes.md" in page.content
    assert admin_client.get("/admin/projects/eventlog/").status_code == 200


def test_worker_start_schedules_the_pruning_which_applies_the_retention_setting(settings, project: Project):
    settings.MODELYARD_EVENT_LOG_PRUNE_MINUTES = 15
    ensure_event_logs_prune_schedule()
    schedule = Schedule.objects.get(name="projects.event_logs_prune")
    assert (schedule.func, schedule.minutes) == ("apps.projects.tasks.event_logs_prune_scheduled", 15)

    now = datetime.now(UTC)
    make_event(project, "evt_old", "inference", now - timedelta(days=8))
    make_event(project, "evt_new", "inference", now - timedelta(days=6))
    settings.MODELYARD_EVENT_LOG_RETENTION_DAYS = 7
    assert tasks.event_logs_prune_scheduled() == {"deleted": 1}
    assert list(EventLog.objects.values_list("event_id", flat=True)) == ["evt_new"]


# --- several processes adding to one event -------------------------------------------------------
def test_resumed_recorders_number_sub_events_in_order_and_only_the_first_end_counts(project: Project):
    recorder = event_start(project=project, type="rag_processing", data={"files": 2})
    recorder.sub("task_queued")
    one, two = event_logs.event_resume(event_id=recorder.event_id), event_logs.event_resume(event_id=recorder.event_id)
    one.sub("file_processed", hash="a")
    two.sub("file_skipped", hash="b")

    assert one.data == {"files": 2}
    assert one.finish(summary={"processed": 1}, final_sub="processing_complete", processed=1) is True
    assert two.finish(summary={"processed": 9}, final_sub="processing_complete", processed=9) is False
    assert two.fail("too late") is False

    row = EventLog.objects.get(event_id=recorder.event_id)
    assert (row.status, row.summary["processed"], row.data["processed"]) == ("completed", 1, 1)
    assert [(s.ordinal, s.name) for s in row.sub_events.all()] == [
        (1, "task_queued"),
        (2, "file_processed"),
        (3, "file_skipped"),
        (4, "processing_complete"),
    ]
    assert event_logs.sub_events_latest(
        event_id=row.event_id, names=["file_processed", "file_skipped"], key="hash"
    ) == {
        "a": "file_processed",
        "b": "file_skipped",
    }


def test_resuming_an_event_that_is_gone_records_nothing(project: Project):
    recorder = event_logs.event_resume(event_id="evt_20240115_103000_rag_processing_abc123")
    recorder.sub("file_processed")
    assert recorder.finish() is False and not SubEvent.objects.exists()
