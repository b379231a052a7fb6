"""What the gateway and the runtime API answer when they cannot serve a request.

A model no backend has is 404 (OpenAI's `model_not_found` on the gateway), so clients stop
retrying; 503 is kept for a model some backend has while every such backend is down. Every gateway
error is OpenAI's error object, with a string `code` or null, whichever layer answers it. Options a
backend cannot honour (`dimensions`, remote images on Ollama) are refused, never dropped.
"""

import base64
from urllib.parse import urlencode

import httpx2
import openai
import pytest
from django.core.wsgi import get_wsgi_application

from apps.backends import gateway, routing, services
from apps.backends.sync import backends_sync
from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_routing")]

HI = [{"role": "user", "content": "hi"}]
PNG = b"\x89PNG\r\n\x1a\n-not-really-an-image"


def post(client, path, body, **extra):
    return client.post(path, body, content_type="application/json", **extra)


def openai_error(message, *, type="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def register(fake, *, type: str = "ollama") -> None:
    backends_sync([services.backend_create(name=fake.name, base_url=fake.url, type=type)])
    routing.routing_invalidate()


@pytest.fixture
def ollama():
    with FakeOllama(name="err-ollama") as fake:
        register(fake)
        yield fake


@pytest.fixture
def client_openai() -> openai.OpenAI:
    transport = httpx2.WSGITransport(app=get_wsgi_application())
    return openai.OpenAI(
        base_url="http://testserver/v1",
        api_key="unused",
        http_client=httpx2.Client(transport=transport, base_url="http://testserver/v1"),
    )


# --- a model no backend has: 404 everywhere --------------------------------------------------------


def test_a_chat_with_a_model_no_backend_has_is_404_model_not_found(client, ollama):
    response = post(client, "/v1/chat/completions", {"model": "zzz", "messages": HI})

    assert response.status_code == 404
    assert response.json() == openai_error("no backend has model 'zzz'", code="model_not_found")


def test_the_openai_client_gets_not_found_at_once_instead_of_retrying(client_openai, ollama):
    with pytest.raises(openai.NotFoundError) as error:
        client_openai.chat.completions.create(model="zzz", messages=HI)

    assert (error.value.status_code, error.value.code) == (404, "model_not_found")


def test_embeddings_with_a_model_no_backend_has_is_404_model_not_found(client, ollama):
    response = post(client, "/v1/embeddings", {"model": "zzz", "input": "hi"})

    assert response.status_code == 404
    assert response.json() == openai_error("no backend has model 'zzz'", code="model_not_found")


def test_execute_with_a_model_no_backend_has_is_404(client, ollama):
    response = post(client, "/execute", {"prompt": "hi", "model_name": "nope:1"})

    assert response.status_code == 404
    assert response.json() == {"error": "no backend has model 'nope:1'", "model": "nope:1"}


def test_embed_with_an_embedding_model_no_backend_has_is_404(client, ollama, settings):
    settings.MODELYARD_EMBED_MODEL = "nope-embed:1"

    response = post(client, "/embed", {"text": "hi"})

    assert response.status_code == 404
    assert response.json() == {"error": "no backend has model 'nope-embed:1'", "model": "nope-embed:1"}


def test_with_pools_a_pooled_model_no_backend_of_its_pools_has_is_404(client, ollama):
    pool = services.pool_create(name="chat", purpose_type="Internal Tasks")
    declared = services.model_create(model="phi3:mini")
    services.pool_model_assign(pool_id=pool.id, model_id=declared.id)
    routing.routing_invalidate()

    response = post(client, "/execute", {"prompt": "hi", "model_name": "phi3:mini"})

    assert response.status_code == 404
    assert response.json() == {"error": "no backend in pool(s) chat has model 'phi3:mini'", "model": "phi3:mini"}


def test_a_model_whose_every_backend_is_down_is_still_503(client, ollama):
    ollama.go_down()

    executed = post(client, "/execute", {"prompt": "hi", "model_name": "llama3:8b"})
    chatted = post(client, "/v1/chat/completions", {"model": "llama3:8b", "messages": HI})

    assert executed.status_code == 503
    assert executed.json()["error"].startswith("every backend with model 'llama3:8b' failed: err-ollama: ")
    assert chatted.status_code == 503
    error = chatted.json()["error"]
    assert error["message"].startswith("every backend with model 'llama3:8b' failed: err-ollama: ")
    assert (error["type"], error["param"], error["code"]) == ("server_error", None, "service_unavailable")


# --- OpenAI's error object: a string code or null, from every layer ---------------------------------


def test_a_body_past_the_limit_is_413_with_a_string_code(client, settings):
    settings.MODELYARD_MAX_BODY_BYTES = 1000

    response = post(
        client, "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x" * 2000}]}
    )

    assert response.status_code == 413
    assert response.json() == openai_error(
        "request body too large: at most 1000 bytes (setting MODELYARD_MAX_BODY_BYTES)", code="request_too_large"
    )


def test_too_many_query_parameters_is_400_with_a_null_code(client, settings):
    query = urlencode({f"p{index}": index for index in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)})

    response = post(client, f"/v1/chat/completions?{query}", {"model": "m", "messages": HI})

    assert response.status_code == 400
    expected = f"too many query or form parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"
    assert response.json() == openai_error(expected)


def test_a_backends_refusal_is_400_with_a_null_code(client, ollama):
    response = post(client, "/v1/chat/completions", {"model": "nomic-embed-text", "messages": HI})

    assert response.status_code == 400
    assert response.json() == openai_error(
        'backend err-ollama refused the request: "nomic-embed-text:latest" does not support chat'
    )


def test_a_model_the_openai_client_retrieves_and_is_not_there_is_404_model_not_found(client):
    response = client.get("/v1/models/zzz")

    assert response.status_code == 404
    assert response.json() == openai_error(
        "model 'zzz' not found: no pool can route it and it is not in the model store", code="model_not_found"
    )


def test_a_method_the_gateway_does_not_have_is_405_with_a_string_code(client):
    response = client.get("/v1/chat/completions")

    assert response.status_code == 405
    assert response.json() == openai_error('Method "GET" not allowed.', code="method_not_allowed")


def test_the_error_chunk_ending_a_broken_stream_has_a_string_code():
    chunk = gateway.stream_error_chunk("backend b failed mid-stream: reset", code="backend_error")

    assert chunk == openai_error("backend b failed mid-stream: reset", type="server_error", code="backend_error")
    assert gateway.stream_error_chunk("boom")["error"]["code"] == "server_error"


# --- dimensions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dimensions", "problem"),
    [
        (0, "Ensure this value is greater than or equal to 1."),
        (65537, "Ensure this value is less than or equal to 65536."),
        ("8", "expected an integer, but got a string instead"),
    ],
)
def test_dimensions_out_of_bounds_is_400_naming_it(client, dimensions, problem):
    response = post(client, "/v1/embeddings", {"model": "nomic-embed-text", "input": "hi", "dimensions": dimensions})

    assert response.status_code == 400
    code = "invalid_type" if isinstance(dimensions, str) else "invalid_value"
    assert response.json() == openai_error(f"Invalid 'dimensions': {problem}", param="dimensions", code=code)


def test_dimensions_a_backend_does_not_honour_is_400_not_ignored(client, ollama):
    response = post(client, "/v1/embeddings", {"model": "nomic-embed-text", "input": "hi", "dimensions": 8})

    assert response.status_code == 400
    assert response.json() == openai_error(
        "'dimensions' is not supported for model 'nomic-embed-text' on backend err-ollama: asked for 8, it gave 32; "
        "leave 'dimensions' out",
        param="dimensions",
    )
    assert ollama.requests_to("/api/embed")[-1].json["dimensions"] == 8  # passed on: a newer Ollama honours it


def test_dimensions_reach_an_openai_backend_that_honours_them(client_openai):
    with FakeOpenAI(name="dims-openai", models=["text-embedding-3-small", "text-embedding-ada-002"]) as fake:
        register(fake, type="openai")

        vectors = client_openai.embeddings.create(model="text-embedding-3-small", input="hi", dimensions=8)
        with pytest.raises(openai.BadRequestError) as refused:
            client_openai.embeddings.create(model="text-embedding-ada-002", input="hi", dimensions=8)

    assert len(vectors.data[0].embedding) == 8
    assert fake.requests_to("/v1/embeddings")[0].json["dimensions"] == 8
    assert refused.value.body["message"] == (
        "backend dims-openai refused the request: This model does not support specifying dimensions."
    )


# --- images on Ollama ------------------------------------------------------------------------------


def image_message(url: str) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": url}}],
        }
    ]


def test_a_data_url_image_reaches_ollama_as_its_images(client, ollama):
    encoded = base64.b64encode(PNG).decode()

    response = post(
        client,
        "/v1/chat/completions",
        {"model": "llama3:8b", "messages": image_message(f"data:image/png;base64,{encoded}")},
    )

    assert response.status_code == 200, response.content
    sent = ollama.requests_to("/api/chat")[-1].json["messages"]
    assert sent == [{"role": "user", "content": "what is it?", "images": [encoded]}]


def test_a_percent_encoded_data_url_image_reaches_ollama_base64(client, ollama):
    response = post(
        client,
        "/v1/chat/completions",
        {"model": "llama3:8b", "messages": image_message("data:image/svg+xml,%3Csvg%2F%3E")},
    )

    assert response.status_code == 200, response.content
    assert ollama.requests_to("/api/chat")[-1].json["messages"][0]["images"] == [base64.b64encode(b"<svg/>").decode()]


def test_a_remote_image_url_for_ollama_is_400_saying_it_needs_inline_images(client, ollama):
    response = post(
        client, "/v1/chat/completions", {"model": "llama3:8b", "messages": image_message("https://example.com/cat.png")}
    )

    assert response.status_code == 400
    assert response.json() == openai_error(
        "backend err-ollama refused the request: Ollama needs inline images: send the image as a data: URL "
        "(data:image/png;base64,...), not 'https://example.com/cat.png'"
    )
    assert ollama.requests_to("/api/chat") == []


def test_an_audio_part_for_ollama_is_400_not_dropped(client, ollama):
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}

    response = post(
        client, "/v1/chat/completions", {"model": "llama3:8b", "messages": [{"role": "user", "content": [audio]}]}
    )

    assert response.status_code == 400
    assert response.json() == openai_error(
        "backend err-ollama refused the request: Ollama takes text and image_url content parts only, not 'input_audio'"
    )
