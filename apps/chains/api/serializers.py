"""Request and response shapes of the runtime spec's /tasks, /supported and /hooks/remote.

The chain definition is read by `apps.chains.definitions` (which names the task and field of every
problem); the nested serializers here describe it for the OpenAPI schema.
"""

from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.chains.definitions import COMPOSE_STRATEGIES, HANDLERS
from apps.chains.models import RemoteHook
from apps.chains.transitions import OPERATORS
from apps.chains.values import TYPES
from apps.core.validation import BoundedIntegerField

# --- remote hooks ------------------------------------------------------------------------------------


class RemoteHookSerializer(serializers.ModelSerializer):
    id = serializers.CharField(required=False, help_text="Generated (a UUID) when left out.")
    endpointUrl = serializers.CharField(source="endpoint_url", max_length=2000)  # noqa: N815
    method = serializers.CharField(required=False, default="POST", help_text="GET, POST, PUT, PATCH or DELETE.")
    timeoutMs = BoundedIntegerField(source="timeout_ms", required=False, default=5000, min_value=0)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)  # noqa: N815

    class Meta:
        model = RemoteHook
        fields = ["id", "name", "endpointUrl", "method", "timeoutMs", "createdAt", "updatedAt"]
        extra_kwargs = {"name": {"validators": []}}  # a taken name is the service's 409, not a 400


# GET /supported: a bare list of names.
HOOK_TYPES = build_array_type(build_basic_type(OpenApiTypes.STR))


class RemoteHookPageSerializer(serializers.Serializer):
    cursor = serializers.DateTimeField(required=False, help_text="RFC 3339 createdAt: hooks created before it.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


# --- the chain definition (for the schema) ---------------------------------------------------------------


class ChainBranchSerializer(serializers.Serializer):
    operator = serializers.ChoiceField(choices=list(OPERATORS), required=False)
    when = serializers.CharField(required=False, allow_blank=True)
    goto = serializers.CharField(allow_blank=True, help_text="A task id, or 'end' / empty to finish the chain.")
    alert_on_match = serializers.CharField(required=False, allow_blank=True)


class ChainTransitionSerializer(serializers.Serializer):
    branches = ChainBranchSerializer(many=True, required=False)
    on_failure = serializers.CharField(required=False, allow_blank=True, help_text="Task id to go to on failure.")
    on_failure_alert = serializers.CharField(required=False, allow_blank=True)


class ChainHookCallSerializer(serializers.Serializer):
    type = serializers.CharField(required=False, help_text="The hook's name (see GET /supported); or `name`.")
    name = serializers.CharField(required=False)
    args = serializers.DictField(required=False, help_text="String values are templates.")


class ChainExecuteConfigSerializer(serializers.Serializer):
    model = serializers.CharField(required=False)
    models = serializers.ListField(child=serializers.CharField(), required=False, help_text="Tried in order.")
    provider = serializers.CharField(required=False)
    providers = serializers.ListField(child=serializers.CharField(), required=False)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)


class ChainComposeSerializer(serializers.Serializer):
    with_var = serializers.CharField()
    strategy = serializers.ChoiceField(choices=list(COMPOSE_STRATEGIES), required=False)


class ChainTaskSerializer(serializers.Serializer):
    id = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    handler = serializers.ChoiceField(choices=list(HANDLERS), help_text="Also accepted as `type`.")
    prompt_template = serializers.CharField(required=False, allow_blank=True)
    system_instruction = serializers.CharField(required=False, allow_blank=True)
    print = serializers.CharField(required=False, allow_blank=True)
    input_var = serializers.CharField(required=False, allow_blank=True)
    compose = ChainComposeSerializer(required=False)
    execute_config = ChainExecuteConfigSerializer(required=False)
    hook = ChainHookCallSerializer(required=False)
    valid_conditions = serializers.DictField(child=serializers.BooleanField(), required=False)
    transition = ChainTransitionSerializer(required=False)
    retry_on_failure = BoundedIntegerField(required=False, min_value=0)
    timeout = serializers.CharField(required=False, help_text='"10s", "2m", "1h", "500ms".')


class ChainDefinitionSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    debug = serializers.BooleanField(required=False, help_text="Keep each task's input and output in `state`.")
    token_limit = BoundedIntegerField(required=False, min_value=0, help_text="0: no limit.")
    tasks = ChainTaskSerializer(many=True)


@extend_schema_field(ChainDefinitionSerializer(many=True))
class ChainField(serializers.JSONField):
    """A chain definition, or a list with one (as the spec's example sends it)."""


class TaskExecutionRequestSerializer(serializers.Serializer):
    chain = ChainField()
    input = serializers.JSONField(help_text="A string, or what inputType says (a chat history: {messages: [...]}).")
    inputType = serializers.ChoiceField(choices=list(TYPES), required=False, default="string")  # noqa: N815


TaskExecutionQuerySerializer = type(
    "TaskExecutionQuerySerializer",
    (serializers.Serializer,),
    {
        "async": serializers.BooleanField(
            required=False, default=False, help_text="Run on a worker and answer 202 with the job at once."
        ),
        "__module__": __name__,
    },
)


class CapturedStateUnitSerializer(serializers.Serializer):
    taskID = serializers.CharField()  # noqa: N815
    taskHandler = serializers.CharField()  # noqa: N815
    inputType = serializers.CharField()  # noqa: N815
    outputType = serializers.CharField()  # noqa: N815
    transition = serializers.CharField(help_text="The task that ran next, 'end', or empty (retried or stopped).")
    duration = serializers.IntegerField(help_text="Nanoseconds.")
    error = serializers.DictField(help_text='{} or {"error": "..."}')
    input = serializers.CharField(allow_blank=True, help_text='Empty ("") unless the chain has debug: true.')
    output = serializers.CharField(allow_blank=True, help_text='Empty ("") unless the chain has debug: true.')


class TaskExecutionResponseSerializer(serializers.Serializer):
    output = serializers.JSONField()
    outputType = serializers.CharField()  # noqa: N815
    state = CapturedStateUnitSerializer(many=True)


class TaskJobSerializer(serializers.Serializer):
    jobId = serializers.CharField()  # noqa: N815
    chainRunId = serializers.CharField()  # noqa: N815
    state = serializers.CharField()
    statusUrl = serializers.CharField()  # noqa: N815
    eventsUrl = serializers.CharField()  # noqa: N815


class ChainFailureSerializer(serializers.Serializer):
    error = serializers.CharField()
    state = CapturedStateUnitSerializer(many=True)
    chainRunId = serializers.CharField()  # noqa: N815
