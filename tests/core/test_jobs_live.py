"""Jobs in a real `serve` (real qcluster, real embedded PostgreSQL) under injected faults:
a job whose worker went silent is requeued while serving; a database restart is survived."""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest
from django.conf import settings
from django.utils import timezone

from apps.core import jobs
from apps.core.models import Job
from tests.fakes.jobs import wait_for_job
from tests.fakes.servers import LiveServer, embedded_database_restart, start_live_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEARTBEAT_S = 0.5
STALE_S = 3.0


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        live = start_live_server(
            tmp_path_factory.mktemp("jobs-live") / "serve.log",
            MODELYARD_JOB_HEARTBEAT_S=str(HEARTBEAT_S),
            MODELYARD_JOB_STALE_S=str(STALE_S),
        )
    yield live
    live.stop()


def test_a_started_job_with_an_old_heartbeat_and_a_live_unrelated_pid_is_requeued_by_the_running_cluster(server):
    long_ago = timezone.now() - timedelta(minutes=10)
    unrelated = jobs.worker_name()  # this test process: alive, and not running the job
    job = Job.objects.create(
        kind="test",
        func="tests.fakes.jobs.count_steps",
        params={"steps": 1, "pause_s": 0},
        state=Job.State.STARTED,
        worker=unrelated,
        attempts=1,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )

    wait_for_job(job, lambda job: job.worker != unrelated, timeout=STALE_S)  # taken back within the stale window
    job = wait_for_job(job, lambda job: job.is_finished, timeout=30)

    assert (job.state, job.result, job.attempts) == (Job.State.SUCCESS, {"steps": 1}, 2)
    assert job.log[0]["line"] == f"requeued: worker {unrelated} sent no heartbeat for 600s"


def test_a_job_frozen_with_sigstop_while_holding_a_session_lock_is_requeued_and_its_rerun_gets_the_lock(
    server, tmp_path
):
    marker = tmp_path / "first-run"
    name = f"test.frozen.{tmp_path.name}"
    job = jobs.job_enqueue(
        kind="test",
        func="tests.fakes.jobs.hold_a_session_lock",
        params={"name": name, "first_run_marker": str(marker)},
    )
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the job never took its lock"
        time.sleep(0.05)
    frozen_pid = int(marker.read_text())

    os.kill(frozen_pid, signal.SIGSTOP)  # frozen with its idle session holding the lock
    try:
        job = wait_for_job(job, lambda job: job.is_finished, timeout=60)
        time.sleep(0.5)
        frozen_left = psutil.pid_exists(frozen_pid) and psutil.Process(frozen_pid).status() != psutil.STATUS_ZOMBIE
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(frozen_pid, signal.SIGCONT)

    assert (job.state, job.result, job.attempts) == (Job.State.SUCCESS, {"locked": name}, 2)
    assert job.log[0]["line"].startswith(f"requeued: worker {socket.gethostname()}:{frozen_pid} sent no heartbeat")
    assert not frozen_left  # killed, so django-q2 replaced it


def test_a_busy_job_silent_for_longer_than_the_stale_window_is_kept_alive_by_its_heartbeat(server):
    job = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.stay_busy", params={"seconds": 2 * STALE_S})

    job = wait_for_job(job, lambda job: job.is_finished, timeout=30)

    assert (job.state, job.attempts, job.log) == (Job.State.SUCCESS, 1, [])


@pytest.mark.skipif(bool(settings.DATABASE_URL), reason="restarts the embedded PostgreSQL")
def test_a_job_survives_a_database_restart_at_30_percent_without_a_hand_on_the_server(server):
    job = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", params={"steps": 20, "pause_s": 0.3})
    wait_for_job(job, lambda job: job.state == Job.State.STARTED and (job.percent or 0) >= 30, timeout=30)

    embedded_database_restart()

    job = wait_for_job(job, lambda job: job.is_finished, timeout=90, server_log=server.log)
    assert (job.state, job.result, job.error) == (Job.State.SUCCESS, {"steps": 20}, "")
    assert job.attempts in (1, 2)  # it went on, or was requeued once (which counts as an attempt)
    assert "lost the database while" in server.log()  # the fault did reach the running job

    after = jobs.job_enqueue(kind="test", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0})
    after = wait_for_job(after, lambda job: job.is_finished, timeout=60)
    assert after.state == Job.State.SUCCESS  # the cluster still takes new work
