"""`manage.py serve`: refuses an open API on a public address, supervises its worker cluster,
and leaves no process behind (Ctrl-C, or even `kill -9` of serve itself)."""

import os
import signal
import socket
import subprocess
import time

import httpx
import psutil
import pytest

from apps.core import embedded_postgres, jobs
from apps.core.models import Job
from apps.core.processes import RestartBackoff, group_members, sibling_pids
from tests.fakes.servers import LiveServer, database_env, manage, process_tree, start_live_server

pytestmark = pytest.mark.e2e


@pytest.mark.django_db
def test_binding_a_public_address_without_an_api_key_is_refused(subprocess_env):
    result = manage("serve", "--host", "0.0.0.0", env=subprocess_env, timeout=60)

    assert result.returncode != 0
    assert "refusing to bind 0.0.0.0" in result.stderr
    assert "MODELYARD_API_KEY" in result.stderr


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_serve_on_a_data_dir_never_migrated_says_to_migrate_in_one_line_and_exits_1(tmp_path, bind):
    home = tmp_path / "home"
    env = database_env(MODELYARD_HOME=str(home), MODELYARD_BIND=bind, MODELYARD_API_KEY="0123456789abcdef-key")
    env.pop("DATABASE_URL")

    result = manage("serve", env=env, timeout=120)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("CommandError: the database has ")
    assert errors[0].endswith(
        "unapplied migration(s): run `.venv/bin/python manage.py migrate` first, then serve again"
    )
    assert "Traceback" not in result.stderr and "is running" not in result.stdout
    assert not embedded_postgres.is_running(home / "postgres")


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_fresh_data_dir_serves_every_surface_and_ctrl_c_stops_all_of_it(tmp_path):
    home = tmp_path / "home"
    env_overrides = {"MODELYARD_HOME": str(home)}
    env = database_env(**env_overrides)
    env.pop("DATABASE_URL")
    assert manage("migrate", "--noinput", env=env).returncode == 0

    server = start_live_server(tmp_path / "serve.log", DATABASE_URL="", **env_overrides)
    try:
        children = process_tree(server.process.pid)
        node = httpx.get(f"http://127.0.0.1:{server.node_port}/health").json()
        # The forecast surface is served by the model runtime's process, which starts beside daphne.
        forecast = wait_until(
            lambda: health_or_none(f"http://127.0.0.1:{server.forecast_port}/health"), 60, "the forecast surface"
        )
        platform = httpx.get(f"{server.url}/health").json()
    finally:
        exit_code = server.stop()

    assert node["status"] == "ok" and "os" in node["node"]
    assert forecast["status"] == "ok"
    assert platform["status"] == "healthy", platform
    assert len(children) >= 4  # daphne, qcluster and its worker processes
    assert exit_code == 0, server.log()
    time.sleep(0.5)
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []
    assert not any(port_is_open(port) for port in (server.platform_port, server.node_port, server.forecast_port))
    assert not embedded_postgres.is_running(home / "postgres")
    assert "http://127.0.0.1:" in server.log() and "createsuperuser" in server.log()


def health_or_none(url: str) -> dict | None:
    try:
        return httpx.get(url, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cluster_leader(server: LiveServer) -> psutil.Process | None:
    """The qcluster process that serve started (the leader of the worker cluster's group)."""
    for child in psutil.Process(server.process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "qcluster" in child.cmdline():
                return child
        except psutil.Error:  # it ended in between
            continue
    return None


def job_state(job: Job) -> str:
    job.refresh_from_db()
    return job.state


@pytest.mark.django_db(transaction=True)
def test_kill_9_of_the_cluster_leader_restarts_the_cluster_web_keeps_serving_and_the_job_completes(tmp_path):
    server = start_live_server(tmp_path / "serve.log")
    try:
        job = jobs.job_enqueue(
            kind="test.steps", func="tests.fakes.jobs.count_steps", params={"steps": 10, "pause_s": 0.5}
        )
        wait_until(lambda: job_state(job) == Job.State.STARTED, 60, "the job to start")
        old_leader = cluster_leader(server)
        old_cluster = group_members(old_leader.pid)
        old_worker = int(job.worker.rsplit(":", 1)[1])
        assert old_worker in old_cluster and len(old_cluster) >= 5  # leader, sentinel, 2 workers, monitor, pusher

        old_leader.kill()  # SIGKILL, mid-job

        health_codes = []

        def new_cluster_running() -> psutil.Process | None:
            health_codes.append(httpx.get(f"{server.url}/health", timeout=10).status_code)
            leader = cluster_leader(server)
            return leader if leader is not None and leader.pid != old_leader.pid else None

        new_leader = wait_until(new_cluster_running, 60, "serve to start a new worker cluster")
        assert wait_until(lambda: not group_members(old_leader.pid), 10, "the old cluster's processes to end")
        assert wait_until(lambda: job_state(job) == Job.State.SUCCESS, 120, "the requeued job to complete")
        job.refresh_from_db()
        assert set(health_codes) == {200}  # the web surfaces answered all along
        assert server.process.poll() is None
        assert job.result == {"steps": 10}
        assert job.attempts == 2  # requeued by the new cluster, not skipped for a live stale PID
        assert job.worker == "" or int(job.worker.rsplit(":", 1)[1]) in group_members(new_leader.pid)
        new_cluster = group_members(new_leader.pid)
    finally:
        exit_code = server.stop()

    assert exit_code == 0, server.log()
    assert "worker cluster was killed by SIGKILL" in server.log()
    assert "web server" not in server.log()  # the web server never went down
    time.sleep(0.5)
    assert group_members(old_leader.pid) == []
    assert group_members(new_leader.pid) == [], new_cluster


@pytest.mark.django_db(transaction=True)
def test_kill_9_of_serve_itself_leaves_no_process_of_its_tree(tmp_path):
    server = start_live_server(tmp_path / "serve.log")
    tree = process_tree(server.process.pid)
    groups = {os.getpgid(child.pid) for child in tree}
    # daphne; the model runtime (it serves the forecast surface); the cluster: leader, sentinel, 2 workers, …
    assert len(tree) >= 8 and len(groups) == 3

    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)

    assert wait_until(lambda: all(group_members(group) == [] for group in groups), 10, "every child to die")


def test_restart_back_off_doubles_up_to_its_cap_and_resets_after_a_healthy_run():
    backoff = RestartBackoff(initial=1, maximum=8, healthy_after=60)

    crash_loop = [backoff.next_delay(ran_for=2) for _ in range(6)]
    after_a_healthy_run = backoff.next_delay(ran_for=61)

    assert crash_loop == [1, 2, 4, 8, 8, 8]
    assert after_a_healthy_run == 1


@pytest.mark.django_db
def test_a_live_pid_outside_the_workers_own_cluster_is_a_dead_worker():
    stranger = subprocess.Popen(["sleep", "60"])  # alive, but no worker of any cluster of ours
    try:
        job = jobs.job_enqueue(
            kind="test.steps", func="tests.fakes.jobs.count_steps", params={"steps": 1, "pause_s": 0}
        )
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.STARTED, attempts=1, worker=f"{socket.gethostname()}:{stranger.pid}"
        )

        seen_from_outside = jobs.jobs_recover_orphans()
        seen_from_a_worker = jobs.jobs_recover_orphans(cluster=sibling_pids())
    finally:
        stranger.kill()
        stranger.wait()

    job.refresh_from_db()
    assert seen_from_outside == []  # a caller outside any cluster trusts a live PID
    assert [recovered.pk for recovered in seen_from_a_worker] == [job.pk]
    assert job.state == Job.State.PENDING
    assert job.progress["message"] == f"requeued: worker {socket.gethostname()}:{stranger.pid} died"
