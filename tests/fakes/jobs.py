"""Job functions the tests enqueue; a real worker imports them by dotted path."""

import os
import time

from apps.core import jobs


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
