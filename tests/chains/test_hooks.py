"""Hooks: /hooks/remote CRUD and /supported, remote hooks called from chains (against a real HTTP
server on 127.0.0.1 that can be slow or fail), and the built-in echo and http_request hooks."""

import time

import pytest

from apps.chains import services
from apps.chains.models import RemoteHook
from tests.chains.conftest import chain_of, step, to_end

pytestmark = pytest.mark.django_db

SPEC_HOOK = {
    "createdAt": "2023-11-15T14:30:45Z",
    "endpointUrl": "http://hooks-endpoint:port",
    "id": "h1a2b3c4-d5e6-f7g8-h9i0-j1k2l3m4n5o6",
    "method": "POST",
    "name": "send-email",
    "timeoutMs": 5000,
    "updatedAt": "2023-11-15T14:30:45Z",
}


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def put(client, path, body):
    return client.put(path, body, content_type="application/json")


def make_hook(client, name="notify", url="http://127.0.0.1:9/hook", **fields):
    response = post(client, "/hooks/remote", {"name": name, "endpointUrl": url, **fields})
    assert response.status_code == 201, response.content
    return response.json()


# --- /hooks/remote ------------------------------------------------------------------------------------


def test_the_spec_example_hook_is_created_as_sent(client):
    response = post(client, "/hooks/remote", SPEC_HOOK)

    assert response.status_code == 201, response.content
    created = response.json()
    assert set(created) == set(SPEC_HOOK)
    assert {key: created[key] for key in ("id", "name", "endpointUrl", "method", "timeoutMs")} == {
        key: SPEC_HOOK[key] for key in ("id", "name", "endpointUrl", "method", "timeoutMs")
    }
    assert created["createdAt"] != SPEC_HOOK["createdAt"]  # the server's own times


def test_a_hook_is_listed_read_updated_and_deleted(client):
    created = make_hook(client, method="get", timeoutMs=1500)
    assert (created["method"], created["timeoutMs"]) == ("GET", 1500)
    hook_id = created["id"]

    assert [hook["name"] for hook in client.get("/hooks/remote").json()] == ["notify"]
    assert client.get(f"/hooks/remote/{hook_id}").json()["endpointUrl"] == "http://127.0.0.1:9/hook"
    assert client.get("/hooks/remote/by-name/notify").json()["id"] == hook_id

    updated = put(
        client,
        f"/hooks/remote/{hook_id}",
        {"id": "another-id", "name": "notify-2", "endpointUrl": "https://example.org/h", "timeoutMs": 200},
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["id"] == hook_id  # the id in the path wins
    assert (updated.json()["name"], updated.json()["method"]) == ("notify-2", "POST")

    deleted = client.delete(f"/hooks/remote/{hook_id}")
    assert (deleted.status_code, deleted.json()) == (200, "deleted")
    missing = client.get(f"/hooks/remote/{hook_id}")
    assert (missing.status_code, missing.json()) == (404, {"error": f"remote hook {hook_id} not found"})
    assert client.delete(f"/hooks/remote/{hook_id}").status_code == 404


def test_hook_list_pages_by_cursor_and_limit(client):
    for name in ("a", "b", "c"):
        make_hook(client, name=name)
    first_page = client.get("/hooks/remote?limit=2").json()
    assert [hook["name"] for hook in first_page] == ["c", "b"]
    rest = client.get("/hooks/remote", {"cursor": first_page[-1]["createdAt"]}).json()
    assert [hook["name"] for hook in rest] == ["a"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "notify", "endpointUrl": "http://x/y"}, 409, "a remote hook named 'notify' already exists"),
        ({"name": "echo", "endpointUrl": "http://x/y"}, 409, "'echo' is the name of a built-in hook"),
        ({"name": "n2", "endpointUrl": "ftp://x/y"}, 400, "endpointUrl: must be an http:// or https:// URL"),
        ({"name": "n2", "endpointUrl": "http://x/y", "method": "TRACE"}, 400, "method: use one of GET, POST"),
        ({"name": "n2", "endpointUrl": "http://x/y", "timeoutMs": 0}, 400, "timeoutMs: must be from 1 to"),
        ({"name": "n2", "endpointUrl": "http://x/y", "id": "no spaces"}, 400, "id: up to 64 letters"),
        ({"endpointUrl": "http://x/y"}, 400, "invalid request: name: This field is required."),
    ],
)
def test_an_invalid_or_clashing_hook_is_refused(client, body, status, message):
    make_hook(client)
    response = post(client, "/hooks/remote", body)
    assert response.status_code == status
    assert response.json()["error"].startswith(message), response.json()


def test_renaming_a_hook_onto_another_ones_name_is_a_conflict(client):
    make_hook(client, name="first")
    second = make_hook(client, name="second")
    response = put(client, f"/hooks/remote/{second['id']}", {"name": "first", "endpointUrl": "http://x/y"})
    assert response.status_code == 409


def test_supported_lists_the_built_in_hooks_then_the_remote_ones(client):
    assert client.get("/supported").json() == ["echo", "http_request"]
    make_hook(client, name="zeta")
    make_hook(client, name="alpha")
    assert client.get("/supported").json() == ["echo", "http_request", "alpha", "zeta"]


# --- remote hooks in chains -------------------------------------------------------------------------


def hook_task(name: str, **fields: object) -> dict:
    return {
        "id": "call",
        "handler": "hook",
        "hook": {"type": name, "args": {"to": "ops", "about": "{{ .input }}"}},
        "transition": to_end(),
        **fields,
    }


def test_a_remote_hook_gets_the_input_and_args_and_its_output_goes_on(client, run_chain, hook_server):
    make_hook(client, name="notify", url=f"{hook_server.url}/notify")
    hook_server.reply = lambda request: {"output": f"sent to {request.json['args']['args']['to']}", "transition": "ok"}
    tasks = [
        hook_task("notify", transition={"branches": [{"operator": "equals", "when": "ok", "goto": "after"}]}),
        step("after", "noop", prompt_template="{{ .call }}!"),
    ]
    body = run_chain(chain_of(*tasks), input="disk full").json()

    assert body["output"] == "sent to ops!"
    [request] = hook_server.requests
    assert (request.method, request.path) == ("POST", "/notify")
    sent = dict(request.json)
    assert sent.pop("startingTime").endswith("Z")
    assert sent == {  # contenox's hook request, plus the hook, chain and task it comes from
        "input": "disk full",
        "dataType": "string",
        "transition": "",
        "args": {"name": "notify", "args": {"to": "ops", "about": "disk full"}},
        "hook": "notify",
        "chainID": "test-chain",
        "taskID": "call",
    }


def test_a_reply_without_an_output_key_is_the_output_itself(client, run_chain, hook_server):
    make_hook(client, name="lookup", url=hook_server.url)
    hook_server.reply = lambda request: {"city": "Paris", "country": "France"}
    body = run_chain(chain_of(hook_task("lookup"))).json()
    assert (body["output"], body["outputType"]) == ({"city": "Paris", "country": "France"}, "json")


def test_a_get_hook_sends_the_input_and_args_as_query_parameters(client, run_chain, hook_server):
    make_hook(client, name="search", url=f"{hook_server.url}/search", method="GET")
    run_chain(chain_of(hook_task("search")), input="cats")
    [request] = hook_server.requests
    assert request.method == "GET"
    assert request.query == {"input": "cats", "to": "ops", "about": "cats"}


def test_a_hook_that_fails_is_retried(client, run_chain, hook_server):
    make_hook(client, name="flaky", url=hook_server.url)
    hook_server.fail_next(2, status=503)
    body = run_chain(chain_of(hook_task("flaky", retry_on_failure=2))).json()

    failed = f"remote hook 'flaky' (POST {hook_server.url}) answered HTTP 503: "
    assert [unit["error"].get("error", "")[: len(failed)] for unit in body["state"]] == [failed, failed, ""]
    assert body["output"] == {"echo": hook_server.requests[-1].json}


def test_a_slow_hook_times_out_at_its_timeout_and_on_failure_applies(client, run_chain, hook_server):
    make_hook(client, name="slow", url=hook_server.url, timeoutMs=300)
    hook_server.delay_s = 2
    tasks = [
        hook_task("slow", transition={"branches": [{"goto": "end", "when": "default"}], "on_failure": "fallback"}),
        step("fallback", "noop", prompt_template="no answer: {{ .error }}"),
    ]
    started = time.monotonic()
    body = run_chain(chain_of(*tasks)).json()

    assert time.monotonic() - started < 1.5
    assert body["output"] == f"no answer: remote hook 'slow' (POST {hook_server.url}) timed out after 0.3 s"
    assert body["state"][0]["transition"] == "fallback"


def test_the_task_timeout_bounds_a_hook_with_a_longer_one(client, run_chain, hook_server):
    make_hook(client, name="slow", url=hook_server.url, timeoutMs=10_000)
    hook_server.delay_s = 2
    response = run_chain(chain_of(hook_task("slow", timeout="250ms")))
    assert response.status_code == 422
    assert "timed out after 0.25 s" in response.json()["error"]


def test_a_hook_reply_that_is_not_json_fails_the_task(client, run_chain, hook_server):
    make_hook(client, name="html", url=hook_server.url)
    hook_server.content_type = "text/html"
    hook_server.reply = lambda request: "<html>oops</html>"
    response = run_chain(chain_of(hook_task("html")))
    assert response.status_code == 422
    assert "did not answer JSON" in response.json()["error"]


@pytest.mark.parametrize("depth", [500, 100_000])
def test_a_hook_reply_nested_too_deep_fails_the_task(client, run_chain, hook_server, depth):
    make_hook(client, name="deep", url=hook_server.url)
    hook_server.content_type = "application/json; charset=utf-8"  # the reply is sent as written
    hook_server.reply = lambda request: '{"output": ' + "[" * depth + "]" * depth + "}"
    response = run_chain(chain_of(hook_task("deep")))
    assert response.status_code == 422
    assert response.json()["error"] == (
        f"task 'call' failed after 1 attempt: remote hook 'deep' (POST {hook_server.url}) answered JSON nested "
        "deeper than 64 levels (MODELYARD_MAX_JSON_DEPTH)"
    )


def test_a_hook_reply_over_the_size_limit_fails_the_task(client, run_chain, hook_server, settings):
    settings.MODELYARD_CHAINS_HOOK_MAX_BYTES = 100
    make_hook(client, name="big", url=hook_server.url)
    hook_server.reply = lambda request: {"output": "x" * 500}
    response = run_chain(chain_of(hook_task("big")))
    assert response.status_code == 422
    assert "answered more than 100 bytes" in response.json()["error"]


def test_a_hook_deleted_after_the_chain_was_written_is_refused_up_front(client, run_chain):
    hook = make_hook(client, name="gone")
    services.remote_hook_delete(hook_id=hook["id"])
    response = run_chain(chain_of(hook_task("gone")))
    assert response.status_code == 400
    assert "'gone' is not a known hook" in response.json()["error"]


# --- built-in hooks ---------------------------------------------------------------------------------


def test_echo_returns_the_input_or_its_message(run_chain):
    plain = run_chain(chain_of(step("say", "hook", hook={"type": "echo"})), input={"k": 1}, input_type="json")
    message = run_chain(chain_of(step("say", "hook", hook={"name": "echo", "args": {"message": "hi {{ .input }}"}})))
    assert (plain.json()["output"], plain.json()["outputType"]) == ({"k": 1}, "json")
    assert message.json()["output"] == "hi hello"


def test_http_request_calls_a_url_and_parses_json(run_chain, hook_server):
    hook_server.reply = lambda request: {"temperature": 21, "query": request.query}
    args = {"url": f"{hook_server.url}/weather", "query": {"city": "{{ .input }}"}, "headers": {"X-Trace": "1"}}
    body = run_chain(chain_of(step("get", "hook", hook={"type": "http_request", "args": args})), input="Oslo").json()

    assert body["output"] == {"temperature": 21, "query": {"city": "Oslo"}}
    [request] = hook_server.requests
    assert (request.method, request.path, request.headers["x-trace"]) == ("GET", "/weather", "1")


def test_http_request_posts_the_task_input_and_returns_text(run_chain, hook_server):
    hook_server.content_type = "text/plain"
    hook_server.reply = lambda request: f"got {request.json['n']}"
    args = {"url": hook_server.url, "method": "post"}
    body = run_chain(
        chain_of(step("send", "hook", hook={"type": "http_request", "args": args})), input={"n": 5}, input_type="json"
    ).json()
    assert (body["output"], body["outputType"]) == ("got 5", "string")
    assert hook_server.requests[0].json == {"n": 5}


def test_http_request_fails_on_an_error_status_and_off_the_allowed_hosts(run_chain, hook_server, settings):
    hook_server.fail_next(1, status=404)
    task = step("get", "hook", hook={"type": "http_request", "args": {"url": hook_server.url}})
    failed = run_chain(chain_of(task))
    settings.MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS = ["api.example.org"]
    refused = run_chain(chain_of(task))

    assert f"http_request GET {hook_server.url} answered HTTP 404" in failed.json()["error"]
    assert "may not call '127.0.0.1'" in refused.json()["error"]
    assert len(hook_server.requests) == 1


def test_http_request_follows_redirects_only_to_allowed_hosts(run_chain, hook_server, settings):
    settings.MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    port = hook_server.url.rsplit(":", 1)[1]
    task = step("get", "hook", hook={"type": "http_request", "args": {"url": f"{hook_server.url}/start"}})

    hook_server.redirect_next(f"{hook_server.url}/allowed")
    followed = run_chain(chain_of(task))
    hook_server.redirect_next(f"http://localhost:{port}/elsewhere")  # the same server, by a host not allowed
    refused = run_chain(chain_of(task))

    assert followed.status_code == 200, followed.content
    assert "may not call 'localhost'" in refused.json()["error"]
    assert [request.path for request in hook_server.requests] == ["/start", "/allowed", "/start"]


def test_a_remote_hook_with_an_unusable_url_fails_its_task_cleanly(client, run_chain):
    make_hook(client, name="spec-like", url="http://hooks-endpoint:port")  # the spec's own example URL
    task = step("call", "hook", hook={"type": "spec-like"})
    response = run_chain(chain_of(task))
    assert response.status_code == 422
    assert "has an invalid URL" in response.json()["error"]


# --- admin ------------------------------------------------------------------------------------------


def test_hooks_are_managed_in_the_admin_with_the_api_rules(admin_client):
    form = {"name": "pager", "endpoint_url": "https://pager.example/hook", "method": "POST", "timeout_ms": 800}
    added = admin_client.post("/admin/chains/remotehook/add/", form)
    clash = admin_client.post("/admin/chains/remotehook/add/", {**form, "name": "echo"})
    bad_url = admin_client.post("/admin/chains/remotehook/add/", {**form, "name": "p2", "endpoint_url": "pager"})

    assert added.status_code == 302
    hook = RemoteHook.objects.get(name="pager")
    assert (hook.timeout_ms, hook.method) == (800, "POST")
    assert clash.status_code == 200 and b"is the name of a built-in hook" in clash.content
    assert bad_url.status_code == 200 and b"must be an http:// or https:// URL" in bad_url.content
    assert admin_client.get("/admin/chains/remotehook/").status_code == 200
    changed = admin_client.post(f"/admin/chains/remotehook/{hook.pk}/change/", {**form, "timeout_ms": 900})
    assert changed.status_code == 302
    assert RemoteHook.objects.get(pk=hook.pk).timeout_ms == 900
