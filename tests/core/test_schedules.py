"""core.schedules.schedule_ensure: the one way an app keeps a periodic job scheduled."""

import threading

import pytest
from django.db import connection
from django_q.models import Schedule
from django_q.signals import post_spawn

from apps.core.schedules import schedule_ensure, schedule_on_worker_start

FUNC = "apps.nodes.tasks.poll_scheduled"


@pytest.mark.django_db
def test_a_schedule_is_created_once_and_follows_the_minutes_asked_for():
    first = schedule_ensure(name="demo.tick", func=FUNC, minutes=5)
    again = schedule_ensure(name="demo.tick", func=FUNC, minutes=5)
    changed = schedule_ensure(name="demo.tick", func=FUNC, minutes=2)

    assert first.pk == again.pk == changed.pk
    rows = list(Schedule.objects.filter(name="demo.tick").values_list("func", "schedule_type", "minutes", "repeats"))
    assert rows == [(FUNC, Schedule.MINUTES, 2, -1)]


@pytest.mark.django_db
def test_zero_minutes_removes_the_schedule():
    schedule_ensure(name="demo.tick", func=FUNC, minutes=5)

    assert schedule_ensure(name="demo.tick", func=FUNC, minutes=0) is None
    assert not Schedule.objects.filter(name="demo.tick").exists()


@pytest.mark.django_db
def test_duplicate_rows_collapse_to_one():
    for _ in range(3):
        Schedule.objects.create(name="demo.tick", func=FUNC, schedule_type=Schedule.MINUTES, minutes=9)

    schedule_ensure(name="demo.tick", func=FUNC, minutes=3)

    assert list(Schedule.objects.filter(name="demo.tick").values_list("minutes", flat=True)) == [3]


@pytest.mark.django_db
def test_a_wrong_function_path_fails_at_once():
    with pytest.raises(ImportError):
        schedule_ensure(name="demo.tick", func="apps.nodes.tasks.no_such_task", minutes=1)
    assert not Schedule.objects.filter(name="demo.tick").exists()


@pytest.mark.django_db(transaction=True)
def test_workers_starting_together_leave_exactly_one_schedule():
    start = threading.Barrier(6)
    errors = []

    def worker_start() -> None:
        try:
            start.wait()
            schedule_ensure(name="demo.race", func=FUNC, minutes=4)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker_start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Schedule.objects.filter(name="demo.race").count() == 1


@pytest.mark.django_db
def test_an_apps_schedule_follows_its_setting_each_time_a_worker_starts(settings):
    worker_start = schedule_on_worker_start(name="demo.tick", func=FUNC, minutes_setting="MODELYARD_NODES_POLL_MINUTES")
    settings.MODELYARD_NODES_POLL_MINUTES = 7

    worker_start(sender="django_q", proc_name="Process-1")
    assert list(Schedule.objects.filter(name="demo.tick").values_list("minutes", flat=True)) == [7]

    settings.MODELYARD_NODES_POLL_MINUTES = 0
    worker_start(sender="django_q", proc_name="Process-2")
    assert not Schedule.objects.filter(name="demo.tick").exists()

    assert worker_start in post_spawn._live_receivers("django_q")[0]  # django-q2 calls it as workers start
    post_spawn.disconnect(dispatch_uid="core.schedule:demo.tick")


@pytest.mark.django_db
def test_a_worker_starts_even_when_its_schedule_cannot_be_written(caplog):
    worker_start = schedule_on_worker_start(
        name="demo.broken", func="apps.nodes.tasks.no_such_task", minutes_setting="MODELYARD_NODES_POLL_MINUTES"
    )
    post_spawn.disconnect(dispatch_uid="core.schedule:demo.broken")

    worker_start(sender="django_q", proc_name="Process-1")  # no exception

    assert "could not reconcile the schedule demo.broken" in caplog.text
