"""Download throughput from a Modelyard mirror: through Modelyard (a job on a worker, verified,
resumable) against a plain `huggingface_hub.snapshot_download` of the same repository.

Run with `make bench`. Both read the same mirror in the same run, alternately, three times each; the
best run of each counts. Prints both throughputs and their ratio (the aim is >= 0.9).
"""

import shutil
import time

import httpx
import pytest
from django.conf import settings
from huggingface_hub import snapshot_download

from tests.fakes.modelstore_hub import file_sha256, start_hub, stop_hub
from tests.fakes.modelstore_repos import build_safetensors_repo
from tests.fakes.servers import start_live_server

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

REPO = "bench/big-encoder"
# Four shards of 256 MiB of float32 weights: 1 GiB in all, so a job's start-up (~0.2 s) weighs little.
SHARDS = [{f"layer{index}.weight": [8192, 8192]} for index in range(4)]
ROUNDS = 3


def test_modelyard_downloads_about_as_fast_as_a_plain_snapshot_download(django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        hub = start_hub(tmp_path / "hub", extra={REPO: lambda folder: build_safetensors_repo(folder, shards=SHARDS)})
    home = tmp_path / "downloader"
    home.mkdir()
    server = start_live_server(
        home / "serve.log",
        MODELYARD_HOME=str(home),
        MODELYARD_HF_ENDPOINT=hub.url,
        MODELYARD_HF_TOKEN=hub.token,
        MODELYARD_SECRET_KEY=settings.SECRET_KEY,
    )
    size = sum(hub.files(REPO).values())
    for path in (hub.home / "models").rglob("*"):  # the mirror's files in the page cache for both
        if path.is_file():
            path.read_bytes()
    plain, through = [], []
    try:
        for _ in range(ROUNDS):
            target = tmp_path / "plain"
            started = time.perf_counter()
            snapshot_download(REPO, endpoint=hub.url, token=hub.token, local_dir=target)
            plain.append(time.perf_counter() - started)
            shutil.rmtree(target)

            started = time.perf_counter()
            response = httpx.post(f"{server.url}/api/v1/downloads", json={"model_id": REPO, "force": True}, timeout=600)
            through.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        for name in hub.files(REPO):
            assert file_sha256(home / "models" / "huggingface" / REPO / name) == hub.sha256[REPO][name]
    finally:
        server.stop()
        with django_db_blocker.unblock():
            stop_hub(hub)

    plain_speed, through_speed = size / min(plain) / 2**20, size / min(through) / 2**20
    print(
        f"\nmirror download of {size / 2**20:.0f} MiB ({len(hub.files(REPO))} files), best of {ROUNDS}: "
        f"plain snapshot_download {plain_speed:.0f} MiB/s, through Modelyard (job, verified) "
        f"{through_speed:.0f} MiB/s; ratio {through_speed / plain_speed:.2f}"
    )
