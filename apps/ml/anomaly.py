"""Anomaly detectors: one class per backend, and the fitted `Detector` that is saved and scored.

Every backend reports a raw score oriented so that HIGHER MEANS MORE ANOMALOUS:

- `isolation_forest` (scikit-learn `IsolationForest`): `-score_samples(x)`, the anomaly score
  s(x, n) of Liu, Ting & Zhou (2008), in (0, 1];
- `one_class_svm` (scikit-learn `OneClassSVM(nu=contamination)`): `-score_samples(x)`, minus the
  SVM's unshifted decision value;
- `local_outlier_factor` (scikit-learn `LocalOutlierFactor(novelty=True)`): `-score_samples(x)`,
  the local outlier factor (about 1 inside clusters); training points use their own fitted LOF;
- `autoencoder` (torch): mean squared reconstruction error of the standardised features;
- `ecod`, `copod`, `hbos`, `knn` (PyOD): `decision_function(x)`, already higher = more anomalous.

The autoencoder is a small MLP, `d → h → b → h → d` with h = clamp(2d, 8, 64) and b = max(1, d // 2),
tanh hidden units (they saturate, so points far from the training data cannot be reconstructed)
and a linear output, trained with Adam (lr 1e-2, batches of 256, at most AUTOENCODER_MAX_STEPS
steps) on the training rows; seeded, so a fit is repeatable.

The anomaly threshold comes from `contamination`: the (1 − contamination) quantile of the
training points' raw scores. Scores are then reported in one of three normalisations:
- `raw`: the raw score;
- `zscore`: (raw − mean) / std of the training raw scores (standard deviations above normal);
- `standardization` (default): 1 − 2^(−(raw − min) / (t − min)) for raw ≥ min, else 0, with
  min the lowest training raw score and t the raw threshold: in [0, 1), strictly increasing with
  the raw score, 0.5 exactly at the contamination threshold (so the spec's default `threshold`
  0.5 means "as anomalous as the top `contamination` of the training data").
"""

import math
from typing import Any, ClassVar

from apps.core.errors import Invalid
from apps.ml.features import FeatureEncoder

NORMALIZATIONS = ("standardization", "zscore", "raw")
AUTOENCODER_MAX_STEPS = 1000
AUTOENCODER_BATCH = 256
RANDOM_SEED = 0


class Backend:
    """A detection algorithm: `fit(x)` returns the training rows' raw scores, `score(x)` new rows'.
    Shapes: x is float64 `(n, d)`; both return float64 `(n,)`, higher = more anomalous."""

    name: ClassVar[str]

    def __init__(self, *, contamination: float) -> None:
        self.contamination = contamination

    def fit(self, x: Any) -> Any:
        raise NotImplementedError

    def score(self, x: Any) -> Any:
        raise NotImplementedError


class IsolationForestBackend(Backend):
    name = "isolation_forest"

    def fit(self, x: Any) -> Any:
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(n_estimators=100, random_state=RANDOM_SEED, n_jobs=1).fit(x)
        return self.score(x)

    def score(self, x: Any) -> Any:
        return -self.model.score_samples(x)


class OneClassSVMBackend(Backend):
    name = "one_class_svm"

    def fit(self, x: Any) -> Any:
        from sklearn.svm import OneClassSVM

        self.model = OneClassSVM(nu=self.contamination, gamma="scale").fit(x)
        return self.score(x)

    def score(self, x: Any) -> Any:
        return -self.model.score_samples(x)


class LocalOutlierFactorBackend(Backend):
    name = "local_outlier_factor"

    def fit(self, x: Any) -> Any:
        from sklearn.neighbors import LocalOutlierFactor

        neighbours = max(1, min(20, len(x) - 1))
        self.model = LocalOutlierFactor(n_neighbors=neighbours, novelty=True, n_jobs=1).fit(x)
        # A training point is its own nearest neighbour in score_samples; its fitted LOF is not.
        return -self.model.negative_outlier_factor_

    def score(self, x: Any) -> Any:
        return -self.model.score_samples(x)


class AutoencoderBackend(Backend):
    name = "autoencoder"

    def fit(self, x: Any) -> Any:
        import numpy as np
        import torch

        torch.manual_seed(RANDOM_SEED)
        width = x.shape[1]
        hidden = min(64, max(8, 2 * width))
        bottleneck = max(1, width // 2)
        network = torch.nn.Sequential(
            torch.nn.Linear(width, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, bottleneck),
            torch.nn.Tanh(),
            torch.nn.Linear(bottleneck, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, width),
        )
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
        data = torch.as_tensor(x, dtype=torch.float32)
        generator = torch.Generator().manual_seed(RANDOM_SEED)
        batches_per_epoch = math.ceil(len(data) / AUTOENCODER_BATCH)
        epochs = max(1, min(200, AUTOENCODER_MAX_STEPS // batches_per_epoch))
        network.train()
        for _epoch in range(epochs):
            order = torch.randperm(len(data), generator=generator)
            for start in range(0, len(data), AUTOENCODER_BATCH):
                batch = data[order[start : start + AUTOENCODER_BATCH]]
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(network(batch), batch)
                loss.backward()
                optimizer.step()
        network.eval()
        self.network = network
        self.epochs = epochs
        return np.asarray(self.score(x))

    def score(self, x: Any) -> Any:
        import torch

        with torch.no_grad():
            data = torch.as_tensor(x, dtype=torch.float32)
            return ((self.network(data) - data) ** 2).mean(dim=1).double().numpy()


class PyodBackend(Backend):
    """A PyOD detector; `decision_function` and `decision_scores_` are already higher = more anomalous."""

    detector_class: ClassVar[str]

    def build(self, rows: int) -> Any:
        from django.utils.module_loading import import_string

        return import_string(self.detector_class)(contamination=self.contamination)

    def fit(self, x: Any) -> Any:
        self.model = self.build(len(x))
        self.model.fit(x)
        return self.model.decision_scores_

    def score(self, x: Any) -> Any:
        return self.model.decision_function(x)


class EcodBackend(PyodBackend):
    name = "ecod"
    detector_class = "pyod.models.ecod.ECOD"


class CopodBackend(PyodBackend):
    name = "copod"
    detector_class = "pyod.models.copod.COPOD"


class HbosBackend(PyodBackend):
    name = "hbos"
    detector_class = "pyod.models.hbos.HBOS"


class KnnBackend(PyodBackend):
    name = "knn"
    detector_class = "pyod.models.knn.KNN"

    def build(self, rows: int) -> Any:
        from pyod.models.knn import KNN

        return KNN(contamination=self.contamination, n_neighbors=max(1, min(5, rows - 1)))


BACKENDS: dict[str, type[Backend]] = {
    backend.name: backend
    for backend in (
        IsolationForestBackend,
        OneClassSVMBackend,
        LocalOutlierFactorBackend,
        AutoencoderBackend,
        EcodBackend,
        CopodBackend,
        HbosBackend,
        KnnBackend,
    )
}


def backend_check(name: str) -> str:
    if name not in BACKENDS:
        raise Invalid(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    return name


def normalization_check(name: str) -> str:
    if name not in NORMALIZATIONS:
        raise Invalid(f"unknown normalization {name!r}; use one of {', '.join(NORMALIZATIONS)}")
    return name


def contamination_check(value: float) -> float:
    if not (0 < value <= 0.5):
        raise Invalid(f"contamination must be > 0 and <= 0.5, got {value}")
    return value


class Detector:
    """A fitted detector: the feature encoder, the backend and the statistics of its training scores.

    `fit(rows)` trains it (Invalid for bad data or fewer than 2 rows); `raw_scores(rows)` → float64
    `(n,)`; `normalize(raw, normalization)` → same shape; `threshold(normalization)` → the
    contamination threshold in that normalisation. Pickled whole into `detector.pkl`.
    """

    def __init__(self, *, backend: str, contamination: float, normalization: str, schema: dict | None) -> None:
        self.backend_name = backend_check(backend)
        self.contamination = contamination_check(contamination)
        self.normalization = normalization_check(normalization)
        self.encoder = FeatureEncoder(schema)
        self.backend = BACKENDS[backend](contamination=contamination)
        self.samples = 0

    def fit(self, rows: list[Any]) -> None:
        import numpy as np

        x = self.encoder.fit_transform(rows)
        if len(x) < 2:
            raise Invalid("anomaly fit needs at least 2 data points")
        train = np.asarray(self.backend.fit(x), dtype=np.float64)
        self.samples = len(x)
        self.train_min = float(train.min())
        self.train_mean = float(train.mean())
        self.train_std = float(train.std()) or 1.0
        self.raw_threshold = float(np.quantile(train, 1 - self.contamination))
        span = self.raw_threshold - self.train_min
        self.span = span if span > 0 else self.train_std

    def raw_scores(self, rows: list[Any]) -> Any:
        import numpy as np

        return np.asarray(self.backend.score(self.encoder.transform(rows)), dtype=np.float64)

    def normalize(self, raw: Any, normalization: str) -> Any:
        import numpy as np

        if normalization == "raw":
            return raw
        if normalization == "zscore":
            return (raw - self.train_mean) / self.train_std
        return 1.0 - np.exp2(-np.maximum(raw - self.train_min, 0.0) / self.span)

    def threshold(self, normalization: str) -> float:
        import numpy as np

        return float(self.normalize(np.asarray([self.raw_threshold]), normalization)[0])

    def params(self) -> dict[str, Any]:
        """The spec's `model_params`, threshold in the detector's own normalisation."""
        return {
            "backend": self.backend_name,
            "contamination": self.contamination,
            "threshold": round(self.threshold(self.normalization), 6),
            "input_dim": self.encoder.width,
            "normalization": self.normalization,
            "features": self.encoder.columns,
        }
