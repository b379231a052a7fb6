"""Turning a request's `data` into the number matrix an anomaly detector works on.

`data` is either rows of numbers (`[[22.1, 1024], [23.5, 1100]]`, or a flat `[22.1, 23.5]` for one
feature) or rows of objects described by a `schema` mapping each field to its encoding:

- `numeric`: the number itself;
- `label` (alias `ordinal`): the category's index among the categories seen in training (sorted);
  a category never seen in training gets the next index, one past the known ones;
- `onehot` (alias `one_hot`): one 0/1 column per category seen in training, plus `field=<unseen>`,
  1 for a category never seen in training (constant 0 in training, so the detector's range rule
  always flags such a row; all zeros would sit inside the training range);
- `hash`: a stable hash of the value's text mapped into [0, 1) (BLAKE2b, 64 bits), for
  high-cardinality strings (user agents, paths) without a vocabulary.

A category is the value's text, except that a number with an integral value is written as the
integer (`_category_text`): JSON `1.0`, `1` and `"1"` are one category, as they are one value to
most clients (`str(1.0)` is "1.0", so `1.0` used to be a category never seen in training, flagged).
Encoders pickled before this keep the plain text (their hash columns were computed from it) and
look a number up under both spellings.

Every column is then standardised with the training mean and standard deviation, so distance- and
density-based backends (SVM, LOF, kNN) are not dominated by the feature with the largest unit. A
column that is constant in training (standard deviation at most CONSTANT_TOLERANCE × max(|mean|, 1),
so float noise such as 0.1 + 0.2 vs 0.3 counts as constant) is centred only: it stays in its own
units, 0 in training, and the detector's training-range check (`apps.ml.anomaly`) sees any other
value there as outside the training range, so a deviation in a feature that never varied cannot
score normal. Means and standard deviations are computed on columns scaled by a power of two (exact,
so no overflow for values near the float limit, ±1e308), the centring on halved values, and an
encoded value is clipped to ±ENCODED_LIMIT (1e30 standard deviations, or units of a constant
column): backends see finite numbers (scikit-learn's trees convert to float32, whose limit is
3.4e38), squares and sums over any number of features stay finite, and a row that far out is
flagged by the range rule anyway. The encoder is fitted once and saved with the detector.
"""

import hashlib
import math
from typing import Any

from apps.core.errors import Invalid

ENCODINGS = ("numeric", "label", "ordinal", "onehot", "one_hot", "hash")
CONSTANT_TOLERANCE = 1e-12
ENCODED_LIMIT = 1e30
UNSEEN = "<unseen>"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"{where}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise Invalid(f"{where}: numbers must be finite")
    return number


def _category_text(value: Any) -> str:
    """A scalar's category: its text, an integral number as the integer (1.0 → "1", 1e20 →
    "100000000000000000000", -0.0 → "0"), so that it equals the int and the string "1"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hash_unit(value: Any) -> float:
    """A value's stable hash in [0, 1): the first 8 bytes of BLAKE2b over its text, over 2**64."""
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FeatureEncoder:
    """Fitted on training rows; `transform` turns any later rows into the same standardised columns.

    Shapes: `fit_transform(rows)` and `transform(rows)` return a float64 array `(len(rows), width)`.
    Raises Invalid (400) for ragged rows, non-numbers, missing fields, dict rows without a schema,
    unknown encodings.
    """

    def __init__(self, schema: dict[str, str] | None = None) -> None:
        if schema:  # an empty schema is no schema
            if not isinstance(schema, dict):
                raise Invalid("schema must be an object mapping each field to an encoding")
            for field, encoding in schema.items():
                if encoding not in ENCODINGS:
                    raise Invalid(
                        f"schema field {field!r}: unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}"
                    )
        self.schema = dict(schema) if schema else None
        self.categories: dict[str, list[str]] = {}
        self.width = 0
        self.columns: list[str] = []
        self.mean: list[float] = []
        self.scale: list[float] = []
        self.unseen_column = True  # onehot's `field=<unseen>`; absent in detectors pickled before it
        self.integral_numbers = True  # 1.0 is the category "1"; absent in encoders pickled before it

    # --- rows → raw columns ------------------------------------------------------------------

    def _numeric_rows(self, rows: list[Any]) -> list[list[float]]:
        matrix = []
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                raise Invalid("data holds objects: give a schema mapping each field to an encoding")
            values = row if isinstance(row, list) else [row]
            if not values:
                raise Invalid(f"data[{index}] is empty")
            where = f"data[{index}]" if not isinstance(row, list) else None
            matrix.append([_number(value, where or f"data[{index}][{column}]") for column, value in enumerate(values)])
        widths = {len(row) for row in matrix}
        if len(widths) > 1:
            raise Invalid(f"data rows have different lengths ({', '.join(map(str, sorted(widths)))})")
        return matrix

    def _category(self, row: dict, field: str, index: int) -> str:
        if field not in row:
            raise Invalid(f"data[{index}] lacks field {field!r} of the schema")
        value = row[field]
        if isinstance(value, dict | list):
            raise Invalid(f"data[{index}].{field}: expected a scalar")
        return _category_text(value) if getattr(self, "integral_numbers", False) else str(value)

    def _known(self, row: dict, field: str, index: int) -> str:
        """The category of `row[field]` as the fitted vocabulary spells it. An encoder pickled before
        integral numbers were written as integers learned "1.0" for 1.0 and "1" for 1: a number is
        looked up under its own text first, then under the other spelling."""
        value = self._category(row, field, index)
        known = self.categories[field]
        if value in known or getattr(self, "integral_numbers", False):
            return value
        number = row[field]
        if isinstance(number, float) and number.is_integer():
            return _category_text(number)
        if isinstance(number, int) and not isinstance(number, bool):
            return str(float(number))
        return value

    def _schema_rows(self, rows: list[Any], *, learn: bool) -> list[list[float]]:
        assert self.schema is not None
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise Invalid(f"data[{index}] is not an object, but a schema was given")
        if learn:
            for field, encoding in self.schema.items():
                if encoding in ("label", "ordinal", "onehot", "one_hot"):
                    self.categories[field] = sorted({self._category(row, field, i) for i, row in enumerate(rows)})
        matrix = []
        for index, row in enumerate(rows):
            encoded: list[float] = []
            for field, encoding in self.schema.items():
                if encoding == "numeric":
                    if field not in row:
                        raise Invalid(f"data[{index}] lacks field {field!r} of the schema")
                    encoded.append(_number(row[field], f"data[{index}].{field}"))
                elif encoding == "hash":
                    encoded.append(hash_unit(self._category(row, field, index)))
                else:
                    known = self.categories[field]
                    value = self._known(row, field, index)
                    if encoding in ("label", "ordinal"):
                        encoded.append(float(known.index(value)) if value in known else float(len(known)))
                    else:
                        encoded.extend(1.0 if value == category else 0.0 for category in known)
                        if getattr(self, "unseen_column", False):
                            encoded.append(0.0 if value in known else 1.0)
            matrix.append(encoded)
        return matrix

    def _column_names(self) -> list[str]:
        if self.schema is None:
            return [f"x{i}" for i in range(self.width)]
        names: list[str] = []
        for field, encoding in self.schema.items():
            if encoding in ("onehot", "one_hot"):
                names.extend(f"{field}={category}" for category in self.categories[field])
                if getattr(self, "unseen_column", False):
                    names.append(f"{field}={UNSEEN}")
            else:
                names.append(field)
        return names

    def rows_check(self, rows: list[Any]) -> int:
        """Check training rows as `fit_transform` would, in plain Python (no numpy): the web process
        answers 400 for bad data before any job is queued. Returns the number of rows."""
        if not isinstance(rows, list) or not rows:
            raise Invalid("data must be a non-empty list")
        parsed = self._schema_rows(rows, learn=True) if self.schema else self._numeric_rows(rows)
        return len(parsed)

    # --- fit / transform -------------------------------------------------------------------------

    def fit_transform(self, rows: list[Any]) -> Any:
        import numpy as np

        if not isinstance(rows, list) or not rows:
            raise Invalid("data must be a non-empty list")
        matrix = np.asarray(
            self._schema_rows(rows, learn=True) if self.schema else self._numeric_rows(rows), dtype=np.float64
        )
        self.width = matrix.shape[1]
        self.columns = self._column_names()
        # Scaled by 2^-e per column (max |value| < 2^e): exact, and a sum of n values near 1e308
        # does not overflow.
        exponent = np.frexp(np.abs(matrix).max(axis=0))[1]
        scaled = np.ldexp(matrix, -exponent)
        mean = np.ldexp(scaled.mean(axis=0), exponent)
        scale = np.ldexp(scaled.std(axis=0), exponent)
        constant = scale <= CONSTANT_TOLERANCE * np.maximum(np.abs(mean), 1.0)
        mean[constant] = matrix[0, constant]  # the constant itself, not a mean with rounding error
        scale[constant] = 1.0
        self.mean, self.scale = mean.tolist(), scale.tolist()
        return self._standardise(matrix)

    def _standardise(self, matrix: Any) -> Any:
        """(matrix − mean) / scale `(n, width)`, computed on halves (exact; the difference of two
        halves cannot overflow) and clipped to ±ENCODED_LIMIT."""
        import numpy as np

        with np.errstate(over="ignore"):
            encoded = (matrix * 0.5 - np.asarray(self.mean) * 0.5) / (np.asarray(self.scale) * 0.5)
        return np.clip(encoded, -ENCODED_LIMIT, ENCODED_LIMIT)

    def transform(self, rows: list[Any]) -> Any:
        import numpy as np

        if not isinstance(rows, list) or not rows:
            raise Invalid("data must be a non-empty list")
        matrix = np.asarray(
            self._schema_rows(rows, learn=False) if self.schema else self._numeric_rows(rows), dtype=np.float64
        )
        if matrix.shape[1] != self.width:
            raise Invalid(f"data rows have {matrix.shape[1]} features; the model was fitted on {self.width}")
        return self._standardise(matrix)
