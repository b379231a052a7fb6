"""The download engine against the test mirror, run in this process: what it fetches, keeps,
resumes, verifies and refuses; and how download requests become (shared) jobs."""

from pathlib import Path

import pytest
from huggingface_hub import HfApi

from apps.core.models import Job
from apps.modelstore import services
from apps.modelstore.downloads import ChecksumMismatch, DownloadStopped, ModelDownload
from apps.modelstore.errors import InsufficientStorage
from apps.modelstore.models import DOWNLOAD_JOB_KIND, LocalModel
from tests.fakes.modelstore_hub import ENCODER, GGUF, LLAMA, file_sha256

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def download(model_id: str, **options) -> dict:
    return ModelDownload(source="huggingface", model_id=model_id, **options).run()


def assert_same_files(folder: Path, hub, repo_id: str, names=None) -> None:
    names = sorted(names or hub.files(repo_id))
    stored = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    assert stored == names
    for name in names:
        assert file_sha256(folder / name) == hub.sha256[repo_id][name], name


def test_a_download_fetches_every_file_verifies_it_and_records_the_model(hub_store, hub):
    result = download(LLAMA)

    model = LocalModel.objects.get(source="huggingface", model_id=LLAMA)
    assert_same_files(Path(model.path), hub, LLAMA)
    assert Path(model.path) == hub_store / "huggingface" / "acme" / "tiny-llama"
    total = sum(hub.files(LLAMA).values())
    assert (result["fetched_bytes"], result["reused_bytes"], result["resumed_bytes"]) == (total, 0, 0)
    assert result["size_bytes"] == model.size_bytes == total
    assert model.files == sorted(hub.files(LLAMA))
    assert model.revision == HfApi(endpoint=hub.url, token=hub.token).model_info(LLAMA).sha
    assert model.metadata["include_patterns"] is None
    assert model.metadata["origin"] == hub.url
    assert model.metadata["architecture"] == "llama"
    assert not (hub_store / ".partial" / "huggingface").exists()


def test_include_patterns_fetch_only_matching_files_and_later_downloads_add_to_them(hub_store, hub):
    first = download(GGUF, include_patterns=["*Q4_K_M*"])
    second = download(GGUF, include_patterns=["*Q8_0*", "README.md"])

    model = LocalModel.objects.get(model_id=GGUF)
    assert first["files"] == ["tiny-gguf-Q4_K_M.gguf"]
    assert model.files == ["README.md", "tiny-gguf-Q4_K_M.gguf", "tiny-gguf-Q8_0.gguf"]
    assert second["fetched_bytes"] == 560_000 + hub.files(GGUF)["README.md"]
    assert model.metadata["include_patterns"] == ["*Q8_0*", "README.md"]
    assert_same_files(Path(model.path), hub, GGUF, model.files)


def test_files_already_stored_are_not_fetched_again_unless_forced(hub_store, hub):
    download(ENCODER)
    again = download(ENCODER)
    forced = download(ENCODER, force=True)

    total = sum(hub.files(ENCODER).values())
    assert (again["fetched_bytes"], again["reused_bytes"], again["files_fetched"]) == (0, total, 0)
    assert forced["fetched_bytes"] == total
    assert_same_files(hub_store / "huggingface" / ENCODER, hub, ENCODER)


def test_a_stopped_download_resumes_from_its_partial_files(hub_store, hub):
    reports = []

    def stop_halfway() -> bool:  # the small files and the first shard are done, the second started
        return bool(reports) and reports[-1].bytes_done >= 1536 * 1024

    with pytest.raises(DownloadStopped):
        download(ENCODER, rate_limit=1024 * 1024, workers=1, on_progress=reports.append, should_stop=stop_halfway)
    partials = [path for path in (hub_store / ".partial").rglob("*.part")]
    assert partials and not LocalModel.objects.exists()

    result = download(ENCODER)

    total = sum(hub.files(ENCODER).values())
    assert result["resumed_bytes"] > 0
    assert result["reused_bytes"] > 0  # the small files finished before the stop were kept
    assert result["fetched_bytes"] + result["resumed_bytes"] + result["reused_bytes"] == total
    assert_same_files(hub_store / "huggingface" / ENCODER, hub, ENCODER)


def test_a_partial_file_continues_with_a_range_request(hub_store, hub):
    content = (hub.repos[GGUF] / "tiny-gguf-Q8_0.gguf").read_bytes()
    sha256 = hub.sha256[GGUF]["tiny-gguf-Q8_0.gguf"]
    partial = hub_store / ".partial" / "huggingface" / GGUF / f"tiny-gguf-Q8_0.gguf.{sha256[:16]}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(content[:200_000])

    result = download(GGUF, include_patterns=["*Q8_0*"])

    assert (result["resumed_bytes"], result["fetched_bytes"]) == (200_000, 360_000)
    assert file_sha256(hub_store / "huggingface" / GGUF / "tiny-gguf-Q8_0.gguf") == sha256


def test_a_file_that_does_not_match_its_checksum_is_refused_and_discarded(hub_store, hub):
    sha256 = hub.sha256[GGUF]["tiny-gguf-Q4_K_M.gguf"]
    partial = hub_store / ".partial" / "huggingface" / GGUF / f"tiny-gguf-Q4_K_M.gguf.{sha256[:16]}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"garbage" * 1000)

    with pytest.raises(ChecksumMismatch, match="tiny-gguf-Q4_K_M.gguf: got hash"):
        download(GGUF, include_patterns=["*Q4_K_M*"])

    assert not partial.exists()
    assert not (hub_store / "huggingface" / GGUF / "tiny-gguf-Q4_K_M.gguf").exists()
    assert download(GGUF, include_patterns=["*Q4_K_M*"])["fetched_bytes"] == 300_000


def test_progress_reports_bytes_files_speed_and_eta(hub_store, hub):
    reports = []
    download(ENCODER, rate_limit=4 * 1024 * 1024, on_progress=reports.append)

    total = sum(hub.files(ENCODER).values())
    assert reports[-1].bytes_done == reports[-1].bytes_total == total
    assert reports[-1].files_done == reports[-1].files_total == len(hub.files(ENCODER))
    done = [report.bytes_done for report in reports if report.bytes_total]
    assert done == sorted(done) and len(set(done)) >= 3
    assert any(report.speed_bps > 0 and report.eta_s is not None for report in reports[1:])
    assert set(reports[-2].as_dict()) >= {"bytes", "total_bytes", "speed_bps", "eta_s", "files_done", "files_total"}


def test_a_download_that_would_fill_the_disk_is_refused_before_any_job(client, hub_store, settings):
    settings.MODELYARD_DOWNLOAD_MIN_FREE_BYTES = 10**18

    response = client.post("/api/v1/downloads", {"model_id": ENCODER}, content_type="application/json")

    assert response.status_code == 507
    body = response.json()
    assert body["detail"].startswith("Insufficient disk space")
    assert body["required_bytes"] > 3 * 1024 * 1024
    assert not Job.objects.filter(kind=DOWNLOAD_JOB_KIND).exists()
    with pytest.raises(InsufficientStorage):
        download(ENCODER)


def test_a_model_missing_on_the_hub_is_404_before_any_job(client, hub_store, hub):
    missing = client.post("/api/v1/downloads", {"model_id": "acme/nothing"}, content_type="application/json")
    no_match = client.post(
        "/api/v1/downloads", {"model_id": GGUF, "include_patterns": ["*Q2_K*"]}, content_type="application/json"
    )
    bad_source = client.post("/api/v1/downloads", {"model_id": GGUF, "source": "ftp"}, content_type="application/json")
    bad_body = client.post("/api/v1/downloads", {"force": True}, content_type="application/json")

    assert missing.status_code == 404
    assert missing.json() == {"detail": f"model 'acme/nothing' not found on {hub.url}"}
    assert no_match.status_code == 404 and "include_patterns" in no_match.json()["detail"]
    assert bad_source.status_code == 400
    assert bad_body.status_code == 422 and bad_body.json()["detail"][0]["loc"] == ["body", "model_id"]
    assert not Job.objects.exists()


def test_a_stored_model_is_answered_at_once_without_a_job(client, hub_store, hub):
    download(LLAMA)

    response = client.post("/api/v1/downloads", {"model_id": f"{hub.url}/{LLAMA}"}, content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"model_id", "source", "path", "files", "size_bytes"}
    assert body["model_id"] == LLAMA and body["files"] == sorted(hub.files(LLAMA))
    assert not Job.objects.exists()


def test_requests_for_the_same_download_share_one_job(hub_store):
    first = services.download_start(model_id=GGUF, include_patterns=["*F16*"])
    second = services.download_start(model_id=GGUF, include_patterns=["*F16*"])
    other_files = services.download_start(model_id=GGUF, include_patterns=["*Q8_0*"])
    forced = services.download_start(model_id=GGUF, include_patterns=["*F16*"], force=True)
    joins_the_forced = services.download_start(model_id=GGUF, include_patterns=["*F16*"])

    assert first.job.pk == second.job.pk
    assert other_files.job.pk != first.job.pk
    assert forced.job.pk != first.job.pk
    assert joins_the_forced.job.pk == first.job.pk  # the oldest matching one
    assert first.job.params == {
        "source": "huggingface",
        "model_id": GGUF,
        "include_patterns": ["*F16*"],
        "force": False,
    }
    assert Job.objects.filter(kind=DOWNLOAD_JOB_KIND).count() == 3


def test_loading_a_model_marks_it_used(hub_store):
    download(LLAMA, include_patterns=["config.json"])

    model = services.local_model_use(model_id=LLAMA)

    assert model.last_used is not None
    assert LocalModel.objects.get(pk=model.pk).last_used == model.last_used


def test_a_connection_that_breaks_mid_file_is_resumed_with_a_range_request(hub_store, hub, settings):
    from tests.fakes.modelstore_flaky import FlakyProxy

    with FlakyProxy(hub.server.url, cut_after=100_000) as proxy:
        settings.MODELYARD_HF_ENDPOINT = f"{proxy.url}/hub"
        result = download(GGUF, include_patterns=["*Q8_0*"])

    name = "tiny-gguf-Q8_0.gguf"
    assert [range_ for path, range_ in proxy.ranges if path.endswith(name)] == [None, "bytes=100000-"]
    assert result["fetched_bytes"] == 560_000
    assert file_sha256(hub_store / "huggingface" / GGUF / name) == hub.sha256[GGUF][name]


def test_a_stored_hub_model_is_shown_with_its_local_and_remote_sides(client, hub_store, hub):
    download(LLAMA)

    body = client.get(f"/api/v1/models/huggingface/{LLAMA}").json()

    assert body["local"]["files"] == sorted(hub.files(LLAMA))
    assert len(body["local"]["metadata"]["revision"]) == 40
    assert body["remote"]["model_id"] == LLAMA
    assert body["remote"]["total_size_bytes"] == body["local"]["size_bytes"]
    assert body["remote"]["license"] == "apache-2.0"


def test_a_forced_download_needs_room_for_every_file_again(hub_store):
    download(GGUF, include_patterns=["*Q4_K_M*"])

    needed = services.download_plan(source="huggingface", model_id=GGUF, include_patterns=["*Q4_K_M*"]).needed_bytes
    forced = services.download_plan(
        source="huggingface", model_id=GGUF, include_patterns=["*Q4_K_M*"], force=True
    ).needed_bytes

    assert (needed, forced) == (0, 300_000)


def test_a_quantization_asks_for_the_gguf_files_of_that_quantization(hub_store):
    start = services.download_start(model_id=GGUF, quantization="Q8_0", include_patterns=["README.md"])

    assert start.job.params["include_patterns"] == ["README.md", "*Q8_0*.gguf"]


def test_a_download_never_writes_through_a_linked_folder_out_of_the_model(hub_store, tmp_path):
    from apps.core.errors import Conflict

    outside = tmp_path / "outside"
    outside.mkdir()
    target = hub_store / "huggingface" / ENCODER
    target.mkdir(parents=True)
    (target / "1_Pooling").symlink_to(outside, target_is_directory=True)

    with pytest.raises(Conflict, match="links out of the model's folder"):
        download(ENCODER, include_patterns=["1_Pooling/*"])

    assert list(outside.iterdir()) == []
    assert not LocalModel.objects.exists()
