"""Anomaly detectors: one class per backend, and the fitted `Detector` that is saved and scored.

Every backend reports a raw score oriented so that HIGHER MEANS MORE ANOMALOUS:

- `isolation_forest` (scikit-learn `IsolationForest`): `-score_samples(x)`, the anomaly score
  s(x, n) of Liu, Ting & Zhou (2008), in (0, 1];
- `one_class_svm` (scikit-learn `OneClassSVM(nu=max(contamination, 0.5))`, RBF, gamma "scale"):
  `-score_samples(x)`, minus the SVM's unshifted decision value;
- `local_outlier_factor` (scikit-learn `LocalOutlierFactor(novelty=True)`, k = min(20, n − 1)):
  `-score_samples(x)`, the local outlier factor (about 1 inside clusters); training points use
  their own fitted LOF;
- `autoencoder` (torch): mean squared reconstruction error of the standardised features (trained in
  float32, evaluated in float64: float32 rounding made a row's error depend on its batch by ~1 %
  when the errors are tiny, as on a constant feature);
- `ecod`, `copod` (PyOD fit; new points scored against the training data alone, see
  `EcdfBackend`), `hbos` (PyOD, ⌈√n⌉ bins), `knn` (PyOD, k = min(5, n − 1), distance to the k-th
  neighbour): already higher = more anomalous.

The autoencoder is a small MLP, `d → h → b → h → d` with h = clamp(2d, 8, 64) and b = max(1, d // 2),
tanh hidden units (they saturate, so points far from the training data cannot be reconstructed)
and a linear output, trained with Adam (lr 1e-2, batches of 256, at most AUTOENCODER_MAX_STEPS
steps) on the training rows; seeded, so a fit is repeatable.

Outside the training range. Tree ensembles and empirical-CDF or histogram scores are constant
beyond the data they were fitted on: every point past a feature's training extreme falls in the
same leaf / tail / last bin as that extreme, so 0 °C and 35 °C scored like the coldest and warmest
training readings, barely at the contamination quantile (an isolation forest's path length stops
growing once a point is outside the sample's range (Liu et al. 2008); the score maps of Hariri
et al. 2019, "Extended Isolation Forest", show the same plateaus; an RBF SVM's decision value
flattens to −ρ far away). So the `Detector` puts a model-free floor under the backend's score: a
row whose standardised features leave the box [min, max] of the training columns by a Euclidean
distance e scores max(backend score, lowest training score + e × span), span = threshold − lowest
training score. A row one training standard deviation or more outside the range therefore always
reaches the threshold, and further out is more anomalous (−10 °C above 0 °C above 35 °C); the floor
is continuous in e and never lowers a score, so a row just past one extreme (in many features a
normal row often is: with n rows, past each feature's extreme with probability about 2 / (n + 1))
keeps the backend's own score, and no false alarms are added for it (measured on 20 features: at
most 1 % more alarms). Inside the box (e = 0) the floor is the lowest training score, and training
scores (hence the threshold) are unchanged. A feature constant in training is a box of width 0
whose standard deviation is 0: any other value there is infinitely many deviations out, so its
excess counts 1 + the deviation (in the feature's own units; such a column is centred, not
scaled) and the row is always flagged (trees cannot split on a constant column, so they could
not see it otherwise).

The anomaly threshold comes from `contamination`: the (1 − contamination) quantile of the
training points' raw scores (`contamination_threshold`); a point is anomalous when its score is
>= the threshold. Where ties at the quantile would let more than a `contamination` share of the
training points reach it (histogram and ECDF scores are step functions; on 20 rows the top scores
often tie), the threshold moves halfway to the next distinct training score above (or above the
top by half the gap below it), so at most that share of the training data is flagged. Scores that
differ by at most SCORE_TIE_RTOL × the largest |training score| count as tied: the same row scored
in another batch, or the copies of a constant row, differ in the last bits (an isolation forest's
average path length summed in another order; 3 or 5 copies of one row scored 0.5 − 2⁻⁵⁰), and a
tie rule on exact equality put the threshold one rounding step above the lowest score, so the
span below became noise and every row, the training value itself included, was flagged. Tied
groups are separated by more than the tolerance, so the threshold sits at least half of it above
every tied training score; when all training scores tie, it is the top + max(1, 2 × tolerance) / 2
(one raw unit: the training scores carry no scale then), and the zscore's std is 1 as well. Scores are
then reported in one of three normalisations:
- `raw`: the raw score;
- `zscore`: (raw − mean) / std of the training raw scores (standard deviations above normal);
- `standardization` (default): 1 − 2^(−(raw − min) / (t − min)) for raw ≥ min, else 0, with
  min the lowest training raw score and t the raw threshold: in [0, 1), strictly increasing with
  the raw score, 0.5 exactly at the contamination threshold (so the spec's default `threshold`
  0.5 means "as anomalous as the top `contamination` of the training data").

Backends: what each is good and bad at, and its limits (fit needs at least 2 rows for all;
measured in tests/ml/test_anomaly_quality.py and noted there):

- `isolation_forest`: fast, no distance metric, good default for global outliers in many features;
  blind to "holes" between clusters (axis-parallel cuts, Hariri et al.) and to features it never
  splits on; scores are coarse on tiny sets (< ~50 rows, 256-row subsamples at most).
- `one_class_svm`: smooth density-like boundary; cost grows ~n² (slow beyond ~10 000 rows); the
  bandwidth ("scale" = 1 / (d · var)) smooths over gaps narrower than about one standard deviation.
- `local_outlier_factor`: local density, catches outliers next to dense clusters and in holes;
  needs k + 1 rows (k = 20, fewer on small sets: on 20 rows every point is everyone's neighbour),
  memory ~n · d for scoring.
- `autoencoder`: learns correlations between features (a row whose features disagree); needs
  torch and enough rows to train (≥ ~50 for a stable error), results vary with the seed on tiny sets.
- `ecod`, `copod`: parameter-free, per-feature tail probabilities; blind to anomalies that are
  normal on every single feature (holes, broken correlations); on n rows a tail probability is at
  least 1 / (n + 1), so inside the range they separate little on tiny sets.
- `hbos`: per-feature histograms, linear time; same blindness to feature combinations; scores are
  a step function, so on tiny sets many rows tie (see the threshold rule above).
- `knn`: distance to the 5th neighbour (fewer on small sets); simple and strong for global
  outliers, sensitive to the feature scaling (standardised here), O(n · d) per scored row.

On tiny training sets (tens of rows) the threshold is the top one or two training scores
(contamination 0.05 on 20 rows: between the two highest), so only points scoring like the training
extremes, or outside the training range, are flagged.
"""

import math
from typing import Any, ClassVar

from apps.core.errors import Invalid
from apps.ml.features import FeatureEncoder

NORMALIZATIONS = ("standardization", "zscore", "raw")
AUTOENCODER_MAX_STEPS = 1000
OCSVM_MIN_NU = 0.5
# A value counts as outside the training range when it is beyond it by more than this, in
# standardised units (float noise of the scaling is far smaller).
RANGE_TOLERANCE = 1e-9
# Raw scores closer than this × the largest |training score| are tied (float noise is ~1e-15 of it).
SCORE_TIE_RTOL = 1e-9
AUTOENCODER_BATCH = 256
AUTOENCODER_CROSSFIT_MIN_ROWS = 40  # fewer: each half would be too small to train on
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

        # nu bounds the share of support vectors from below (Schölkopf et al. 2001, Prop. 4). The
        # threshold comes from the contamination quantile, not from the SVM's offset, so nu only
        # sets how many training points shape the function: nu = contamination (5 %) leaves a
        # handful, whose flat plateau ties most training points at the top score; with at least half
        # of them as support vectors the score is a smooth kernel density-like surface (nu → 1 is a
        # Parzen window estimate).
        self.model = OneClassSVM(nu=max(self.contamination, OCSVM_MIN_NU), gamma="scale").fit(x)
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
    """See the module docstring. A network fitted to n rows reconstructs those rows better than new
    ones from the same data, so a threshold taken from its own training errors flags far more than
    `contamination` of new normal rows (measured: 63 % on 200 rows × 20 features). The training
    scores it returns are therefore cross-fitted (split-conformal calibration): with at least
    AUTOENCODER_CROSSFIT_MIN_ROWS rows, each half is scored by a network trained on the other half;
    the network kept for scoring is trained on all rows."""

    name = "autoencoder"

    def fit(self, x: Any) -> Any:
        import numpy as np
        import torch

        self.network, self.epochs = self._train(x)
        if len(x) < AUTOENCODER_CROSSFIT_MIN_ROWS:
            return np.asarray(self.score(x))
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(RANDOM_SEED)).numpy()
        halves = np.array_split(order, 2)
        scores = np.empty(len(x), dtype=np.float64)
        for held_out, trained_on in ((halves[0], halves[1]), (halves[1], halves[0])):
            network, _epochs = self._train(x[trained_on])
            scores[held_out] = self._errors(network, x[held_out])
        return scores

    def score(self, x: Any) -> Any:
        return self._errors(self.network, x)

    @staticmethod
    def _train(x: Any) -> tuple[Any, int]:
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
        return network, epochs

    @staticmethod
    def _errors(network: Any, x: Any) -> Any:
        """Mean squared reconstruction error per row, float64 `(n,)`, computed in float64 by a float64
        copy of the (float32-trained) network, so a row's error does not depend on its batch."""
        import copy

        import torch

        with torch.no_grad():
            data = torch.as_tensor(x, dtype=torch.float64)
            return ((copy.deepcopy(network).double()(data) - data) ** 2).mean(dim=1).numpy()


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


class EcdfBackend(PyodBackend):
    """ECOD / COPOD, scored against the training data alone.

    PyOD's `decision_function` recomputes the empirical CDFs over the training rows AND the whole
    batch being scored, so a point's score depended on the other points of the request (a batch of
    outliers made each other look normal). Here each new value v of feature j is placed in the
    training sample alone: F_l(v) = (#{train_j ≤ v} + 1) / (n + 1) and F_r(v) = (#{train_j ≥ v} + 1) / (n + 1)
    (what PyOD computes for a batch of one row), U_l = −log F_l, U_r = −log F_r, and the skew
    correction uses the sign of the training skewness. Training scores are PyOD's `decision_scores_`.
    """

    def fit(self, x: Any) -> Any:
        import numpy as np
        from scipy.stats import skew

        scores = super().fit(x)
        self.sorted = np.sort(x, axis=0)
        self.skew_sign = np.sign(np.nan_to_num(skew(x, axis=0)))
        return scores

    def tails(self, x: Any) -> tuple[Any, Any, Any]:
        """(U_l, U_r, U_skew), each `(m, d)`: the negative log tail probabilities of Li et al."""
        import numpy as np

        n = len(self.sorted)
        below = np.empty_like(x)
        above = np.empty_like(x)
        for j in range(x.shape[1]):
            column = self.sorted[:, j]
            below[:, j] = np.searchsorted(column, x[:, j], side="right")
            above[:, j] = n - np.searchsorted(column, x[:, j], side="left")
        left = -np.log((below + 1) / (n + 1))
        right = -np.log((above + 1) / (n + 1))
        skewed = left * -np.sign(self.skew_sign - 1) + right * np.sign(self.skew_sign + 1)
        return left, right, skewed


class EcodBackend(EcdfBackend):
    """ECOD (Li et al. 2022): per feature the largest of the left, right and skew-corrected tail
    scores, summed over features."""

    name = "ecod"
    detector_class = "pyod.models.ecod.ECOD"

    def score(self, x: Any) -> Any:
        import numpy as np

        left, right, skewed = self.tails(x)
        return np.maximum(np.maximum(left, right), skewed).sum(axis=1)


class CopodBackend(EcdfBackend):
    """COPOD (Li et al. 2020): per feature the larger of the skew-corrected tail score and the mean
    of both tails, summed over features."""

    name = "copod"
    detector_class = "pyod.models.copod.COPOD"

    def score(self, x: Any) -> Any:
        import numpy as np

        left, right, skewed = self.tails(x)
        return np.maximum(skewed, (left + right) / 2).sum(axis=1)


class HbosBackend(PyodBackend):
    """HBOS (Goldstein & Dengel 2012) with k = ⌈√n⌉ bins per feature (at least 3, as PyOD requires), the square-root
    rule of the HBOS paper. PyOD's fixed 10 bins leave 0–3 rows per bin on 20 rows: the density
    takes two or three values, the top one is shared by a quarter of the training rows, and the
    contamination quantile fell on that tie, so every point scored exactly the threshold."""

    name = "hbos"
    detector_class = "pyod.models.hbos.HBOS"

    def build(self, rows: int) -> Any:
        from pyod.models.hbos import HBOS

        return HBOS(contamination=self.contamination, n_bins=max(3, math.ceil(math.sqrt(rows))))


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


def score_tolerance(train: Any) -> float:
    """How close two raw scores `(n,)` of a training set may be and still count as the same score:
    SCORE_TIE_RTOL × the largest |training score| (0 when all are 0, where ties are exact)."""
    import numpy as np

    return SCORE_TIE_RTOL * float(np.abs(np.asarray(train, dtype=np.float64)).max())


def contamination_threshold(train: Any, contamination: float, *, fallback_gap: float) -> float:
    """The raw threshold: the (1 − contamination) quantile of the training scores `(n,)`, moved up
    when ties let more than a `contamination` share of them reach it (points are anomalous when
    `score >= threshold`). Scores within `score_tolerance` of each other (chained, in sorted order)
    form one tied group. With a group at the quantile, the threshold goes halfway from that group's
    top to the next higher training score, or, when the group is the top one, above its top by half
    the gap down to the next lower score (by max(`fallback_gap`, 2 × tolerance) / 2 when all scores
    tie): so it clears every tied score by at least half the tolerance, which float noise in a
    rescored training row never crosses. Without a tie there, halfway from the quantile to the next
    higher score. So at most a `contamination` share of the training points is ever flagged (as far
    as n allows: on 3 rows the top one may still be)."""
    import numpy as np

    train = np.asarray(train, dtype=np.float64)
    tolerance = score_tolerance(train)
    quantile = float(np.quantile(train, 1 - contamination))
    if np.count_nonzero(train >= quantile - tolerance) <= contamination * len(train) + 1e-9:
        return quantile
    ordered = np.sort(train)
    # group[i] numbers the tied group of ordered[i]: a new group starts after each gap > tolerance.
    group = np.concatenate(([0], np.cumsum(np.diff(ordered) > tolerance)))
    at_or_below = int(np.searchsorted(ordered, quantile + tolerance, side="right")) - 1
    members = np.flatnonzero(group == group[at_or_below])
    top, bottom = float(ordered[members[-1]]), float(ordered[members[0]])
    if top < quantile - tolerance:  # no score tied with the quantile: the quantile itself is the tie-free point
        return (quantile + float(ordered[members[-1] + 1])) / 2
    if members[-1] + 1 < len(ordered):
        return (top + float(ordered[members[-1] + 1])) / 2
    if members[0] > 0:
        return top + (bottom - float(ordered[members[0] - 1])) / 2
    return top + max(fallback_gap, 2 * tolerance) / 2


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
        self.low, self.high = x.min(axis=0), x.max(axis=0)
        tolerance = score_tolerance(train)
        self.train_min = float(train.min())
        self.train_max = float(train.max())
        self.train_mean = float(train.mean())
        # All scores tied (a constant feature): their std is float noise, so one raw unit instead.
        std = float(train.std())
        self.train_std = std if self.train_max - self.train_min > tolerance and std > 0 else 1.0
        self.raw_threshold = contamination_threshold(train, self.contamination, fallback_gap=self.train_std)
        span = self.raw_threshold - self.train_min
        self.span = span if span > 0 else self.train_std  # > 0 always: the threshold clears every tie

    def range_excess(self, x: Any) -> Any:
        """How far each encoded row `(m, d)` lies outside the training range: the Euclidean distance
        from the row to the box [min, max] of the standardised training columns, `(m,)`, 0 inside.
        A constant training column is a box of width 0: a value off it counts 1 + its deviation."""
        import numpy as np

        outside = np.maximum(self.low - x, 0.0) + np.maximum(x - self.high, 0.0)
        outside[outside <= RANGE_TOLERANCE] = 0.0
        constant = (self.high - self.low) <= RANGE_TOLERANCE
        outside[:, constant] += np.where(outside[:, constant] > 0, 1.0, 0.0)
        return np.sqrt((outside**2).sum(axis=1))

    def raw_scores(self, rows: list[Any]) -> Any:
        """Raw scores `(m,)` of any rows: max(backend score, lowest training score + excess × span),
        with excess = `range_excess` and span = threshold − lowest training score, so a row an excess
        of 1 or more outside the training range reaches the threshold (see the module docstring)."""
        import numpy as np

        x = self.encoder.transform(rows)
        raw = np.asarray(self.backend.score(x), dtype=np.float64)
        if getattr(self, "low", None) is None:  # pickled before the range was recorded
            return raw
        floor = self.train_min + self.range_excess(x) * self.span
        return np.where(floor > self.train_min, np.maximum(raw, floor), raw)

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
        """The spec's `model_params`: the threshold in the detector's own normalisation, and as a raw
        score (what `normalization: raw` requests compare with)."""
        return {
            "backend": self.backend_name,
            "contamination": self.contamination,
            "threshold": round(self.threshold(self.normalization), 6),
            "raw_threshold": self.raw_threshold,
            "input_dim": self.encoder.width,
            "normalization": self.normalization,
            "features": self.encoder.columns,
        }
