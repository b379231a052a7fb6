"""Buffered event recorders (`event_start(buffered=True)`): the steps of a hot-path operation (a chat
completion) are written together — at `flush` and at the end — instead of one transaction each."""

import asyncio

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.projects.event_logs import event_start
from apps.projects.models import EventLog, Project, SubEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return Project.objects.create(namespace="my-org", name="chatbot", config={})


def inserts(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("INSERT")]


def test_a_buffered_event_is_written_whole_at_its_end_in_two_inserts(project: Project):
    recorder = event_start(project=project, type="inference", data={"model": "fast"}, buffered=True)
    with CaptureQueriesContext(connection) as queries:
        for name in ("request_received", "rag_query_start", "retrieval_complete", "inference_start"):
            recorder.sub(name, step=name)
        asyncio.run(recorder.asub("inference_complete", answer_chars=5))
        assert not EventLog.objects.exists()  # nothing written before the end
        recorder.finish(summary={"model": "fast"}, backend="bench")

    assert len(inserts(queries)) == 2  # the event row, then every sub-event in one statement
    row = EventLog.objects.get(event_id=recorder.event_id)
    assert (row.status, row.type, row.sub_event_count) == ("completed", "inference", 5)
    assert row.data == {"model": "fast", "backend": "bench", "duration_ms": row.duration_ms}
    assert row.summary == {"model": "fast", "duration_ms": row.duration_ms}
    subs = list(row.sub_events.all())
    assert [(sub.ordinal, sub.name) for sub in subs] == [
        (1, "request_received"),
        (2, "rag_query_start"),
        (3, "retrieval_complete"),
        (4, "inference_start"),
        (5, "inference_complete"),
    ]
    assert subs[0].data == {"step": "request_received"} and subs[4].data == {"answer_chars": 5}
    elapsed = [sub.elapsed_ms for sub in subs]
    assert elapsed == sorted(elapsed) and elapsed[-1] <= row.duration_ms
    assert [sub.timestamp for sub in subs] == sorted(sub.timestamp for sub in subs)


def test_a_flush_shows_the_event_running_and_the_failure_numbers_on_after_it(project: Project):
    recorder = event_start(project=project, type="inference", buffered=True)
    recorder.sub("request_received")
    recorder.sub("inference_start")
    recorder.flush()

    row = EventLog.objects.get(event_id=recorder.event_id)
    assert row.status == "running"
    assert [sub.name for sub in row.sub_events.all()] == ["request_received", "inference_start"]

    recorder.sub("first_token")
    assert recorder.fail("the backend closed the stream", stage="stream") is True
    assert recorder.finish() is False  # only the first end counts

    row.refresh_from_db()
    assert row.status == "failed" and row.data["error"] == "the backend closed the stream"
    assert [(sub.ordinal, sub.name) for sub in row.sub_events.all()] == [
        (1, "request_received"),
        (2, "inference_start"),
        (3, "first_token"),
        (4, "failed"),
    ]
    assert row.sub_events.get(name="failed").data == {"error": "the backend closed the stream", "stage": "stream"}


def test_a_buffered_event_deleted_after_its_flush_ends_quietly(project: Project):
    recorder = event_start(project=project, type="inference", buffered=True)
    recorder.sub("request_received")
    recorder.flush()
    EventLog.objects.filter(event_id=recorder.event_id).delete()

    assert recorder.finish(summary={}) is False
    assert not SubEvent.objects.exists()


def test_a_buffered_event_that_cannot_be_written_is_logged_once(caplog: pytest.LogCaptureFixture):
    recorder = event_start(project=Project(namespace="x", name="unsaved"), type="inference", buffered=True)
    recorder.sub("request_received")
    recorder.flush()
    recorder.sub("inference_start")
    assert recorder.finish() is False

    assert not EventLog.objects.exists()
    errors = [record for record in caplog.records if record.name == "apps.projects.event_logs"]
    assert len(errors) == 1 and recorder.event_id in errors[0].getMessage()
