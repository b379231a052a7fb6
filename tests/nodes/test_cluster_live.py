"""The cluster poll through the real server: workers keep the schedule, and a "poll now" job runs on one."""

import time

import httpx
import pytest
from django_q.models import Schedule

from apps.core import jobs
from apps.core.models import Job
from apps.nodes import services, tasks
from apps.nodes.models import Node

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_for(check, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_workers_create_the_schedule_and_run_poll_jobs(modelyard_server, second_node, catalog, dead_url):
    schedule = wait_for(lambda: Schedule.objects.filter(name="nodes.poll").first())
    assert (schedule.func, schedule.minutes) == ("apps.nodes.tasks.poll_scheduled", 1)

    registered = httpx.post(f"{modelyard_server.url}/api/v1/nodes/", json={"url": second_node.url}, timeout=30)
    assert (registered.status_code, registered.json()["status"]) == (201, "healthy")
    services.node_register(url=dead_url, name="ghost")
    Node.objects.filter(name="worker-2").update(status=Node.Status.UNKNOWN, top_models=[])

    job = services.nodes_poll_enqueue(names=["worker-2", "ghost"])
    done = wait_for(lambda: (found := jobs.job_get(job_id=str(job.id))).is_finished and found)

    assert (done.state, done.result) == (Job.State.SUCCESS, {"ghost": "unreachable", "worker-2": "healthy"})
    worker = Node.objects.get(name="worker-2")
    assert worker.status == Node.Status.HEALTHY and len(worker.top_models) == 5


def test_the_scheduled_poll_registers_this_node_and_polls_every_enabled_one(catalog, dead_url):
    services.node_register(url=dead_url, name="ghost")
    Node.objects.create(name="off", url="http://127.0.0.1:9", enabled=False)

    result = tasks.poll_scheduled()

    local = Node.objects.get(is_local=True)
    assert result == {local.name: "healthy", "ghost": "unreachable"}
    assert Node.objects.get(name="off").status == Node.Status.UNKNOWN
