"""Chain runs are recorded; `?async=true` runs the chain as a core.Job whose result is the response body."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.chains import runs
from apps.chains.models import ChainRun
from apps.core import jobs
from apps.core.models import Job
from tests.chains.conftest import chain_of, step

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_sync_run_is_recorded_with_its_output_state_and_timing(run_chain):
    response = run_chain(chain_of(step("a", "noop", "b"), step("b", "noop", print="done: {{ .b }}")), input="x")

    run = ChainRun.objects.get(pk=response["X-Chain-Run-Id"])
    assert (run.status, run.mode, run.chain_id, run.description) == ("succeeded", "sync", "test-chain", "a test chain")
    assert (run.input, run.input_type, run.output, run.output_type) == ("x", "string", "x", "string")
    assert run.state == response.json()["state"] and run.steps == 2
    assert run.duration_ns >= sum(unit["duration"] for unit in run.state)
    assert run.log == [{"kind": "print", "taskID": "b", "text": "done: x"}]
    assert run.finished_at is not None and run.job is None


def test_nul_characters_a_hook_answers_are_passed_on_and_recorded_replaced(client, run_chain, hook_server):
    # a request may not carry NUL characters (core refuses them), but a hook's or a model's reply may
    client.post("/hooks/remote", {"name": "nul", "endpointUrl": hook_server.url}, content_type="application/json")
    hook_server.reply = lambda request: {"output": "out\x00put"}
    chain = chain_of(step("a", "hook", hook={"type": "nul"}), debug=True)

    response = run_chain(chain, input="input")
    queued = run_chain(chain, input="input", query="?async=true").json()
    jobs.job_run(job_id=queued["jobId"])

    assert response.status_code == 200, response.content
    assert response.json()["output"] == "out\x00put"
    run = ChainRun.objects.get(pk=response["X-Chain-Run-Id"])
    assert (run.output, run.state[0]["output"]) == ("out\ufffdput", "out\ufffdput")
    job = Job.objects.get(pk=queued["jobId"])
    assert job.state == "SUCCESS", job.error
    assert job.result["output"] == "out\ufffdput"


def test_async_returns_a_job_whose_result_is_the_response_body(run_chain):
    chain = chain_of(step("a", "noop", "b"), step("b", "noop", prompt_template="<{{ .a }}>"))
    response = run_chain(chain, input="x", query="?async=true")

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["state"] == "PENDING"
    assert accepted["statusUrl"] == f"/api/v1/jobs/{accepted['jobId']}"
    job = Job.objects.get(pk=accepted["jobId"])
    assert (job.kind, job.owner_ref) == ("chains.run", "chain:test-chain")

    jobs.job_run(job_id=accepted["jobId"])

    job.refresh_from_db()
    assert job.state == "SUCCESS", job.error
    assert job.result["output"] == "<x>" and [u["taskID"] for u in job.result["state"]] == ["a", "b"]
    assert job.progress["chainRunId"] == accepted["chainRunId"]
    assert job.progress_current == 2
    run = ChainRun.objects.get(pk=accepted["chainRunId"])
    assert (run.status, run.mode, run.job_id, run.output) == ("succeeded", "async", job.id, "<x>")


def test_an_async_chain_that_fails_fails_its_job_with_the_reason(run_chain):
    response = run_chain(chain_of(step("boom", "raise_error", prompt_template="nope")), query="?async=1")
    job_id = response.json()["jobId"]

    jobs.job_run(job_id=job_id)

    job = Job.objects.get(pk=job_id)
    assert (job.state, job.error, job.traceback) == ("FAILURE", "task 'boom' failed after 1 attempt: nope", "")
    assert ChainRun.objects.get(pk=response.json()["chainRunId"]).status == "failed"


def test_an_invalid_chain_is_refused_before_a_job_is_made(run_chain):
    response = run_chain(chain_of(step("a", "summarize")), query="?async=true")
    assert response.status_code == 400
    assert not Job.objects.filter(kind="chains.run").exists()


def test_a_queued_run_whose_hook_went_away_fails_when_it_starts(client, run_chain, hook_server):
    created = client.post(
        "/hooks/remote", {"name": "temp", "endpointUrl": hook_server.url}, content_type="application/json"
    ).json()
    response = run_chain(chain_of(step("call", "hook", hook={"type": "temp"})), query="?async=true")
    client.delete(f"/hooks/remote/{created['id']}")

    jobs.job_run(job_id=response.json()["jobId"])

    job = Job.objects.get(pk=response.json()["jobId"])
    assert job.state == "FAILURE" and "'temp' is not a known hook" in job.error
    assert ChainRun.objects.get(pk=response.json()["chainRunId"]).status == "failed"
    assert hook_server.requests == []


def test_cancelling_a_running_chain_job_stops_it_before_its_next_task(client, run_chain, hook_server):
    client.post("/hooks/remote", {"name": "slow", "endpointUrl": hook_server.url}, content_type="application/json")
    hook_server.delay_s = 0.5
    chain = chain_of(step("call", "hook", "after", hook={"type": "slow"}), step("after", "noop"))
    job_id = run_chain(chain, query="?async=true").json()["jobId"]

    worker = threading.Thread(target=jobs.job_run, kwargs={"job_id": job_id})
    worker.start()
    deadline = time.monotonic() + 5
    while not hook_server.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    jobs.job_cancel(job_id=job_id)
    worker.join(timeout=10)

    job = Job.objects.get(pk=job_id)
    assert job.state == "CANCELLED"
    run = ChainRun.objects.get(job_id=job_id)
    assert run.status == "cancelled" and [unit["taskID"] for unit in run.state] == ["call"]


def test_finished_runs_past_the_retention_are_deleted_as_new_runs_start(run_chain, settings):
    settings.MODELYARD_CHAINS_RUN_RETENTION_DAYS = 7
    chain = chain_of(step("a", "noop"))
    old, running, recent = (ChainRun.objects.get(pk=run_chain(chain)["X-Chain-Run-Id"]) for _ in range(3))
    ChainRun.objects.filter(pk__in=[old.pk, running.pk]).update(created_at=timezone.now() - timedelta(days=8))
    ChainRun.objects.filter(pk=running.pk).update(status=ChainRun.Status.RUNNING)

    newest = run_chain(chain)["X-Chain-Run-Id"]

    kept = set(ChainRun.objects.values_list("pk", flat=True))
    assert {str(pk) for pk in kept} == {str(running.pk), str(recent.pk), newest}
    settings.MODELYARD_CHAINS_RUN_RETENTION_DAYS = 0
    ChainRun.objects.update(created_at=timezone.now() - timedelta(days=800), status=ChainRun.Status.SUCCEEDED)
    assert runs.runs_prune() == 0 and ChainRun.objects.count() == 3


def test_runs_are_browsable_in_the_admin_and_can_be_run_again(admin_client, run_chain):
    response = run_chain(chain_of(step("a", "noop")), input="again")
    run_id = response["X-Chain-Run-Id"]

    listing = admin_client.get("/admin/chains/chainrun/")
    detail = admin_client.get(f"/admin/chains/chainrun/{run_id}/change/")
    rerun = admin_client.post(
        "/admin/chains/chainrun/", {"action": "run_again", "_selected_action": [run_id]}, follow=True
    )

    assert listing.status_code == 200 and b"test-chain" in listing.content
    assert detail.status_code == 200 and b"again" in detail.content and b"taskHandler" in detail.content
    assert rerun.status_code == 200 and b"Queued 1 run(s)." in rerun.content
    queued = ChainRun.objects.get(mode="async")
    assert (queued.input, queued.definition, queued.job.kind) == (
        "again",
        ChainRun.objects.get(pk=run_id).definition,
        "chains.run",
    )


def test_a_run_that_crashes_is_recorded_as_failed_not_left_running():
    chain = chain_of(step("a", "noop"))
    prepared = runs.run_prepare(chain=chain, input="x", input_type="string")
    run = runs.run_start(prepared, definition=chain, mode=ChainRun.Mode.SYNC)

    def broken_progress(step: int, task_id: str) -> None:
        raise RuntimeError("progress store is down")

    with pytest.raises(RuntimeError):
        runs.run_execute(run, prepared, on_step=broken_progress)

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "crashed: RuntimeError: progress store is down")
    assert run.finished_at is not None
