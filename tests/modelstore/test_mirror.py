"""The mirror, read by real `huggingface_hub` clients (and transformers) with HF_ENDPOINT pointed at it."""

import hashlib
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fakes.modelstore_hub import ENCODER, GGUF, LLAMA, file_sha256
from tests.fakes.servers import ROOT

pytestmark = pytest.mark.e2e


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@pytest.fixture
def api(hub):
    return HfApi(endpoint=hub.url, token=hub.token)


def test_model_info_lists_files_with_sizes_hashes_and_the_hub_metadata(api, hub):
    info = api.model_info(LLAMA, files_metadata=True)

    siblings = {sibling.rfilename: sibling for sibling in info.siblings}
    assert set(siblings) == set(hub.files(LLAMA))
    weights = siblings["model.safetensors"]
    assert weights.size == hub.files(LLAMA)["model.safetensors"]
    assert weights.lfs.sha256 == hub.sha256[LLAMA]["model.safetensors"]
    config = siblings["config.json"]
    assert config.lfs is None
    assert config.blob_id == git_blob_id((hub.repos[LLAMA] / "config.json").read_bytes())
    assert info.safetensors.total == 19_424
    assert info.card_data.license == "apache-2.0"
    assert info.pipeline_tag == "text-generation"
    assert info.config["model_type"] == "llama"
    assert len(info.sha) == 40
    assert api.model_info(LLAMA, revision=info.sha).sha == info.sha


def test_file_listings_recurse_into_folders(api, hub):
    assert sorted(api.list_repo_files(ENCODER)) == sorted(hub.files(ENCODER))
    top = {entry.path: type(entry).__name__ for entry in api.list_repo_tree(ENCODER)}
    assert top["1_Pooling"] == "RepoFolder"
    assert top["config.json"] == "RepoFile"
    assert "1_Pooling/config.json" not in top
    inside = [entry.path for entry in api.list_repo_tree(ENCODER, path_in_repo="1_Pooling")]
    assert inside == ["1_Pooling/config.json"]


def test_snapshot_download_gets_every_file_byte_for_byte_and_marks_the_model_used(hub, tmp_path):
    folder = snapshot_download(ENCODER, endpoint=hub.url, token=hub.token, cache_dir=tmp_path / "cache")

    for name in hub.files(ENCODER):
        assert file_sha256(tmp_path / "cache" / folder / name) == hub.sha256[ENCODER][name], name
    listing = httpx.get(f"{hub.server.url}/api/v1/models", headers={"Authorization": f"Bearer {hub.token}"}).json()
    served = {model["model_id"]: model for model in listing["models"]}
    assert served[ENCODER]["last_used"] is not None


def test_hf_hub_download_of_one_file_with_include_patterns_of_snapshot(hub, tmp_path):
    path = hf_hub_download(GGUF, "tiny-gguf-Q8_0.gguf", endpoint=hub.url, token=hub.token, local_dir=tmp_path)
    assert file_sha256(tmp_path / "tiny-gguf-Q8_0.gguf") == hub.sha256[GGUF]["tiny-gguf-Q8_0.gguf"]
    assert path.endswith("tiny-gguf-Q8_0.gguf")

    folder = snapshot_download(
        GGUF, endpoint=hub.url, token=hub.token, local_dir=tmp_path / "f16", allow_patterns=["*F16*"]
    )
    assert sorted(os.listdir(folder)) == [".cache", "tiny-gguf-F16.gguf"]


def test_resolve_answers_head_with_the_hub_headers(api, hub):
    sha = api.model_info(GGUF).sha
    headers = {"Authorization": f"Bearer {hub.token}"}

    weights = httpx.head(f"{hub.url}/{GGUF}/resolve/main/tiny-gguf-Q4_K_M.gguf", headers=headers)
    card = httpx.head(f"{hub.url}/{GGUF}/resolve/{sha}/README.md", headers=headers)

    assert weights.status_code == 200
    assert weights.headers["x-repo-commit"] == sha
    assert weights.headers["etag"] == f'"{hub.sha256[GGUF]["tiny-gguf-Q4_K_M.gguf"]}"'
    assert weights.headers["content-length"] == "300000"
    assert weights.headers["accept-ranges"] == "bytes"
    assert weights.content == b""
    assert card.headers["etag"] == f'"{git_blob_id((hub.repos[GGUF] / "README.md").read_bytes())}"'


def test_a_ranged_get_returns_just_that_part(hub):
    url = f"{hub.url}/{GGUF}/resolve/main/tiny-gguf-Q4_K_M.gguf"
    whole = (hub.repos[GGUF] / "tiny-gguf-Q4_K_M.gguf").read_bytes()
    auth = {"Authorization": f"Bearer {hub.token}"}

    middle = httpx.get(url, headers={**auth, "Range": "bytes=1000-1999"})
    tail = httpx.get(url, headers={**auth, "Range": "bytes=299990-"})
    beyond = httpx.get(url, headers={**auth, "Range": "bytes=300000-"})

    assert middle.status_code == 206
    assert middle.content == whole[1000:2000]
    assert middle.headers["content-range"] == "bytes 1000-1999/300000"
    assert tail.content == whole[299990:]
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */300000"


def test_range_positions_with_thousands_of_digits_are_416_or_the_whole_tail(hub):
    url = f"{hub.url}/{GGUF}/resolve/main/tiny-gguf-Q4_K_M.gguf"
    whole = (hub.repos[GGUF] / "tiny-gguf-Q4_K_M.gguf").read_bytes()
    auth = {"Authorization": f"Bearer {hub.token}"}
    huge = "9" * 5000

    start_beyond = httpx.get(url, headers={**auth, "Range": f"bytes={huge}-"})
    end_beyond = httpx.get(url, headers={**auth, "Range": f"bytes=10-{huge}"})
    suffix_beyond = httpx.get(url, headers={**auth, "Range": f"bytes=-{huge}"})

    assert start_beyond.status_code == 416
    assert end_beyond.status_code == 206
    assert end_beyond.content == whole[10:]
    assert suffix_beyond.status_code == 206
    assert suffix_beyond.content == whole


def test_missing_repos_revisions_and_files_raise_the_hub_errors(api, hub, tmp_path):
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/not-stored")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(LLAMA, revision="v2")
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(LLAMA, "missing.bin", endpoint=hub.url, token=hub.token, local_dir=tmp_path)
    assert api.file_exists(LLAMA, "missing.bin") is False
    assert api.file_exists(LLAMA, "config.json") is True


def test_without_the_key_the_mirror_answers_401_in_the_hubs_error_shape(hub):
    anonymous = httpx.get(f"{hub.url}/api/models/{LLAMA}")
    wrong = httpx.get(f"{hub.url}/{LLAMA}/resolve/main/config.json", headers={"Authorization": "Bearer nope"})

    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Invalid or missing API key"}
    assert wrong.status_code == 401
    with pytest.raises(HfHubHTTPError):
        HfApi(endpoint=hub.url, token=False).model_info(LLAMA)


def test_list_models_filters_like_the_hub(api):
    def ids(**query):
        return sorted(model.id for model in api.list_models(**query))

    assert ids(search="gguf") == [GGUF]
    assert ids(author="tiny-org") == [ENCODER, GGUF]
    assert ids(filter="license:mit") == [ENCODER, GGUF]
    assert ids(filter=["gguf", "license:mit"]) == [GGUF]
    assert ids(pipeline_tag="text-generation") == [LLAMA, GGUF]
    assert ids(num_parameters="min:500K,max:600K") == [GGUF]
    assert len(ids(limit=2)) == 2


@pytest.mark.ml
def test_transformers_loads_and_runs_the_model_from_the_mirror(hub, tmp_path):
    script = textwrap.dedent(
        f"""
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained({LLAMA!r})
        model = AutoModelForCausalLM.from_pretrained({LLAMA!r})
        ids = tokenizer("hello world", return_tensors="pt").input_ids
        output = model.generate(ids, max_new_tokens=4, do_sample=False)
        print("GENERATED", output.shape[1] - ids.shape[1])
        """
    )
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("HF_")},
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub.token,
        "HF_HOME": str(tmp_path / "hf"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "GENERATED 4" in result.stdout


# --- what HfFileSystem (hf://) asks for: refs, commits, paths-info (issue 10, D4) -----------------


def test_list_repo_refs_shows_main_at_the_repos_commit(api):
    sha = api.model_info(LLAMA).sha

    refs = api.list_repo_refs(LLAMA)
    with_prs = api.list_repo_refs(LLAMA, include_pull_requests=True)

    assert [(ref.name, ref.ref, ref.target_commit) for ref in refs.branches] == [("main", "refs/heads/main", sha)]
    assert refs.tags == [] and refs.converts == []
    assert with_prs.pull_requests == []


def test_list_repo_commits_gives_the_one_commit_of_main_or_of_its_sha(api, hub):
    sha = api.model_info(LLAMA).sha

    commits = api.list_repo_commits(LLAMA)

    assert [commit.commit_id for commit in commits] == [sha]
    assert commits[0].title == f"Stored from import:{hub.repos[LLAMA]}"
    assert commits[0].authors == ["modelyard"]
    assert commits[0].created_at.tzinfo is not None
    assert [commit.commit_id for commit in api.list_repo_commits(LLAMA, revision=sha)] == [sha]
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_commits(LLAMA, revision="v2")


def test_get_paths_info_describes_files_and_folders_and_leaves_out_missing_paths(api, hub):
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    infos = api.get_paths_info(ENCODER, ["config.json", "1_Pooling", "model-00001-of-00002.safetensors", "nope"])

    assert [(type(info).__name__, info.path) for info in infos] == [
        ("RepoFile", "config.json"),
        ("RepoFolder", "1_Pooling"),
        ("RepoFile", "model-00001-of-00002.safetensors"),
    ]
    config, folder, weights = infos
    assert isinstance(config, RepoFile) and isinstance(folder, RepoFolder)
    assert config.size == hub.files(ENCODER)["config.json"]
    assert config.blob_id == git_blob_id((hub.repos[ENCODER] / "config.json").read_bytes())
    assert config.lfs is None and config.last_commit is None
    assert weights.lfs.sha256 == hub.sha256[ENCODER]["model-00001-of-00002.safetensors"]


def test_get_paths_info_with_expand_carries_the_last_commit(api):
    sha = api.model_info(LLAMA).sha

    (info,) = api.get_paths_info(LLAMA, "config.json", expand=True)

    assert info.last_commit.oid == sha
    assert info.last_commit.title.startswith("Stored from ")


def test_hf_file_system_lists_describes_and_reads_stored_files(hub):
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem(endpoint=hub.url, token=hub.token, skip_instance_cache=True)

    listed = fs.ls(ENCODER, detail=False)
    info = fs.info(f"{ENCODER}/config.json")
    expanded = fs.info(f"{ENCODER}/config.json", expand_info=True)
    root = fs.info(ENCODER, expand_info=True)
    with fs.open(f"{GGUF}/tiny-gguf-Q4_K_M.gguf", "rb") as stream:
        stream.seek(1000)
        middle = stream.read(1000)

    assert f"{ENCODER}/config.json" in listed and f"{ENCODER}/1_Pooling" in listed
    assert info["size"] == hub.files(ENCODER)["config.json"] and info["type"] == "file"
    assert expanded["last_commit"].oid == root["last_commit"].oid
    assert fs.read_text(f"{ENCODER}/config.json") == (hub.repos[ENCODER] / "config.json").read_text()
    assert fs.cat_file(f"hf://{LLAMA}@main/README.md") == (hub.repos[LLAMA] / "README.md").read_bytes()
    assert middle == (hub.repos[GGUF] / "tiny-gguf-Q4_K_M.gguf").read_bytes()[1000:2000]
    assert not fs.exists(f"{ENCODER}/missing.json")
