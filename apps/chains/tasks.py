"""django-q2 entry points of the chains app: thin, they load rows and call the app's modules."""

from apps.chains import runs
from apps.chains.models import ChainRun


def chain_run(*, run_id: str) -> dict:
    """The job of `POST /tasks?async=true`: run the recorded chain run `run_id`."""
    return runs.run_as_job(ChainRun.objects.get(pk=run_id))
