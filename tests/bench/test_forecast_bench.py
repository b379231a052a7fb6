"""Forecasting benchmarks (run with `make bench`).

1. The statistical baselines on the real series shipped in apps/forecasting/data/, with a fixed
   rolling-origin backtest: MASE and WQL of seasonal naive, ETS and Theta, and their ratio to
   seasonal naive (below 1: better). Printed as a table.
2. The forecast service's overhead: `POST /api/forecast` on the forecast surface against the same
   Chronos-2 pipeline called directly (`predict_quantiles`), same input, alternately, median of each.
   The request goes through Django's whole stack in this process (the port's URLconf, DRF parsing
   and validation, the service, the resident engine, JSON rendering); only the socket is left out.
   The model is a tiny random Chronos-2 pulled into the store from the test hub, fed enough data
   (16 variates × 512 points, 64 steps ahead) that the model's own work is measurable. Aim ≤ 1.1×.
"""

import statistics
import time

import numpy as np
import pytest

from apps.forecasting.baselines import BASELINE_METHODS, baseline_forecast
from apps.forecasting.evaluation import backtest
from apps.forecasting.series import series_load
from tests.forecasting.conftest import api, forecast_hub, forecast_store, pulled  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.bench]

# name → (prediction_length, windows): the last 3 years of the monthly series, the last 20–44 years
# of the yearly ones; each series' own season length (SERIES in apps/forecasting/series.py).
BACKTESTS = {"air_passengers": (12, 3), "co2": (12, 4), "sunspots": (11, 4), "nile": (5, 4)}
ROUNDS = 15


def test_baselines_on_the_shipped_real_series():
    rows = []
    for name, (prediction_length, windows) in BACKTESTS.items():
        series = series_load(name=name)
        for method in BASELINE_METHODS:

            def forecaster(context, horizon, levels, method=method, season=series.season_length):
                return baseline_forecast(
                    method=method,
                    series=context,
                    prediction_length=horizon,
                    season_length=season,
                    quantile_levels=levels,
                )

            started = time.perf_counter()
            result = backtest(
                forecaster=forecaster,
                series=series.values,
                prediction_length=prediction_length,
                windows=windows,
                season_length=series.season_length,
            )
            seconds = time.perf_counter() - started
            rows.append((name, method, result, seconds))
            assert result.model.mase is not None and 0.0 < result.model.mase < 3.0
            assert result.model.wql is not None and 0.0 < result.model.wql < 1.0
    print("\nBaselines, rolling-origin backtest (MASE, WQL at 0.1…0.9; relative = model / seasonal naive)")
    print(f"{'series':<16}{'H×W':>7}{'method':>16}{'MASE':>8}{'WQL':>9}{'rel MASE':>10}{'rel WQL':>9}{'s':>7}")
    for name, method, result, seconds in rows:
        window = f"{result.prediction_length}×{result.windows}"
        print(
            f"{name:<16}{window:>7}{method:>16}{result.model.mase:>8.3f}{result.model.wql:>9.4f}"
            f"{result.relative.mase:>10.3f}{result.relative.wql:>9.3f}{seconds:>7.2f}"
        )


@pytest.mark.django_db(transaction=True)
def test_forecast_service_overhead_over_the_pipeline_called_directly(api, pulled):  # noqa: F811 (fixtures)
    import torch
    from chronos import BaseChronosPipeline

    pulled("chronos2")
    shown = api.post("/api/show", {"model": "chronos2"})
    assert shown.status_code == 200, shown.json()
    rng = np.random.default_rng(0)
    steps = np.arange(512)
    series = np.stack([50 + 10 * np.sin(2 * np.pi * steps / 24 + k) + rng.normal(0, 1, 512) for k in range(16)])
    body = {"model": "chronos2", "input": series.round(3).tolist(), "prediction_length": 64}
    pipeline = BaseChronosPipeline.from_pretrained(shown.json()["path"], device_map="cpu")
    inputs = [{"target": series.round(3).astype(np.float32)}]

    def direct() -> np.ndarray:
        with torch.no_grad():
            _, median = pipeline.predict_quantiles(inputs, prediction_length=64, quantile_levels=[0.5])
        return median[0].numpy()

    response = api.post("/api/forecast", body)  # loads the engine: not timed
    assert response.status_code == 200, response.json()
    np.testing.assert_allclose(np.array(response.json()["mean"]), direct(), rtol=1e-4, atol=1e-4)
    through, plain = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = api.post("/api/forecast", body)
        through.append(time.perf_counter() - started)
        assert response.status_code == 200
        started = time.perf_counter()
        direct()
        plain.append(time.perf_counter() - started)
    service, pipeline_s = statistics.median(through), statistics.median(plain)
    print(
        f"\nForecast (tiny Chronos-2, 16 variates × 512 points, 64 steps): POST /api/forecast "
        f"{service * 1000:.1f} ms, pipeline directly {pipeline_s * 1000:.1f} ms (medians of {ROUNDS}); "
        f"ratio {service / pipeline_s:.2f}× (aim ≤ 1.1×), overhead {(service - pipeline_s) * 1000:+.1f} ms"
    )
