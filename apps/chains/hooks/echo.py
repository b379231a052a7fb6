"""`echo`: hands the task's input on unchanged, or `args.message` (a template) when given."""

from apps.chains import values
from apps.chains.hooks.base import HookCall, HookResult


class EchoHook:
    description = "Returns the task input, or args.message when set."

    def run(self, call: HookCall) -> HookResult:
        if "message" in call.args:
            message = call.args["message"]
            return HookResult(output=message, output_type=values.type_of(message))
        return HookResult(output=call.input, output_type=call.input_type)
