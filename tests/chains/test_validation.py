"""A chain is checked before anything runs: 400 `{"error": ...}` naming the task and the field."""

import pytest

from apps.chains.definitions import chain_from_request
from apps.chains.models import ChainRun
from tests.chains.conftest import chain_of, to_end

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_model(settings):
    settings.MODELYARD_DEFAULT_MODEL = "llama3:8b"


def noop(task_id: str = "a", **fields: object) -> dict:
    return {"id": task_id, "handler": "noop", "transition": to_end(), **fields}


def goto(target: str, operator: str = "default", when: str = "") -> dict:
    return {"branches": [{"operator": operator, "when": when, "goto": target}]}


INVALID_TASKS = [
    pytest.param(
        [{"id": "a", "handler": "summarize", "transition": to_end()}],
        "task \"a\": handler: 'summarize' is not a handler; use one of raw_string, condition_key",
        id="unknown-handler",
    ),
    pytest.param([{"id": "a", "transition": to_end()}], 'task "a": handler: missing; use one of', id="missing-handler"),
    pytest.param(
        [{"id": "a", "handler": {"name": "noop"}}], "task \"a\": handler: {'name': 'noop'} is not", id="handler-object"
    ),
    pytest.param(
        [noop(transition={"branches": [{"operator": ["equals"], "goto": "end"}]})],
        "task \"a\": transition.branches[0].operator: ['equals'] is not an operator",
        id="operator-list",
    ),
    pytest.param(
        [{"id": "a", "handler": "noop", "type": "raw_string"}],
        "task \"a\": handler: 'handler' ('noop') and 'type' ('raw_string') disagree",
        id="handler-and-type-disagree",
    ),
    pytest.param(
        [noop(transition=goto("end", operator="matches", when="x"))],
        "task \"a\": transition.branches[0].operator: 'matches' is not an operator; use one of equals, contains",
        id="unknown-operator",
    ),
    pytest.param(
        [noop(transition=goto("nowhere"))],
        "task \"a\": transition.branches[0].goto: no task has the id 'nowhere' (use 'end' to finish)",
        id="goto-missing-task",
    ),
    pytest.param(
        [noop(transition={"branches": [], "on_failure": "ghost"})],
        "task \"a\": transition.on_failure: no task has the id 'ghost'",
        id="on-failure-missing-task",
    ),
    pytest.param(
        [{"id": "a", "handler": "hook", "transition": to_end()}],
        'task "a": hook: a hook task needs one',
        id="hook-task-without-hook",
    ),
    pytest.param(
        [{"id": "a", "handler": "hook", "hook": {"type": "send_email"}, "transition": to_end()}],
        "task \"a\": hook.type: 'send_email' is not a known hook (supported: echo, http_request)",
        id="unknown-hook",
    ),
    pytest.param(
        [noop(hook={"type": "echo"})],
        "task \"a\": hook: only hook tasks run hooks; this task's handler is 'noop'",
        id="hook-on-another-handler",
    ),
    pytest.param(
        [{"id": "a", "handler": "condition_key", "prompt_template": "ok?", "transition": to_end()}],
        'task "a": valid_conditions: a condition_key task needs them',
        id="condition-key-without-valid-conditions",
    ),
    pytest.param(
        [noop(transition=goto("end", operator="gt", when="many"))],
        "task \"a\": transition.branches[0].when: operator 'gt' needs a number in 'when', got 'many'",
        id="numeric-operator-with-text",
    ),
    pytest.param(
        [noop(transition=goto("end", operator="in_range", when="5"))],
        "task \"a\": transition.branches[0].when: operator 'in_range' needs 'when' as low-high",
        id="in-range-without-range",
    ),
    pytest.param(
        [noop(timeout="10")],
        'task "a": timeout: \'10\' is not a duration such as "10s"',
        id="timeout-without-unit",
    ),
    pytest.param([noop(retry_on_failure=-1)], 'task "a": retry_on_failure: must be a whole number', id="retries"),
    pytest.param(
        [noop(prompt_template="{{ .nope }}")],
        'task "a": prompt_template: {{ .nope }} names no variable',
        id="template-unknown-variable",
    ),
    pytest.param(
        [noop(input_var="b")],
        "task \"a\": input_var: 'b' is neither 'input', 'previous_output' nor a task id",
        id="input-var-unknown",
    ),
    pytest.param(
        [noop(compose={"with_var": "input", "strategy": "concat"})],
        "task \"a\": compose.strategy: 'concat' is unknown; use one of override",
        id="compose-strategy",
    ),
    pytest.param(
        [noop(compose={"strategy": "override"})], 'task "a": compose.with_var: names the variable', id="compose-var"
    ),
    pytest.param(
        [{"id": "a", "handler": "raw_string", "execute_config": {"provider": "acme"}, "transition": to_end()}],
        "task \"a\": execute_config.provider: 'acme' is not a provider type",
        id="unknown-provider",
    ),
    pytest.param(
        [{"id": "a", "handler": "raw_string", "execute_config": {"temperature": 5}, "transition": to_end()}],
        'task "a": execute_config.temperature: must be a number from 0 to 2',
        id="temperature",
    ),
    pytest.param([noop("a"), noop("a")], 'task "a": id: two tasks have this id', id="duplicate-ids"),
    pytest.param([noop("end")], "task \"end\": id: 'end' is reserved", id="reserved-id"),
    pytest.param([{"handler": "noop"}], "chain.tasks[0].id: every task needs an id", id="missing-id"),
    pytest.param([], "chain.tasks: a chain needs at least one task", id="no-tasks"),
    pytest.param(
        [noop(transition={"branches": [{"goto": "end", "alert_on_match": "{{ .secret }}"}]})],
        'task "a": transition.branches[0].alert_on_match: {{ .secret }} names no variable',
        id="alert-unknown-variable",
    ),
    pytest.param(
        [noop(transition={"branches": [{"goto": 5}]})],
        'task "a": transition.branches[0].goto: must be a string',
        id="goto-not-a-string",
    ),
    pytest.param(
        [noop(transition={"on_failure": ["b"]})],
        'task "a": transition.on_failure: must be a string',
        id="on-failure-not-a-string",
    ),
    pytest.param(
        [noop(prompt_template="{{ .input | upper }}")],
        "task \"a\": prompt_template: '{{ .input | upper }}' is not supported: a template only names variables",
        id="template-pipeline",
    ),
    pytest.param(
        [{"id": "a", "handler": "hook", "hook": {"type": "echo", "args": {"to": ["{{ .who }}"]}}}],
        'task "a": hook.args: {{ .who }} names no variable',
        id="hook-args-unknown-variable",
    ),
    pytest.param(
        [{"id": "a", "handler": "hook", "hook": {"type": 3}}],
        'task "a": hook.type: must be the name of a hook',
        id="hook-type-not-a-string",
    ),
]


@pytest.mark.parametrize(("tasks", "message"), INVALID_TASKS)
def test_an_invalid_chain_is_a_400_naming_the_task_and_field(run_chain, tasks, message):
    response = run_chain(chain_of(*tasks))

    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(message), response.json()["error"]
    assert ChainRun.objects.count() == 0


def test_the_error_body_also_carries_the_task_and_field(run_chain):
    body = run_chain(chain_of(noop(transition=goto("nowhere")))).json()
    assert (body["task"], body["field"]) == ("a", "transition.branches[0].goto")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"chain": [chain_of(noop()), chain_of(noop())], "input": "x"}, "chain: give one chain definition, got a list"),
        ({"chain": "tasks", "input": "x"}, "chain: must be a chain definition object"),
        ({"chain": {"id": "x" * 201, "tasks": [noop()]}, "input": "x"}, "chain.id: at most 200 characters"),
        ({"chain": chain_of(noop())}, "invalid request: input: This field is required."),
        ({"chain": chain_of(noop()), "input": "x", "inputType": "xml"}, 'invalid request: inputType: "xml" is not'),
        ({"chain": chain_of(noop()), "input": 3, "inputType": "string"}, "input must be a string"),
        ({"chain": chain_of(noop()), "input": {"messages": [{"content": "hi"}]}, "inputType": "chat_history"},
         "input.messages[0] must have a role"),
        ({"chain": chain_of(noop()), "input": {"messages": [], "inputTokens": "many"}, "inputType": "chat_history"},
         "input.inputTokens must be a whole number of tokens"),
    ],
)  # fmt: skip
def test_a_malformed_request_is_a_400(client, body, message):
    response = client.post("/tasks", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()["error"]


def test_a_model_task_with_no_model_and_no_default_is_refused(run_chain, settings):
    settings.MODELYARD_DEFAULT_MODEL = ""
    task = {"id": "ask", "handler": "raw_string", "transition": to_end()}
    response = run_chain(chain_of(task))
    assert response.status_code == 400
    assert response.json()["error"].startswith('task "ask": execute_config.model: not set, and no default model')
    assert run_chain(chain_of(noop())).status_code == 200  # a chain that calls no model needs none


def test_a_single_chain_object_is_accepted_as_well_as_a_list_of_one(run_chain):
    assert run_chain(chain_of(noop())).json()["output"] == "hello"
    assert run_chain([chain_of(noop())]).json()["output"] == "hello"


@pytest.mark.parametrize(
    "conditions",
    [{"yes": True, "no": True}, ["yes", "no"], '{"yes": true, "no": true}', r"{\"yes\": true, \"no\": true}"],
)
def test_valid_conditions_may_be_an_object_a_list_or_json_text(conditions):
    task = {"id": "a", "handler": "condition_key", "valid_conditions": conditions, "transition": to_end()}
    chain = chain_from_request(chain_of(task), hook_names=[], max_retries=5)
    assert chain.tasks[0].valid_conditions == ("yes", "no")


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_an_input_nested_500_levels_deep_is_a_400(client):
    body = (
        '{"chain": {"tasks": [{"id": "a", "handler": "noop"}]}, "inputType": "json", "input": ' + nested_list(500) + "}"
    )
    response = client.post("/tasks", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["error"]


def test_hook_args_nested_500_levels_deep_are_a_400(client):
    args = '{"message": ' + nested_list(500) + "}"
    body = (
        '{"chain": {"tasks": [{"id": "a", "handler": "hook", "hook": {"type": "echo", "args": '
        + args
        + '}}]}, "input": "x"}'
    )
    response = client.post("/tasks", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["error"]


@pytest.mark.parametrize("depth", [500, 100_000])
def test_hook_args_as_json_text_nested_too_deep_are_a_400_naming_the_task(run_chain, depth):
    # the spec's examples send args as JSON text: decoding it must not nest deeper than a body may
    task = noop(handler="hook", hook={"type": "echo", "args": '{"message": ' + nested_list(depth) + "}"})
    response = run_chain(chain_of(task))
    assert response.status_code == 400
    assert response.json() == {
        "error": 'task "a": hook.args: JSON text nested deeper than 64 levels',
        "task": "a",
        "field": "hook.args",
    }
