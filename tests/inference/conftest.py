"""Fixtures of the runtime's tests: tiny models built once per session, real ones from their
packages, each put in the store (and so servable) by a fixture."""

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.core.threads import apply_model_thread_policy
from apps.inference.residency import residency
from apps.modelstore import layout
from apps.modelstore import services as store
from apps.modelstore.models import LocalModel
from project.surfaces import RUNTIME
from tests.fakes import inference_models

TINY = {
    "tiny/chat": inference_models.build_chat_model,
    "tiny/thinker": inference_models.build_thinking_chat_model,
    "tiny/embedder": inference_models.build_embedding_model,
    "tiny/reranker": inference_models.build_rerank_model,
    "tiny/classifier": inference_models.build_classify_model,
}
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="session", autouse=True)
def one_model_thread() -> None:
    apply_model_thread_policy()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny models, built once into a session folder."""
    root = tmp_path_factory.mktemp("tiny-models")
    folders = {}
    for model_id, build in TINY.items():
        folder = root / model_id.replace("/", "--")
        folder.mkdir()
        folders[model_id] = build(folder)
    return folders


def put_in_store(model_id: str, files_from: Path | dict[str, Path], *, source: str = "local") -> LocalModel:
    """Copy a model's files into the store (once: the folder outlives the test database) and record it."""
    folder = layout.model_dir(source, model_id)
    if not layout.list_model_files(folder):
        sources = (
            files_from
            if isinstance(files_from, dict)
            else {name: files_from / name for name in layout.list_model_files(files_from)}
        )
        for name, path in sources.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / name)
    return store.local_model_record(source=source, model_id=model_id)


@pytest.fixture
def stored_tiny(db: None, tiny_models: dict[str, Path]) -> Callable[[str], LocalModel]:
    """Put one tiny model (by its id in TINY) in the store."""
    return lambda model_id: put_in_store(model_id, tiny_models[model_id])


@pytest.fixture
def stored_minilm(db: None) -> LocalModel:
    return put_in_store(MINILM, inference_models.minilm_path())


@pytest.fixture
def stored_smollm2(db: None) -> LocalModel:
    gguf = inference_models.smollm2_gguf()
    return put_in_store(SMOLLM2, {gguf.name: gguf})


class RuntimeClient:
    """Django's test client, sending every request to the runtime surface's port."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(self, path: str, body: dict, **extra: Any) -> Any:
        return self.client.post(
            path, data=json.dumps(body), content_type="application/json", SERVER_PORT=str(RUNTIME.port), **extra
        )

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, SERVER_PORT=str(RUNTIME.port), **extra)


@pytest.fixture
def runtime_client(client: Client) -> RuntimeClient:
    return RuntimeClient(client)


@pytest.fixture
def fresh_residency() -> Iterator[None]:
    """No model loaded before or after the test (the residency is per process)."""
    residency().unload_all()
    yield
    residency().unload_all()


def sse_data(response: Any) -> list:
    """The `data:` payloads of a streamed answer (Django's test client), JSON-decoded except `[DONE]`."""

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    text = asyncio.run(collect()).decode()
    payloads = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return [payload if payload == "[DONE]" else json.loads(payload) for payload in payloads]
