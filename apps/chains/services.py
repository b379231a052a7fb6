"""The chains app's public API: remote hooks, and running task chains (in the request or as a job)."""

import re
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from apps.chains import runs
from apps.chains.hooks import LOCAL_HOOKS
from apps.chains.models import ChainRun, RemoteHook
from apps.core.errors import Conflict, Invalid, NotFound, Unprocessable
from apps.core.models import Job

HOOK_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
MAX_HOOK_TIMEOUT_MS = 10 * 60 * 1000


# --- remote hooks ----------------------------------------------------------------------------------


def remote_hook_get(*, hook_id: str) -> RemoteHook:
    hook = RemoteHook.objects.filter(pk=hook_id).first()
    if hook is None:
        raise NotFound(f"remote hook {hook_id} not found")
    return hook


def remote_hook_get_by_name(*, name: str) -> RemoteHook:
    hook = RemoteHook.objects.filter(name=name).first()
    if hook is None:
        raise NotFound(f"remote hook {name!r} not found")
    return hook


def remote_hook_check(
    *, name: str, endpoint_url: str, method: str, timeout_ms: int, hook_id: str | None = None
) -> dict[str, Any]:
    """The fields of a remote hook, normalized; Invalid or Conflict naming the field at fault."""
    name = name.strip()
    if not name:
        raise Invalid("name: a remote hook needs a name", field="name")
    if name in LOCAL_HOOKS:
        raise Conflict(f"{name!r} is the name of a built-in hook; choose another", field="name")
    if RemoteHook.objects.filter(name=name).exclude(pk=hook_id).exists():
        raise Conflict(f"a remote hook named {name!r} already exists", field="name")
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"endpointUrl: must be an http:// or https:// URL, got {endpoint_url!r}", field="endpointUrl")
    method = method.upper()
    if method not in RemoteHook.Method.values:
        raise Invalid(f"method: use one of {', '.join(RemoteHook.Method.values)}, got {method!r}", field="method")
    if not 0 < timeout_ms <= MAX_HOOK_TIMEOUT_MS:
        raise Invalid(f"timeoutMs: must be from 1 to {MAX_HOOK_TIMEOUT_MS}", field="timeoutMs")
    return {"name": name, "endpoint_url": endpoint_url, "method": method, "timeout_ms": timeout_ms}


def _save_hook(hook: RemoteHook) -> RemoteHook:
    try:
        with transaction.atomic():
            hook.save()
    except IntegrityError:  # a concurrent create took the name first
        raise Conflict(f"a remote hook named {hook.name!r} already exists", field="name") from None
    return hook


def remote_hook_create(
    *, name: str, endpoint_url: str, method: str = "POST", timeout_ms: int = 5000, id: str | None = None
) -> RemoteHook:
    fields = remote_hook_check(name=name, endpoint_url=endpoint_url, method=method, timeout_ms=timeout_ms)
    hook = RemoteHook(**fields)
    if id:
        if not HOOK_ID.match(id):
            raise Invalid("id: up to 64 letters, digits, '.', '_' or '-'", field="id")
        if RemoteHook.objects.filter(pk=id).exists():
            raise Conflict(f"remote hook {id} already exists", field="id")
        hook.id = id
    return _save_hook(hook)


def remote_hook_update(*, hook_id: str, name: str, endpoint_url: str, method: str, timeout_ms: int) -> RemoteHook:
    hook = remote_hook_get(hook_id=hook_id)
    fields = remote_hook_check(
        name=name, endpoint_url=endpoint_url, method=method, timeout_ms=timeout_ms, hook_id=hook.pk
    )
    for key, value in fields.items():
        setattr(hook, key, value)
    return _save_hook(hook)


def remote_hook_delete(*, hook_id: str) -> None:
    remote_hook_get(hook_id=hook_id).delete()


# --- running chains ----------------------------------------------------------------------------------


def chain_run(*, chain: Any, input: Any, input_type: str = "string") -> tuple[ChainRun, dict]:
    """Run a chain now; the recorded run and the response body.

    Invalid (400) when the chain or input is wrong, before anything runs; Unprocessable (422) with
    the state so far when the chain ran and failed.
    """
    prepared = runs.run_prepare(chain=chain, input=input, input_type=input_type)
    run = runs.run_start(prepared, definition=chain, mode=ChainRun.Mode.SYNC)
    result = runs.run_execute(run, prepared)
    if not result.succeeded:
        raise Unprocessable(result.error, state=result.state, chainRunId=str(run.id))
    return run, result.response()


def chain_run_enqueue(*, chain: Any, input: Any, input_type: str = "string") -> tuple[ChainRun, Job]:
    """Check a chain now and run it on a worker; the job's result is the response body."""
    prepared = runs.run_prepare(chain=chain, input=input, input_type=input_type)
    run = runs.run_start(prepared, definition=chain, mode=ChainRun.Mode.ASYNC)
    return run, runs.run_enqueue(run)


def chain_run_again(*, run_id: Any) -> tuple[ChainRun, Job]:
    """Run a recorded chain run's chain and input again, as a job (the admin's action)."""
    previous = ChainRun.objects.filter(pk=run_id).first()
    if previous is None:
        raise NotFound(f"chain run {run_id} not found")
    return chain_run_enqueue(chain=previous.definition, input=previous.input, input_type=previous.input_type)
