"""Chain runs: from a request's chain to a recorded ChainRun, in the request or as a job.

Everything that needs the database happens here, before the engine starts (validation against
the remote hooks, the default model) and after it ends (recording the run).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.utils import timezone

from apps.backends import selectors as backends
from apps.chains import values
from apps.chains.definitions import MODEL_HANDLERS, Chain, chain_from_request
from apps.chains.engine import ChainCancelled, ChainResult, chain_execute
from apps.chains.hooks.remote import RemoteTarget
from apps.chains.models import ChainRun, RemoteHook
from apps.chains.selectors import hook_types_supported
from apps.core import jobs
from apps.core.errors import Invalid, NotFound
from apps.core.models import Job

JOB_KIND = "chains.run"


@dataclass(frozen=True)
class PreparedRun:
    """A chain checked and ready for the engine."""

    chain: Chain
    input: Any
    input_type: str
    default_model: str
    remote_hooks: dict[str, RemoteTarget]


def run_prepare(*, chain: Any, input: Any, input_type: str) -> PreparedRun:
    """Validate a request's chain and input; Invalid (400) names the task and field at fault."""
    checked_input = values.coerce_input(input, input_type)
    definition = chain_from_request(
        chain, hook_names=hook_types_supported(), max_retries=settings.MODELYARD_CHAINS_MAX_STEPS
    )
    needs_default = [t for t in definition.tasks if t.handler in MODEL_HANDLERS and not t.execute_config.models]
    default_model = ""
    if needs_default:
        try:
            default_model = backends.default_model_name()
        except NotFound:
            task_id = needs_default[0].id
            raise Invalid(
                f'task "{task_id}": execute_config.model: not set, and no default model is configured '
                "(MODELYARD_DEFAULT_MODEL or the runtime settings in the admin)",
                task=task_id,
                field="execute_config.model",
            ) from None
    hook_names = {task.hook.name for task in definition.tasks if task.hook is not None}
    remote_hooks = {hook.name: RemoteTarget.of(hook) for hook in RemoteHook.objects.filter(name__in=hook_names)}
    return PreparedRun(definition, checked_input, input_type, default_model, remote_hooks)


def run_start(prepared: PreparedRun, *, definition: Any, mode: str) -> ChainRun:
    runs_prune()
    return ChainRun.objects.create(
        chain_id=values.storable(prepared.chain.id),
        description=values.storable(prepared.chain.description),
        mode=mode,
        definition=values.storable(definition),
        input=values.storable(prepared.input),
        input_type=prepared.input_type,
    )


def runs_prune() -> int:
    """Delete finished runs past MODELYARD_CHAINS_RUN_RETENTION_DAYS; how many went."""
    days = settings.MODELYARD_CHAINS_RUN_RETENTION_DAYS
    if days <= 0:
        return 0
    expired = ChainRun.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).exclude(
        status=ChainRun.Status.RUNNING
    )
    return expired.delete()[0]


def run_execute(run: ChainRun, prepared: PreparedRun, *, on_step: Any = None) -> ChainResult:
    """Run the chain and record how it went on `run` (a crash is recorded too, then raised)."""
    timeout = settings.MODELYARD_CHAINS_TASK_TIMEOUT
    try:
        result = chain_execute(
            prepared.chain,
            input=prepared.input,
            input_type=prepared.input_type,
            default_model=prepared.default_model,
            remote_hooks=prepared.remote_hooks,
            max_steps=settings.MODELYARD_CHAINS_MAX_STEPS,
            default_timeout_s=float(timeout) if timeout > 0 else None,
            on_step=on_step,
        )
    except Exception as error:
        run_fail(run, f"crashed: {type(error).__name__}: {error}")
        raise
    if result.cancelled:
        run.status = ChainRun.Status.CANCELLED
    else:
        run.status = ChainRun.Status.SUCCEEDED if result.succeeded else ChainRun.Status.FAILED
    run.output, run.output_type = (
        (values.storable(result.output), result.output_type) if result.succeeded else (None, "")
    )
    run.state, run.log, run.error = values.storable([result.state, result.log, result.error])
    run.steps, run.duration_ns, run.finished_at = result.steps, result.duration_ns, timezone.now()
    run.save()
    return result


def run_fail(run: ChainRun, error: str) -> None:
    run.status, run.error, run.finished_at = ChainRun.Status.FAILED, values.storable(error), timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


# --- as a background job ---------------------------------------------------------------------------


def run_enqueue(run: ChainRun) -> Job:
    job = jobs.job_enqueue(
        kind=JOB_KIND,
        func="apps.chains.tasks.chain_run",
        params={"run_id": str(run.id)},
        owner_surface="platform",
        owner_ref=f"chain:{run.chain_id}" if run.chain_id else f"chain-run:{run.id}",
    )
    run.job = job
    run.save(update_fields=["job"])
    return job


class ChainRunProgress(TypedDict, total=False):
    """The progress payload of a `chains.run` job: the task a step ran, in which chain run."""

    task: str
    chainRunId: str  # noqa: N815  (the runtime spec's spelling)
    message: str


def run_as_job(run: ChainRun) -> dict:
    """Run a queued chain as the current job (`POST /tasks?async=true`, started by tasks.chain_run):
    its result is the same body the request would have had."""
    try:
        # Checked again: a remote hook may have gone, or the default model changed, since it was queued.
        prepared = run_prepare(chain=run.definition, input=run.input, input_type=run.input_type)
    except Invalid as error:
        run_fail(run, error.message)
        raise jobs.JobFailed(error.message) from None

    def on_step(step: int, task_id: str) -> None:
        if jobs.cancelled():
            raise ChainCancelled("cancelled while running")
        about = ChainRunProgress(task=task_id, chainRunId=str(run.id), message=f"step {step}: task {task_id}")
        jobs.progress(step, None, **about)

    result = run_execute(run, prepared, on_step=on_step)
    # The last step is always saved (the ones before may have been coalesced).
    jobs.progress(result.steps, result.steps, **ChainRunProgress(message=f"{run.status} after {result.steps} step(s)"))
    if result.cancelled:
        raise jobs.JobCancelled()
    if not result.succeeded:
        raise jobs.JobFailed(values.storable(result.error))
    return values.storable(result.response())  # saved as the job's result
