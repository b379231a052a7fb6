"""Job functions the tests enqueue; a real worker imports them by dotted path."""

import os
import time
from collections.abc import Callable

from django.db import connection

from apps.core import jobs
from apps.core.locks import advisory_lock_key
from apps.core.models import Job


def count_steps(*, steps: int, pause_s: float) -> dict:
    """Report `steps` progress steps, `pause_s` apart, stopping early when cancelled."""
    for step in range(1, steps + 1):
        time.sleep(pause_s)
        jobs.check_cancelled()
        jobs.progress(step, steps, message=f"step {step} of {steps}")
    return {"steps": steps}


def give_up(*, reason: str) -> None:
    raise jobs.JobFailed(reason)


def crash() -> None:
    raise RuntimeError("boom")


def die_hard(*, marker: str) -> dict:
    """Kill the worker process the first time it runs (a crashed worker); succeed after."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return {"survived": True}


def cancel_itself() -> None:
    """Ask for its own cancellation mid-run, as a client would, then reach its next check."""
    jobs.progress(1, 2)
    jobs.job_cancel(job_id=jobs.current_job_id())
    jobs.check_cancelled()
    raise AssertionError("check_cancelled() should have stopped the job")


def timed_steps(*, steps: int, pause_s: float) -> None:
    """Like count_steps, stamping each step with the wall-clock time it was reported."""
    for step in range(1, steps + 1):
        time.sleep(pause_s)
        jobs.progress(step, steps, sent_at=time.time())


def stay_busy(*, seconds: float) -> dict:
    """Work without reporting progress (a long computation): only the heartbeat timer shows life."""
    time.sleep(seconds)
    return {"busy_s": seconds}


def taken_over_midway() -> None:
    """As if the job was requeued and another worker claimed it while this run went on."""
    jobs.progress(1, 2)
    Job.objects.filter(pk=jobs.current_job_id()).update(worker="elsewhere:1", attempts=2)
    jobs.progress(2, 2)  # not saved: the row is no longer this run's
    jobs.check_cancelled()
    raise AssertionError("check_cancelled() should have stopped a run that lost its job")


def connection_drop(target: object) -> None:
    """Have the server drop the Django connection `target` (as a restart does), from another one."""
    import psycopg

    backend_pid = target.cursor().connection.info.backend_pid
    settings = target.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


def lose_connection_then_report(*, steps: int) -> dict:
    """Report a step, have the server drop this job's connection, report on."""
    from django.db import connection

    jobs.progress(1, steps, message="before the connection was dropped")
    connection_drop(connection)
    for step in range(2, steps + 1):
        jobs.progress(step, steps, message=f"step {step} of {steps}")
    return {"steps": steps}


def lose_database_in_own_code() -> dict:
    """The job's own query meets a connection the server terminated (AdminShutdown)."""
    from django.db import connection

    jobs.progress(1, 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    return {"never": "reached"}


def log_lines(*, count: int) -> dict:
    for number in range(1, count + 1):
        jobs.log(f"line {number}")
    return {"lines": count}


def fan_out(*, children: list[str]) -> dict:
    """A group: one child job per name (`count_steps`, or `give_up` for names starting with 'bad')."""
    for name in children:
        func = "tests.fakes.jobs.give_up" if name.startswith("bad") else "tests.fakes.jobs.count_steps"
        params = {"reason": f"{name} is bad"} if name.startswith("bad") else {"steps": 1, "pause_s": 0}
        jobs.job_enqueue(kind="test.child", func=func, params=params, owner_ref=name, parent=jobs.current_job_id())
    return {"children": len(children)}


def silent_steps(*, steps: int, pause_s: float) -> dict:
    """Like count_steps, but the progress is only saved on the row, never published: as if every
    event were lost (the channel layer reconnecting). Streams must still show it."""
    job_id = jobs.current_job_id()
    for step in range(1, steps + 1):
        time.sleep(pause_s)
        Job.objects.filter(pk=job_id).update(progress_current=step, progress_total=steps)
    return {"steps": steps}


def fan_out_already_done(*, children: list[str]) -> dict:
    """A group whose children all end before its own function returns (fast workers)."""
    fan_out(children=children)
    for child in Job.objects.filter(parent_id=jobs.current_job_id()):
        failed = child.owner_ref.startswith("bad")
        child.state = Job.State.FAILURE if failed else Job.State.SUCCESS
        child.save()
    return {"children": len(children)}


def hold_a_session_lock(*, name: str, first_run_marker: str) -> dict:
    """Take the session-level advisory lock `name` (as a download holds its model's lock) and keep
    it: the first run then waits to be frozen (`kill -STOP`) by the test, holding the lock in its
    idle session; a rerun must get the lock to finish."""
    key = advisory_lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    if not os.path.exists(first_run_marker):
        with open(first_run_marker, "w") as marker:
            marker.write(str(os.getpid()))
        time.sleep(600)  # frozen here by the test
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    return {"locked": name}


def wait_for_job(
    job: Job, check: Callable[[Job], bool], timeout: float, *, server_log: Callable[[], str] | None = None
) -> Job:
    """Re-read `job` until `check(job)` holds; AssertionError with where it got to after `timeout` s
    (and the last lines of `server_log()`, the log of the server that runs it, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if check(job):
            return job
        time.sleep(0.05)
    where = f"job {job.id} never got there: {job.state} {job.worker} {job.progress} {job.error}"
    if server_log is not None:
        where += "\n--- the server's log, last lines ---\n" + "\n".join(server_log().splitlines()[-80:])
    raise AssertionError(where)
