"""contenox's own API tests of task chains, translated: the same chains and inputs sent to POST /tasks
with the same expected answers.

Source: github.com/contenox/runtime `apitests/` at the API the runtime spec describes (before pools
became groups, Aug 2025): test_execute.py, test_execute2.py, test_hookexec.py. Upstream runs a real
model; here a fake Ollama scripts the answer a model would give, so every assertion is exact.
Left out: the `embedding` and `convert_to_openai_chat_response` handlers and the `openai_chat`
input type, which the runtime spec does not list.
"""

import pytest

from apps.chains.models import ChainRun
from tests.chains.conftest import chain_of, step

pytestmark = pytest.mark.django_db(transaction=True)

MACHINE_SYSTEM = (
    "You are a task processing engine talking to other machines. Return the direct answer without explanation to "
    "the given task."
)
# conftest.py of contenox's apitests: what its fake remote hook answers.
MOCK_HOOK_RESPONSE = {"output": "Hook executed successfully", "dataType": "string", "transition": "ok"}


def ends(goto: str = "end") -> dict:
    return {"branches": [{"operator": "default", "goto": goto}]}


def scripted(ollama, answers: dict[str, str]) -> None:
    """The fake model answers by the prompt (the last user message) it is sent."""
    ollama.answer = lambda model, prompt: answers[prompt]


def chat_requests(ollama) -> list[dict]:
    return [request.json for request in ollama.requests_to("/api/chat")]


# --- test_execute.py ------------------------------------------------------------------------------


def test_execute_taskchain_answers_the_capital_with_typed_state(run_chain, ollama):
    scripted(ollama, {"What is the capital of France? Respond ONLY with the city name.": "Paris"})
    chain = {
        "id": "test-chain",
        "debug": True,
        "description": "Test chain for capital city",
        "tasks": [
            {
                "id": "capital_task",
                "handler": "raw_string",
                "system_instruction": MACHINE_SYSTEM,
                "prompt_template": "What is the capital of France? Respond ONLY with the city name.",
                "transition": ends(),
            }
        ],
        "token_limit": 4096,
    }

    response = run_chain(chain, input="France")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["output"], body["outputType"]) == ("Paris", "string")
    [unit] = body["state"]
    assert (unit["taskID"], unit["taskHandler"], unit["inputType"], unit["outputType"]) == (
        "capital_task",
        "raw_string",
        "string",
        "string",
    )
    assert chat_requests(ollama)[0]["messages"][0] == {"role": "system", "content": MACHINE_SYSTEM}


def test_multi_step_taskchain_passes_outputs_through_templates(run_chain, ollama):
    scripted(
        ollama,
        {
            "What country is Paris the capital of?": "France",
            "What is the capital of France?": "Paris",
            "Format this nicely: The capital of France is Paris": "The capital of France is Paris.",
        },
    )
    chain = chain_of(
        step("get_country", "raw_string", "capital_task", prompt_template="What country is Paris the capital of?"),
        step(
            "capital_task", "raw_string", "format_response", prompt_template="What is the capital of {{.get_country}}?"
        ),
        step(
            "format_response",
            "raw_string",
            prompt_template="Format this nicely: The capital of {{.get_country}} is {{.capital_task}}",
        ),
        debug=True,
        token_limit=4096,
    )

    body = run_chain(chain, input="Start").json()

    assert len(body["state"]) == 3
    assert body["output"] == "The capital of France is Paris."


@pytest.mark.parametrize(
    ("answer", "path", "output"),
    [("yes", "correct_response", "That's correct!"), ("No.", "incorrect_response", "That's incorrect!")],
)
def test_conditional_branching_follows_the_condition(run_chain, ollama, answer, path, output):
    ollama.answer = lambda model, prompt: answer
    chain = chain_of(
        {
            "id": "check_france",
            "handler": "condition_key",
            "valid_conditions": {"yes": True, "no": False, "Yes.": True, "No.": False, "Yes": True, "No": False},
            "prompt_template": "Is Paris the capital of France? Answer only 'yes' or 'no'.",
            "transition": {
                "branches": [
                    {"operator": "equals", "when": "yes", "goto": "correct_response"},
                    {"operator": "default", "goto": "incorrect_response"},
                ]
            },
        },
        step("correct_response", "noop", prompt_template="That's correct!"),
        step("incorrect_response", "noop", prompt_template="That's incorrect!"),
        debug=True,
    )

    body = run_chain(chain, input="Start").json()

    assert [unit["taskID"] for unit in body["state"]] == ["check_france", path]
    assert body["output"] == output


def test_invalid_chain_definition_without_tasks_is_400(run_chain):
    response = run_chain({"id": "invalid-chain", "description": "This chain is invalid"}, input="test")
    assert response.status_code == 400
    assert response.json()["error"] == "chain.tasks: a chain needs at least one task"


def test_model_execution_task_appends_one_assistant_message(run_chain, ollama):
    scripted(ollama, {"What is the capital of France?": "The capital of France is Paris."})
    chain = chain_of(
        step(
            "chat_task",
            "model_execution",
            system_instruction="You are a helpful assistant",
            execute_config={"model": "llama3:8b", "provider": "ollama"},
        ),
        debug=True,
        token_limit=4096,
    )
    history = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}

    body = run_chain(chain, input=history, input_type="chat_history").json()

    [unit] = body["state"]
    assert (unit["taskID"], unit["inputType"], unit["outputType"]) == ("chat_task", "chat_history", "chat_history")
    assert [(m["role"], m["content"]) for m in body["output"]["messages"]] == [
        ("system", "You are a helpful assistant"),
        ("user", "What is the capital of France?"),
        ("assistant", "The capital of France is Paris."),
    ]


# --- test_execute2.py -----------------------------------------------------------------------------


def test_parse_number_handler_takes_the_in_range_branch(run_chain, ollama):
    scripted(ollama, {"What is 2+2? Respond ONLY with the number.": "4"})
    chain = {
        "id": "number-parsing-chain",
        "debug": True,
        "description": "Test parse_number handler",
        "tasks": [
            {
                "id": "number_task",
                "handler": "parse_number",
                "prompt_template": "What is 2+2? Respond ONLY with the number.",
                "transition": {
                    "branches": [
                        {"operator": "in_range", "when": "3-5", "goto": "success_path"},
                        {"operator": "default", "goto": "failure_path"},
                    ]
                },
            },
            step("success_path", "noop"),
            step("failure_path", "noop"),
        ],
        "token_limit": 4096,
    }

    body = run_chain(chain, input="Calculate 2+2").json()

    assert [unit["taskID"] for unit in body["state"]] == ["number_task", "success_path"]
    number_task = body["state"][0]
    assert (number_task["output"], number_task["outputType"]) == ("4", "int")


def test_parse_range_handler_takes_the_valid_range_branch(run_chain, ollama):
    scripted(ollama, {"What is the range of years for the Renaissance period? Format as 1300-1700.": "1300-1700"})
    chain = {
        "id": "range-parsing-chain",
        "debug": True,
        "description": "Test parse_range handler",
        "tasks": [
            {
                "id": "range_task",
                "handler": "parse_range",
                "prompt_template": "What is the range of years for the Renaissance period? Format as 1300-1700.",
                "transition": {
                    "branches": [
                        {"operator": "in_range", "when": "1200-1800", "goto": "valid_range"},
                        {"operator": "default", "goto": "invalid_range"},
                    ]
                },
            },
            step("valid_range", "noop"),
            step("invalid_range", "noop"),
        ],
        "token_limit": 4096,
    }

    body = run_chain(chain, input="Renaissance period").json()

    assert [unit["taskID"] for unit in body["state"]] == ["range_task", "valid_range"]
    assert body["state"][0]["output"] == "1300-1700"


@pytest.mark.parametrize(
    ("answer", "path"),
    [("very_long_string", "starts_with_path"), ("short", "ends_with_path"), ("Very_long_string", "contains_path")],
)
def test_transition_operators_take_exactly_one_path(run_chain, ollama, answer, path):
    ollama.answer = lambda model, prompt: answer
    chain = {
        "id": "transition-operators-chain",
        "debug": True,
        "description": "Test different transition operators",
        "tasks": [
            {
                "id": "condition_task",
                "handler": "condition_key",
                "system_instruction": MACHINE_SYSTEM,
                "valid_conditions": {"very_long_string": True, "Very_long_string": True, "Short": True, "short": True},
                "prompt_template": "Echo either 'very_long_string' or 'short'.",
                "transition": {
                    "branches": [
                        {"operator": "starts_with", "when": "very", "goto": "starts_with_path"},
                        {"operator": "ends_with", "when": "rt", "goto": "ends_with_path"},
                        {"operator": "contains", "when": "long", "goto": "contains_path"},
                        {"operator": "default", "goto": "default_path"},
                    ]
                },
            },
            step("starts_with_path", "noop"),
            step("ends_with_path", "noop"),
            step("contains_path", "noop"),
            step("default_path", "noop"),
        ],
        "token_limit": 4096,
    }

    body = run_chain(chain, input="Generate test string").json()

    assert [unit["taskID"] for unit in body["state"]] == ["condition_task", path]
    assert body["state"][0]["output"] == answer


def test_a_default_branch_listed_first_is_only_the_fallback(run_chain, ollama):
    ollama.answer = lambda model, prompt: "7"
    chain = chain_of(
        {
            "id": "score",
            "handler": "parse_number",
            "prompt_template": "Rate it",
            "transition": {
                "branches": [
                    {"operator": "default", "goto": "fallback"},
                    {"operator": "gt", "when": "5", "goto": "high"},
                ]
            },
        },
        step("high", "noop"),
        step("fallback", "noop"),
    )

    body = run_chain(chain).json()

    assert [unit["transition"] for unit in body["state"]] == ["high", "end"]


def test_compose_strategies_prepend_the_prompt_to_the_chat_as_system_message(run_chain, ollama):
    scripted(ollama, {"What is the capital of France?": "PARIS"})
    chain = {
        "id": "compose-strategies-chain",
        "debug": True,
        "description": "Test compose strategies",
        "tasks": [
            {
                "id": "compose_task",
                "handler": "noop",
                "compose": {"with_var": "input", "strategy": "append_string_to_chat_history"},
                "prompt_template": "You MUST ONLY respond in all uppercase letters",
                "transition": {"branches": [{"operator": "default", "goto": "chat_task1"}]},
            },
            {
                "id": "chat_task1",
                "handler": "model_execution",
                "execute_config": {"model": "llama3:8b", "provider": "ollama"},
                "transition": {"branches": [{"operator": "default", "goto": "end"}]},
            },
        ],
        "token_limit": 4096,
    }
    initial_chat = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}

    response = run_chain(chain, input=initial_chat, input_type="chat_history")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outputType"] == "chat_history"
    assert [(m["role"], m["content"]) for m in body["output"]["messages"]] == [
        ("system", "You MUST ONLY respond in all uppercase letters"),
        ("user", "What is the capital of France?"),
        ("assistant", "PARIS"),
    ]
    # the noop ran on the rendered prompt; compose then turned its output into the chat
    compose_unit = body["state"][0]
    assert (compose_unit["input"], compose_unit["inputType"]) == (
        "You MUST ONLY respond in all uppercase letters",
        "string",
    )


def test_print_statements_render_task_outputs_into_the_run_log(run_chain, ollama):
    scripted(ollama, {"Hello world": "Hello world", "The answer is 42": "The answer is 42"})
    chain = chain_of(
        step(
            "first_task",
            "raw_string",
            "second_task",
            prompt_template="Hello world",
            print="First task output: {{.first_task}}",
        ),
        step(
            "second_task",
            "raw_string",
            prompt_template="The answer is 42",
            print="Second task output: {{.second_task}}. Previous: {{.first_task}}",
        ),
        debug=True,
        token_limit=4096,
    )

    response = run_chain(chain, input="Test print statements")

    assert response.status_code == 200, response.content
    run = ChainRun.objects.get(pk=response["X-Chain-Run-Id"])
    assert [(entry["kind"], entry["taskID"], entry["text"]) for entry in run.log] == [
        ("print", "first_task", "First task output: Hello world"),
        ("print", "second_task", "Second task output: The answer is 42. Previous: Hello world"),
    ]


# --- test_hookexec.py -----------------------------------------------------------------------------


def test_hook_task_in_chain_speaks_contenox_hook_protocol(client, run_chain, hook_server):
    hook_server.reply = lambda request: MOCK_HOOK_RESPONSE
    created = client.post(
        "/hooks/remote",
        {
            "name": "test-hook-1",
            "endpointUrl": f"{hook_server.url}/test-hook-endpoint",
            "method": "POST",
            "timeoutMs": 5000,
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    chain = chain_of(
        {
            "id": "hook_task",
            "handler": "hook",
            "hook": {"name": "test-hook-1", "args": {"param1": "value1", "param2": "value2"}},
            "transition": ends(),
        },
        debug=True,
        token_limit=4096,
    )

    response = run_chain(chain, input="Trigger hook")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["output"], body["outputType"]) == ("Hook executed successfully", "string")
    [unit] = body["state"]
    assert (unit["taskHandler"], unit["inputType"], unit["outputType"], unit["output"]) == (
        "hook",
        "string",
        "string",
        "Hook executed successfully",
    )
    [request] = hook_server.requests
    sent = request.json
    assert sent["args"] == {"name": "test-hook-1", "args": {"param1": "value1", "param2": "value2"}}
    assert (sent["input"], sent["dataType"], sent["transition"]) == ("Trigger hook", "string", "")
    assert sent["startingTime"].endswith("Z")


def test_a_hook_reply_transition_is_what_the_branches_compare(client, run_chain, hook_server):
    hook_server.reply = lambda request: MOCK_HOOK_RESPONSE
    client.post("/hooks/remote", {"name": "h", "endpointUrl": hook_server.url}, content_type="application/json")
    chain = chain_of(
        {
            "id": "call",
            "handler": "hook",
            "hook": {"name": "h"},
            "transition": {
                "branches": [
                    {"operator": "equals", "when": "ok", "goto": "done"},
                    {"operator": "default", "goto": "end"},
                ]
            },
        },
        step("done", "noop", prompt_template="went {{ .call }}"),
    )
    body = run_chain(chain).json()
    assert body["output"] == "went Hook executed successfully"


@pytest.mark.parametrize(
    ("reply", "output", "output_type"),
    [
        ({"output": 4.0, "dataType": "int"}, 4, "int"),
        ({"output": "plain", "dataType": "any"}, "plain", "any"),
        (
            {"output": [{"role": "user", "content": "hi"}], "dataType": "chat_history"},
            {"messages": [{"role": "user", "content": "hi"}], "model": "", "inputTokens": 0, "outputTokens": 0},
            "chat_history",
        ),
        ({"output": {"a": 1}}, {"a": 1}, "json"),
    ],
)
def test_a_hook_reply_data_type_types_its_output(client, run_chain, hook_server, reply, output, output_type):
    hook_server.reply = lambda request: reply
    client.post("/hooks/remote", {"name": "h", "endpointUrl": hook_server.url}, content_type="application/json")
    body = run_chain(chain_of(step("call", "hook", hook={"name": "h"}))).json()
    assert (body["output"], body["outputType"]) == (output, output_type)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"output": "", "dataType": "string", "error": "mailbox full"}, "failed: mailbox full"),
        ({"output": "x", "dataType": "vector"}, "answered an unknown dataType 'vector'"),
        ({"output": "four", "dataType": "int"}, "is not its dataType 'int'"),
    ],
)
def test_a_hook_reply_with_an_error_or_a_wrong_data_type_fails_the_task(client, run_chain, hook_server, reply, message):
    hook_server.reply = lambda request: reply
    client.post("/hooks/remote", {"name": "h", "endpointUrl": hook_server.url}, content_type="application/json")
    response = run_chain(chain_of(step("call", "hook", hook={"name": "h"})))
    assert response.status_code == 422
    assert response.json()["error"].startswith("task 'call' failed after 1 attempt: remote hook 'h'")
    assert message in response.json()["error"]
