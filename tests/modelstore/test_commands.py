"""`manage.py import_model` and `manage.py pull`, run as an operator would, on the test database."""

from pathlib import Path

import pytest

from apps.modelstore.models import LocalModel
from tests.fakes.modelstore_hub import ENCODER, file_sha256
from tests.fakes.servers import manage

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_import_model_copies_a_folder_into_the_store_and_records_it(subprocess_env, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    (folder / "model-Q4_K_M.gguf").write_bytes(b"GGUF" + b"\0" * 4000)
    home = tmp_path / "home"

    result = manage(
        "import_model",
        str(folder),
        "--source",
        "local",
        "--id",
        "team/my-model",
        env={**subprocess_env, "MODELYARD_HOME": str(home)},
    )

    assert result.returncode == 0, result.stderr
    assert "imported local/team/my-model: 2 files" in result.stdout
    model = LocalModel.objects.get(source="local", model_id="team/my-model")
    assert Path(model.path) == home / "models" / "local" / "team" / "my-model"
    assert model.files == ["config.json", "model-Q4_K_M.gguf"]
    assert model.metadata["pipeline_tag"] == "text-generation"
    assert model.metadata["quantization"] == "Q4_K_M"
    assert (folder / "config.json").exists()


def test_import_model_refuses_a_path_that_is_not_a_folder(subprocess_env, tmp_path):
    result = manage("import_model", str(tmp_path / "nothing"), "--id", "x", env=subprocess_env)

    assert result.returncode == 1
    assert "is not a folder" in result.stderr
    assert not LocalModel.objects.exists()


def test_pull_downloads_from_the_hub_with_a_progress_bar(subprocess_env, hub, tmp_path):
    env = {
        **subprocess_env,
        "MODELYARD_HOME": str(tmp_path / "home"),
        "MODELYARD_HF_ENDPOINT": hub.url,
        "MODELYARD_HF_TOKEN": hub.token,
    }

    result = manage("pull", "huggingface", ENCODER, "--include", "*.safetensors", "--include", "config.json", env=env)

    assert result.returncode == 0, result.stderr
    assert "100%" in result.stdout and "files" in result.stdout  # the bar reached the end
    assert f"huggingface/{ENCODER}: 3 files" in result.stdout
    model = LocalModel.objects.get(source="huggingface", model_id=ENCODER)
    for name in model.files:
        assert file_sha256(Path(model.path) / name) == hub.sha256[ENCODER][name]

    again = manage("pull", "huggingface", ENCODER, "--include", "config.json", env=env)
    assert again.returncode == 0 and "1 files already there" in again.stdout


def test_pull_of_a_model_the_hub_does_not_have_fails_with_the_reason(subprocess_env, hub, tmp_path):
    env = {
        **subprocess_env,
        "MODELYARD_HOME": str(tmp_path),
        "MODELYARD_HF_ENDPOINT": hub.url,
        "MODELYARD_HF_TOKEN": hub.token,
    }

    result = manage("pull", "huggingface", "acme/nothing", env=env)

    assert result.returncode == 1
    assert f"model 'acme/nothing' not found on {hub.url}" in result.stderr
