"""Remote hooks: a RemoteHook row names an endpoint; calling it sends the task's input and args.

Request (a JSON body, or query parameters for GET): `{"hook", "chainID", "taskID", "input",
"dataType", "args"}`. Reply: any JSON. An object with an `output` key is read as
`{"output", "transition"}` (the runtime's hook protocol); anything else is the output itself.
A timeout, or a reply that is not 2xx or not JSON, fails the task.
"""

from dataclasses import dataclass

from apps.chains import values
from apps.chains.hooks import transport
from apps.chains.hooks.base import HookCall, HookResult
from apps.chains.models import RemoteHook


@dataclass(frozen=True)
class RemoteTarget:
    """A remote hook as a chain run sees it: read once, before the run, so runs never query the DB."""

    name: str
    endpoint_url: str
    method: str
    timeout_s: float

    @classmethod
    def of(cls, hook: RemoteHook) -> "RemoteTarget":
        return cls(name=hook.name, endpoint_url=hook.endpoint_url, method=hook.method, timeout_s=hook.timeout_ms / 1000)


def remote_hook_call(target: RemoteTarget, call: HookCall) -> HookResult:
    timeout_s = target.timeout_s if call.timeout_s is None else min(target.timeout_s, call.timeout_s)
    payload = {
        "hook": target.name,
        "chainID": call.chain_id,
        "taskID": call.task_id,
        "input": call.input,
        "dataType": call.input_type,
        "args": call.args,
    }
    what = f"remote hook {target.name!r} ({target.method} {target.endpoint_url})"
    if target.method == "GET":
        params = {"input": values.as_text(call.input), **{key: values.as_text(v) for key, v in call.args.items()}}
        reply = transport.send(what=what, method="GET", url=target.endpoint_url, timeout_s=timeout_s, params=params)
    else:
        reply = transport.send(
            what=what, method=target.method, url=target.endpoint_url, timeout_s=timeout_s, json_body=payload
        )
    answer = reply.json(what)
    if isinstance(answer, dict) and "output" in answer:
        output, transition = answer["output"], answer.get("transition")
        return HookResult(
            output=output,
            output_type=values.type_of(output),
            transition=transition if isinstance(transition, str) else "",
        )
    return HookResult(output=answer, output_type=values.type_of(answer))
