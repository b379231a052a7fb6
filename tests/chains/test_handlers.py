"""Each task handler: how model answers are read (pure), and what each does in a chain (over HTTP,
against a fake Ollama registered as a backend)."""

import pytest

from apps.chains.errors import TaskFailed
from apps.chains.handlers import read_condition, read_integer, read_number, read_range, split_command
from tests.chains.conftest import chain_of, to_end

# --- reading answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "number"), [("7", 7), (" 7. ", 7), ('"12"', 12), ("The answer is 42.", 42), ("7.0", 7), ("-3", -3)]
)
def test_integers_are_read_from_what_models_write(answer, number):
    assert read_integer(answer) == number


@pytest.mark.parametrize("answer", ["7.5", "two", "3 or 4", ""])
def test_an_answer_that_holds_no_single_whole_number_fails(answer):
    with pytest.raises(TaskFailed):
        read_integer(answer)


@pytest.mark.parametrize(("answer", "score"), [("7.5", 7.5), ("Score: 0.25", 0.25), ("9", 9.0), ("'1e-2'", 0.01)])
def test_scores_are_read_as_floats(answer, score):
    assert read_number(answer) == score


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("5-7", "5-7"), ("5 - 7", "5-7"), ("6", "6-6"), ("About 2-4 hours.", "2-4"), ("1.5-2.5", "1.5-2.5")],
)
def test_ranges_are_read_and_a_single_number_is_n_to_n(answer, expected):
    assert read_range(answer) == expected


@pytest.mark.parametrize("answer", ["7-5", "soon", "1-2 or 3-4"])
def test_a_range_that_is_reversed_or_missing_fails(answer):
    with pytest.raises(TaskFailed):
        read_range(answer)


def test_conditions_match_case_insensitively_on_the_answer_or_its_first_word():
    conditions = ("valid", "invalid")
    assert read_condition("Valid", conditions) == "valid"
    assert read_condition(" 'INVALID'. ", conditions) == "invalid"
    assert read_condition("valid, because it names a city", conditions) == "valid"
    with pytest.raises(TaskFailed, match="none of valid, invalid"):
        read_condition("maybe valid", conditions)


def test_a_leading_command_is_split_from_the_text():
    assert split_command("/search cats and dogs") == ("search", "cats and dogs")
    assert split_command("  /help") == ("help", "")
    assert split_command("no command here") == ("pass", "no command here")
    with pytest.raises(TaskFailed, match="names no command"):
        split_command("/ nothing")


# --- handlers in chains ------------------------------------------------------------------------------

with_backend_db = pytest.mark.django_db(transaction=True)


def chat_requests(ollama):
    return [request.json for request in ollama.requests_to("/api/chat")]


@with_backend_db
def test_raw_string_sends_the_rendered_prompt_and_system_instruction_and_returns_the_text(run_chain, ollama):
    task = {
        "id": "answer",
        "handler": "raw_string",
        "system_instruction": "Answer about {{ .input }} briefly.",
        "prompt_template": "Tell me about {{ .input }}",
        "execute_config": {"model": "mistral:7b", "temperature": 0.2},
        "transition": to_end(),
    }
    body = run_chain(chain_of(task), input="Paris").json()

    assert body["output"] == "[chains-ollama/mistral:7b] you said: Tell me about Paris"
    assert body["outputType"] == "string"
    sent = chat_requests(ollama)[-1]
    assert sent["model"] == "mistral:7b"
    assert sent["messages"] == [
        {"role": "system", "content": "Answer about Paris briefly."},
        {"role": "user", "content": "Tell me about Paris"},
    ]
    assert sent["options"]["temperature"] == 0.2


@with_backend_db
def test_condition_key_returns_the_valid_condition_and_branches_on_it(run_chain, ollama):
    ollama.answer = lambda model, prompt: "Invalid."
    tasks = [
        {
            "id": "check",
            "type": "condition_key",  # `type` is accepted for `handler`
            "prompt_template": "Valid? {{ .input }}",
            "valid_conditions": {"valid": True, "invalid": True},
            "transition": {
                "branches": [
                    {"operator": "equals", "when": "valid", "goto": "end"},
                    {"operator": "equals", "when": "invalid", "goto": "reject"},
                ]
            },
        },
        {"id": "reject", "handler": "noop", "prompt_template": "rejected: {{ .check }}", "transition": to_end()},
    ]
    body = run_chain(chain_of(*tasks)).json()

    assert body["output"] == "rejected: invalid"
    assert [(u["taskID"], u["taskHandler"], u["transition"]) for u in body["state"]] == [
        ("check", "condition_key", "reject"),
        ("reject", "noop", "end"),
    ]


@with_backend_db
@pytest.mark.parametrize(
    ("handler", "answer", "output", "output_type"),
    [
        ("parse_number", "42", 42, "int"),
        ("parse_score", "7.5", 7.5, "float"),
        ("parse_range", "5 - 7", "5-7", "string"),
        ("parse_range", "6", "6-6", "string"),
    ],
)
def test_parse_handlers_type_the_model_answer(run_chain, ollama, handler, answer, output, output_type):
    ollama.answer = lambda model, prompt: answer
    task = {"id": "parse", "handler": handler, "prompt_template": "How many? {{ .input }}", "transition": to_end()}
    body = run_chain(chain_of(task)).json()
    assert (body["output"], body["outputType"]) == (output, output_type)
    assert body["state"][0]["outputType"] == output_type


@with_backend_db
def test_parse_transition_branches_on_the_command_and_passes_the_input_on_without_a_model(run_chain, ollama):
    tasks = [
        {
            "id": "route",
            "handler": "parse_transition",
            "transition": {
                "branches": [
                    {"operator": "equals", "when": "search", "goto": "search"},
                    {"operator": "equals", "when": "pass", "goto": "end"},
                ]
            },
        },
        {"id": "search", "handler": "noop", "prompt_template": "searching for {{ .route }}", "transition": to_end()},
    ]
    searched = run_chain(chain_of(*tasks), input="/search cute cats").json()
    passed = run_chain(chain_of(*tasks), input="just chatting").json()
    chat = {"messages": [{"role": "user", "content": "/search dogs"}]}
    from_chat = run_chain(chain_of(*tasks), input=chat, input_type="chat_history").json()

    assert searched["output"] == "searching for /search cute cats"  # contenox passes the input on as is
    assert passed["output"] == "just chatting"
    assert from_chat["output"] == "searching for /search dogs"
    assert [unit["taskID"] for unit in from_chat["state"]] == ["route", "search"]
    assert chat_requests(ollama) == []


@with_backend_db
def test_model_execution_runs_a_chat_history_and_appends_the_answer(run_chain, ollama):
    history = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What is 2+2?"},
        ]
    }
    task = {
        "id": "chat",
        "handler": "model_execution",
        "system_instruction": "Be terse.",
        "execute_config": {"model": "llama3:8b"},
        "transition": {"branches": [{"operator": "contains", "when": "2+2", "goto": "end"}]},
    }
    body = run_chain(chain_of(task), input=history, input_type="chat_history").json()

    assert body["outputType"] == "chat_history"
    messages = body["output"]["messages"]
    assert messages[0] == {"role": "system", "content": "Be terse."}
    assert messages[-1] == {"role": "assistant", "content": "[chains-ollama/llama3:8b] you said: What is 2+2?"}
    assert body["output"]["model"] == "llama3:8b"
    assert body["output"]["inputTokens"] > 0 and body["output"]["outputTokens"] > 0
    assert chat_requests(ollama)[-1]["messages"] == messages[:-1]


@with_backend_db
def test_raise_error_fails_the_chain_with_its_message_and_is_not_retried(run_chain, ollama):
    task = {
        "id": "stop",
        "handler": "raise_error",
        "prompt_template": "refusing {{ .input }}",
        "retry_on_failure": 3,
        "transition": to_end(),
    }
    response = run_chain(chain_of(task), input="this")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "task 'stop' failed after 1 attempt: refusing this"
    assert [unit["error"] for unit in body["state"]] == [{"error": "refusing this"}]


@with_backend_db
def test_noop_passes_its_input_on_and_formats_with_a_prompt_template(run_chain, ollama):
    tasks = [
        {"id": "same", "handler": "noop", "transition": {"branches": [{"when": "default", "goto": "shout"}]}},
        {"id": "shout", "handler": "noop", "prompt_template": "{{ .same }}!", "transition": to_end()},
    ]
    body = run_chain(chain_of(*tasks), input="hey").json()
    assert body["output"] == "hey!"
    assert [unit["transition"] for unit in body["state"]] == ["shout", "end"]
    assert chat_requests(ollama) == []
