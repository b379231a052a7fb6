"""The engine through POST /tasks: the spec's example, templates and variables, retries, timeouts,
failure jumps, the loop guard, debug, token limits, execute_config and compose."""

import json
import time

import pytest

from apps.chains.models import ChainRun
from tests.chains.conftest import chain_of, step, to_end

pytestmark = pytest.mark.django_db(transaction=True)

# The request example of specs/runtime-api.md (executeTaskChain), byte for byte: a list with one chain,
# empty objects for unused parts, valid_conditions as an escaped JSON string.
SPEC_EXAMPLE = r"""
{
  "chain": [
    {
      "debug": true,
      "description": "string",
      "id": "string",
      "tasks": [
        {
          "compose": {},
          "description": "Validates user input meets quality requirements",
          "execute_config": {},
          "handler": "condition_key",
          "hook": {},
          "id": "validate_input",
          "input_var": "input",
          "print": "Validation result: {{.validate_input}}",
          "prompt_template": "Is this input valid? {{.input}}",
          "retry_on_failure": 2,
          "system_instruction": "You are a quality control assistant. Respond only with 'valid' or 'invalid'.",
          "timeout": "30s",
          "transition": {},
          "valid_conditions": "{\\\"valid\\\": true, \\\"invalid\\\": true}"
        }
      ],
      "token_limit": 0
    }
  ],
  "input": "What is the capital of France",
  "inputType": "string"
}
"""


def chat_requests(ollama):
    return [request.json for request in ollama.requests_to("/api/chat")]


def test_the_spec_example_chain_runs_end_to_end(client, ollama):
    ollama.answer = lambda model, prompt: "valid"

    response = client.post("/tasks", SPEC_EXAMPLE, content_type="application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"output", "outputType", "state"}
    assert (body["output"], body["outputType"]) == ("valid", "string")
    [unit] = body["state"]
    assert set(unit) == {
        "taskID", "taskHandler", "input", "output", "inputType", "outputType", "transition", "duration", "error",
    }  # fmt: skip
    assert unit["taskID"] == "validate_input" and unit["taskHandler"] == "condition_key"
    assert (unit["input"], unit["output"]) == ("Is this input valid? What is the capital of France", "valid")
    assert (unit["transition"], unit["error"]) == ("end", {})
    assert isinstance(unit["duration"], int) and unit["duration"] > 0
    assert chat_requests(ollama)[-1]["messages"][0] == {
        "role": "system",
        "content": "You are a quality control assistant. Respond only with 'valid' or 'invalid'.",
    }
    run = ChainRun.objects.get(pk=response["X-Chain-Run-Id"])
    assert run.status == "succeeded" and run.chain_id == "string"
    assert run.log == [{"kind": "print", "taskID": "validate_input", "text": "Validation result: valid"}]


def test_task_outputs_are_variables_for_later_tasks_and_input_var_picks_one(run_chain, ollama):
    ollama.answer = lambda model, prompt: f"<{prompt}>"
    tasks = [
        step("first", "raw_string", "second", prompt_template="A {{ .input }}"),
        step("second", "raw_string", "third", prompt_template="B {{ .previous_output }}"),
        step("third", "noop", "fourth", input_var="first"),
        step("fourth", "noop", prompt_template="{{.input}} | {{ .first }} | {{ .second }} | {{ .third }}"),
    ]
    body = run_chain(chain_of(*tasks), input="x").json()
    assert body["output"] == "x | <A x> | <B <A x>> | <A x>"


def test_a_failing_model_call_is_retried_until_it_succeeds(run_chain, ollama):
    ollama.fail_next(2, status=500, path="/api/chat")
    task = {"id": "ask", "handler": "raw_string", "retry_on_failure": 2, "transition": to_end()}

    body = run_chain(chain_of(task)).json()

    assert body["output"].endswith("you said: hello")
    errors = [unit["error"] for unit in body["state"]]
    assert len(errors) == 3 and errors[2] == {}
    assert "model call failed" in errors[0]["error"] and "500" in errors[0]["error"]
    assert [unit["transition"] for unit in body["state"]] == ["", "", "end"]


def test_an_answer_that_does_not_parse_is_asked_again(run_chain, ollama):
    answers = iter(["I think about seven or eight", "8"])
    ollama.answer = lambda model, prompt: next(answers)
    task = {"id": "count", "handler": "parse_number", "retry_on_failure": 1, "transition": to_end()}

    body = run_chain(chain_of(task)).json()

    assert body["output"] == 8
    assert "expected a number" in body["state"][0]["error"]["error"]


def test_when_retries_run_out_the_chain_fails_with_the_task_and_its_state(run_chain, ollama):
    ollama.answer = lambda model, prompt: "not a number"
    task = {"id": "count", "handler": "parse_number", "retry_on_failure": 1, "transition": to_end()}

    response = run_chain(chain_of(task))

    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("task 'count' failed after 2 attempts: expected a number")
    assert len(body["state"]) == 2
    run = ChainRun.objects.get(pk=body["chainRunId"])
    assert (run.status, run.steps, run.output) == ("failed", 2, None)
    assert run.error == body["error"]


def test_on_failure_jumps_to_the_fallback_with_the_same_input_and_sends_the_alert(run_chain, ollama):
    ollama.fail_next(1, status=500, path="/api/chat")
    tasks = [
        {
            "id": "primary",
            "handler": "raw_string",
            "transition": {
                "branches": [{"operator": "default", "goto": "end"}],
                "on_failure": "fallback",
                "on_failure_alert": "{{ .task_id }} failed: {{ .error }}",
            },
        },
        {"id": "fallback", "handler": "noop", "prompt_template": "fallback for {{ .input }}", "transition": to_end()},
    ]
    response = run_chain(chain_of(*tasks, debug=True), input="q")

    body = response.json()
    assert body["output"] == "fallback for q"
    assert [(u["taskID"], u["transition"]) for u in body["state"]] == [("primary", "fallback"), ("fallback", "end")]
    assert body["state"][1]["input"] == "fallback for q"
    [alert] = ChainRun.objects.get(pk=response["X-Chain-Run-Id"]).log
    assert alert["kind"] == "alert" and alert["text"].startswith("primary failed: model call failed")


def test_a_branch_alert_is_rendered_with_the_output(run_chain, ollama):
    ollama.answer = lambda model, prompt: "9"
    task = {
        "id": "score",
        "handler": "parse_score",
        "transition": {
            "branches": [
                {
                    "operator": ">",
                    "when": "8",
                    "goto": "end",
                    "alert_on_match": "high score {{ .output }} on {{.input}}",
                },
                {"operator": "default", "goto": "end"},
            ]
        },
    }
    response = run_chain(chain_of(task), input="essay")
    log = ChainRun.objects.get(pk=response["X-Chain-Run-Id"]).log
    assert log == [{"kind": "alert", "taskID": "score", "text": "high score 9 on essay"}]


def test_a_whole_score_reads_as_a_whole_number_in_branches_and_templates(run_chain, ollama):
    ollama.answer = lambda model, prompt: "Score: 8.0"
    tasks = [
        {
            "id": "score",
            "handler": "parse_score",
            "transition": {"branches": [{"operator": "equals", "when": "8", "goto": "say"}]},
        },
        step("say", "noop", prompt_template="scored {{ .score }}"),
    ]
    body = run_chain(chain_of(*tasks)).json()
    assert body["output"] == "scored 8"
    assert [unit["transition"] for unit in body["state"]] == ["say", "end"]


def test_a_task_that_takes_longer_than_its_timeout_fails_and_on_failure_applies(run_chain, ollama):
    run_chain(chain_of({"id": "warm", "handler": "raw_string", "transition": to_end()}))  # first sync of the backend
    ollama.hang(path="/api/chat")
    tasks = [
        {
            "id": "slow",
            "handler": "raw_string",
            "timeout": "300ms",
            "retry_on_failure": 1,
            "transition": {"branches": [{"operator": "default", "goto": "end"}], "on_failure": "fallback"},
        },
        {"id": "fallback", "handler": "noop", "prompt_template": "gave up", "transition": to_end()},
    ]
    started = time.monotonic()
    try:
        body = run_chain(chain_of(*tasks)).json()
    finally:
        ollama.stop_hanging()
    elapsed = time.monotonic() - started

    assert body["output"] == "gave up"
    assert [unit["error"] for unit in body["state"][:2]] == [{"error": "timed out after 0.3 s"}] * 2
    assert all(0.3e9 <= unit["duration"] < 1.5e9 for unit in body["state"][:2])
    assert elapsed < 3


def test_a_chain_that_loops_is_stopped_by_the_step_limit(run_chain, settings):
    settings.MODELYARD_CHAINS_MAX_STEPS = 10
    tasks = [step("ping", "noop", "pong"), step("pong", "noop", "ping")]
    response = run_chain(chain_of(*tasks))

    assert response.status_code == 422
    body = response.json()
    assert "stopped after 10 task runs" in body["error"] and "it seems to loop" in body["error"]
    assert "ping → pong" in body["error"]
    assert len(body["state"]) == 10
    assert ChainRun.objects.get(pk=body["chainRunId"]).steps == 10


def test_no_matching_branch_is_an_error_naming_the_task_and_the_output(run_chain, ollama):
    ollama.answer = lambda model, prompt: "maybe"
    task = {
        "id": "decide",
        "handler": "raw_string",
        "transition": {"branches": [{"operator": "equals", "when": "yes", "goto": "end"}]},
    }
    response = run_chain(chain_of(task))
    assert response.status_code == 422
    assert response.json()["error"] == "task 'decide': no branch matches its output 'maybe' (branches: equals 'yes')"


def test_without_debug_the_state_keeps_no_inputs_or_outputs(run_chain, ollama):
    task = {"id": "ask", "handler": "raw_string", "prompt_template": "secret {{ .input }}", "transition": to_end()}
    body = run_chain(chain_of(task, debug=False), input="password").json()
    [unit] = body["state"]
    assert (unit["input"], unit["output"]) == ("", "")  # the spec's fields stay, empty
    assert unit["outputType"] == "string" and unit["transition"] == "end"
    assert "password" not in json.dumps(body["state"])


def test_a_prompt_over_the_token_limit_is_refused_without_calling_the_model(run_chain, ollama):
    task = {"id": "ask", "handler": "raw_string", "retry_on_failure": 2, "transition": to_end()}
    response = run_chain(chain_of(task, token_limit=10), input="word " * 40)

    assert response.status_code == 422
    assert "over the chain's token_limit of 10" in response.json()["error"]
    assert len(response.json()["state"]) == 1  # refusing again would not help: no retry
    assert chat_requests(ollama) == []


def test_a_chat_over_the_token_limit_loses_its_oldest_turns(run_chain, ollama):
    long_turn = "x" * 200  # about 50 tokens each
    history = {
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": long_turn},
            {"role": "assistant", "content": long_turn},
            {"role": "user", "content": "latest question"},
        ]
    }
    task = {"id": "chat", "handler": "model_execution", "transition": to_end()}
    response = run_chain(chain_of(task, token_limit=70), input=history, input_type="chat_history")

    assert response.status_code == 200, response.content
    sent = chat_requests(ollama)[-1]["messages"]
    assert sent == [
        {"role": "system", "content": "Be kind."},
        {"role": "assistant", "content": long_turn},
        {"role": "user", "content": "latest question"},
    ]


def test_execute_config_models_are_tried_in_order(run_chain, ollama):
    task = {
        "id": "ask",
        "handler": "raw_string",
        "execute_config": {"models": ["missing:1b", "mistral:7b"], "provider": "ollama"},
        "transition": to_end(),
    }
    body = run_chain(chain_of(task)).json()
    assert body["output"].startswith("[chains-ollama/mistral:7b]")


def test_a_provider_with_no_backend_fails_the_task(run_chain, ollama):
    task = {"id": "ask", "handler": "raw_string", "execute_config": {"providers": ["openai"]}, "transition": to_end()}
    response = run_chain(chain_of(task))
    assert response.status_code == 422
    assert "llama3:8b on openai" in response.json()["error"]


def test_compose_applies_to_the_output_appending_a_string_and_merging_histories(run_chain, ollama):
    history = {"messages": [{"role": "user", "content": "first question"}], "inputTokens": 5}
    tasks = [
        # the noop outputs its rendered prompt; compose makes it the system message of the chat
        step(
            "context",
            "noop",
            "answer",
            prompt_template="Paris is in France.",
            compose={"with_var": "input", "strategy": "append_string_to_chat_history"},
        ),
        step("answer", "model_execution", "both"),
        # no strategy and two chat histories: merged, with_var's messages first, token counts added
        step("both", "noop", input_var="input", compose={"with_var": "answer"}),
    ]
    body = run_chain(chain_of(*tasks, debug=True), input=history, input_type="chat_history").json()

    assert chat_requests(ollama)[-1]["messages"] == [
        {"role": "system", "content": "Paris is in France."},
        {"role": "user", "content": "first question"},
    ]
    answer = "[chains-ollama/llama3:8b] you said: first question"
    assert [m["content"] for m in body["output"]["messages"]] == [
        "Paris is in France.",
        "first question",
        answer,
        "first question",
    ]
    assert body["output"]["inputTokens"] > 5
    assert body["outputType"] == "chat_history"
    # each state unit keeps what the handler itself produced
    assert json.loads(body["state"][2]["output"])["messages"] == history["messages"]


def test_compose_override_merges_objects_with_the_tasks_output_winning(run_chain, ollama):
    tasks = [
        step("defaults", "hook", "merged", hook={"type": "echo", "args": {"message": {"a": 1, "b": {"c": 2}}}}),
        step(
            "merged",
            "noop",
            "shown",
            input_var="defaults",
            compose={"with_var": "input", "strategy": "override"},
        ),
        step("shown", "noop", prompt_template="{{ .merged_composed }} / {{ .merged }}"),
    ]
    body = run_chain(chain_of(*tasks), input={"b": {"c": 9, "d": 3}}, input_type="json").json()
    merged = '{"a": 1, "b": {"c": 2, "d": 3}}'
    assert body["output"] == f"{merged} / {merged}"


def test_compose_runs_after_the_task_and_branches_compare_the_handler_output(run_chain, ollama):
    ollama.answer = lambda model, prompt: "yes"
    history = {"messages": [{"role": "user", "content": "Is it?"}]}
    tasks = [
        {
            "id": "ask",
            "handler": "condition_key",
            "prompt_template": "Is it? {{ .input }}",
            "valid_conditions": {"yes": True, "no": True},
            "compose": {"with_var": "input", "strategy": "append_string_to_chat_history"},
            "transition": {"branches": [{"operator": "equals", "when": "yes", "goto": "end"}]},
        }
    ]
    body = run_chain(chain_of(*tasks), input=history, input_type="chat_history").json()

    assert chat_requests(ollama)[-1]["messages"] == [{"role": "user", "content": "Is it? Is it?"}]
    assert body["output"]["messages"] == [{"role": "system", "content": "yes"}, *history["messages"]]
    assert body["state"][0]["transition"] == "end"


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ("merge_chat_histories", "compose merge_chat_histories needs two chat histories, got string and string"),
        ("override", "compose override needs two JSON objects, got string and string"),
        (
            "append_string_to_chat_history",
            "compose append_string_to_chat_history needs a string and a chat history, got string and string",
        ),
    ],
)
def test_compose_of_mismatched_types_stops_the_chain_without_retry_or_on_failure(run_chain, strategy, message):
    tasks = [
        {
            "id": "merge",
            "handler": "noop",
            "retry_on_failure": 2,
            "compose": {"with_var": "input", "strategy": strategy},
            "transition": {"on_failure": "fallback", "branches": [{"operator": "default", "goto": "end"}]},
        },
        step("fallback", "noop"),
    ]
    response = run_chain(chain_of(*tasks), input="plain text")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == f"task 'merge': {message}"
    assert [(unit["taskID"], unit["error"]) for unit in body["state"]] == [("merge", {"error": message})]


def test_a_template_naming_a_task_that_has_not_run_fails_the_task(run_chain):
    tasks = [step("early", "noop", "late", prompt_template="{{ .late }}"), step("late", "noop")]
    response = run_chain(chain_of(*tasks))
    assert response.status_code == 422
    assert "{{ .late }} has no value yet" in response.json()["error"]
