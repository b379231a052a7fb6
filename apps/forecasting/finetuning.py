"""Fine-tuning Chronos-2 on a user's CSV: read and check the data first (every problem reported as
`Invalid` with its reason, before any model loads), then `Chronos2Pipeline.fit` (full or LoRA) with
progress and cancellation through a transformers `TrainerCallback`, and save a self-contained model
folder that `BaseChronosPipeline.from_pretrained(folder)` loads.

This module knows nothing of jobs: the caller passes `on_progress(step, total_steps)` and
`cancelled()`; a cancelled run raises `FinetuneStopped` and leaves nothing behind.
"""

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from apps.core.errors import Conflict, Invalid

if TYPE_CHECKING:
    import pandas as pd

TIMESTAMP_COLUMN_NAMES = ("timestamp", "ds", "date", "time")
FINETUNE_MODES = ("full", "lora")
# Written into the saved folder beside config.json: what the model was fine-tuned on, and how.
FINETUNE_RECORD = "finetune.json"
# How many offending rows an error message shows.
SHOWN_ROWS = 5


class FinetuneStopped(Exception):
    """`cancelled()` answered True: training stopped at the next step and nothing was saved."""


@dataclass(frozen=True)
class TrainingData:
    """A checked training table: `timestamps` (T,) strictly increasing at a regular `frequency`,
    `targets` of shape (len(target_names), T) and `exogenous` of shape (len(exogenous_names), T),
    float64 and complete."""

    path: Path
    timestamp_column: str
    timestamps: "pd.DatetimeIndex"
    frequency: str
    target_names: list[str]
    targets: np.ndarray
    exogenous_names: list[str]
    exogenous: np.ndarray

    @property
    def rows(self) -> int:
        """T, the number of time steps."""
        return int(self.targets.shape[1])

    def chronos2_inputs(self) -> list[dict]:
        """The table as Chronos-2's raw input (one dict): every target as a variate, every exogenous
        column a covariate known into the future (its values are the past covariate; `None` in
        `future_covariates` tells `fit` to take its future from the training window)."""
        item: dict = {"target": self.targets.astype(np.float32)}
        if self.exogenous_names:
            item["past_covariates"] = {
                name: self.exogenous[i].astype(np.float32) for i, name in enumerate(self.exogenous_names)
            }
            item["future_covariates"] = dict.fromkeys(self.exogenous_names)
        return [item]


def _line(position: int) -> int:
    """The CSV line of data row `position` (0-based), counting the header as line 1."""
    return position + 2


def _lines(positions: np.ndarray | list[int]) -> str:
    shown = [str(_line(int(p))) for p in list(positions)[:SHOWN_ROWS]]
    return ", ".join(shown) + (" …" if len(positions) > SHOWN_ROWS else "")


def _read_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if not path.exists():
        raise Invalid(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise Invalid(f"data path {str(path)!r} is not a file")
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as error:
        raise Invalid(f"data file {str(path)!r} cannot be read: {error.strerror or error}") from None
    if b"\x00" in head:
        raise Invalid(f"data file {str(path)!r} is not a CSV file (it holds binary data)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except UnicodeDecodeError:
        raise Invalid(f"data file {str(path)!r} is not a CSV file (not UTF-8 text)") from None
    except pd.errors.EmptyDataError:
        raise Invalid(f"data file {str(path)!r} is empty") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise Invalid(f"data file {str(path)!r} is not a valid CSV file: {error}") from None
    except OSError as error:
        raise Invalid(f"data file {str(path)!r} cannot be read: {error.strerror or error}") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def _timestamp_column(frame: "pd.DataFrame", requested: str | None) -> str:
    if requested is not None:
        return requested
    by_lower = {str(column).lower(): column for column in frame.columns}
    for name in TIMESTAMP_COLUMN_NAMES:
        if name in by_lower:
            return by_lower[name]
    raise Invalid(
        f"no timestamp column: none of {', '.join(TIMESTAMP_COLUMN_NAMES)} is among the columns "
        f"({', '.join(map(str, frame.columns))}); name it with timestamp_column"
    )


def _numeric(frame: "pd.DataFrame", column: str) -> np.ndarray:
    import pandas as pd

    raw = frame[column].astype(str).str.strip()
    empty = np.flatnonzero((raw == "").to_numpy() | raw.str.lower().isin(["nan", "na", "null", "none"]).to_numpy())
    if empty.size:
        raise Invalid(f"column {column!r} has {empty.size} missing value(s), at CSV line(s) {_lines(empty)}")
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = raw.iloc[int(bad[0])]
        raise Invalid(
            f"column {column!r} has {bad.size} non-numeric value(s), e.g. {first!r} at CSV line "
            f"{_line(int(bad[0]))} (line(s) {_lines(bad)})"
        )
    return values


def _timestamps(frame: "pd.DataFrame", column: str) -> "pd.DatetimeIndex":
    import pandas as pd

    raw = frame[column].astype(str).str.strip()
    empty = np.flatnonzero((raw == "").to_numpy())
    if empty.size:
        raise Invalid(f"timestamp column {column!r} has {empty.size} missing value(s), at CSV line(s) {_lines(empty)}")
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise Invalid(
            f"timestamp column {column!r} has {bad.size} value(s) that are not dates, e.g. "
            f"{raw.iloc[int(bad[0])]!r} at CSV line {_line(int(bad[0]))}"
        )
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index


def _check_regular(index: "pd.DatetimeIndex", column: str) -> str:
    """The frequency of strictly increasing, gap-free timestamps (a pandas offset alias); Invalid
    naming the first duplicate, step backwards, gap or irregular step otherwise."""
    import pandas as pd

    steps = np.diff(index.asi8)
    duplicated = np.flatnonzero(steps == 0)
    if duplicated.size:
        i = int(duplicated[0]) + 1
        raise Invalid(
            f"timestamp {index[i]} appears more than once (CSV lines {_line(i - 1)} and {_line(i)}); "
            f"{duplicated.size} duplicated timestamp(s) in {column!r}"
        )
    backwards = np.flatnonzero(steps < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise Invalid(
            f"timestamps must increase: {index[i]} at CSV line {_line(i)} comes after {index[i - 1]} "
            f"at line {_line(i - 1)}; sort the file by {column!r}"
        )
    # The frequency most runs of 5 consecutive timestamps agree on (calendar frequencies such as
    # month starts have unequal steps in nanoseconds, so equal steps alone cannot tell).
    candidates: dict[str, int] = {}
    for start in range(0, max(len(index) - 4, 1), 5):
        chunk = index[start : start + 5]
        if len(chunk) >= 3:
            found = pd.infer_freq(chunk)
            if found is not None:
                candidates[found] = candidates.get(found, 0) + 1
    if candidates:
        frequency = max(candidates, key=lambda name: candidates[name])
        expected = pd.date_range(index[0], periods=len(index), freq=frequency)
        mismatch = np.flatnonzero(expected != index)
        if not mismatch.size:
            return frequency
        i = int(mismatch[0])
        on_grid = pd.date_range(expected[i], index[i], freq=frequency)
        if index[i] > expected[i] and len(on_grid) and on_grid[-1] == index[i]:
            missing = on_grid[:-1]
            raise Invalid(
                f"timestamps have a gap: {len(missing)} step(s) of {frequency!r} missing between "
                f"{index[i - 1]} (CSV line {_line(i - 1)}) and {index[i]} (line {_line(i)}), "
                f"the first missing being {missing[0]}"
            )
        raise Invalid(
            f"timestamps are irregular: {index[i]} at CSV line {_line(i)} is off the {frequency!r} grid "
            f"(expected {expected[i]} after {index[i - 1]})"
        )
    # No calendar frequency: the commonest step, then the first step that differs from it.
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[int(np.argmax(counts))])
    off = np.flatnonzero(steps != step)
    if off.size:
        i = int(off[0]) + 1
        raise Invalid(
            f"timestamps are irregular or have a gap: {index[i - 1]} (CSV line {_line(i - 1)}) → {index[i]} "
            f"(line {_line(i)}) is a step of {pd.Timedelta(int(steps[i - 1]))}, the usual step being "
            f"{pd.Timedelta(step)}"
        )
    return pd.tseries.frequencies.to_offset(pd.Timedelta(step)).freqstr


def training_data_read(
    *,
    path: Path,
    targets: list[str],
    exogenous: list[str],
    prediction_length: int,
    timestamp_column: str | None = None,
) -> TrainingData:
    """Read and check a training CSV: a header row, a timestamp column (found by name — one of
    TIMESTAMP_COLUMN_NAMES, case-insensitive — when `timestamp_column` is None), the `targets` and
    `exogenous` columns as numbers; other columns are ignored.

    Raises `Invalid`, with the reason and where (CSV line numbers, header = line 1), when: the file is
    missing, not a file, unreadable, empty, binary or not parseable as CSV; no target is named, a
    name is repeated or both target and exogenous; columns are missing (all listed, with the columns
    that exist); a value is missing or not a number; a timestamp is missing or not a date;
    timestamps repeat, go backwards, have a gap or are irregular; or there are fewer than
    2 × prediction_length rows (Chronos-2's `fit` keeps only windows with at least prediction_length
    steps of history before the prediction_length steps it learns to forecast).
    """
    if not isinstance(prediction_length, int) or isinstance(prediction_length, bool) or prediction_length < 1:
        raise Invalid(f"prediction_length must be a positive integer, got {prediction_length!r}")
    targets, exogenous = list(targets or []), list(exogenous or [])
    if not targets:
        raise Invalid("targets must name at least one column")
    named = targets + exogenous
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise Invalid(f"column(s) named more than once in targets/exogenous: {', '.join(repeated)}")
    path = Path(path)
    frame = _read_table(path)
    column = _timestamp_column(frame, timestamp_column)
    if column in named:
        raise Invalid(f"{column!r} is the timestamp column; it cannot be a target or exogenous column")
    missing = [name for name in [column, *named] if name not in frame.columns]
    if missing:
        raise Invalid(
            f"column(s) not in {path.name}: {', '.join(missing)}; it has: {', '.join(map(str, frame.columns))}"
        )
    needed = 2 * prediction_length
    if len(frame) < needed:
        raise Invalid(
            f"{path.name} has {len(frame)} row(s); prediction_length={prediction_length} needs at least "
            f"{needed} (prediction_length to learn to forecast and as many of history before them)"
        )
    target_values = np.stack([_numeric(frame, name) for name in targets])
    exogenous_values = (
        np.stack([_numeric(frame, name) for name in exogenous]) if exogenous else np.zeros((0, len(frame)))
    )
    index = _timestamps(frame, column)
    frequency = _check_regular(index, column)
    return TrainingData(
        path=path,
        timestamp_column=column,
        timestamps=index,
        frequency=frequency,
        target_names=targets,
        targets=target_values,
        exogenous_names=exogenous,
        exogenous=exogenous_values,
    )


def _training_callback(
    *, on_progress: Callable[[int, int], None], cancelled: Callable[[], bool], losses: list[float]
) -> object:
    """A TrainerCallback reporting each step, recording logged losses, and stopping the trainer at the
    end of the step during which `cancelled()` turned True."""
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

    class JobCallback(TrainerCallback):
        stopped = False

        def on_step_end(
            self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: object
        ) -> TrainerControl:
            on_progress(int(state.global_step), int(state.max_steps))
            if cancelled():
                self.stopped = True
                control.should_training_stop = True
            return control

        def on_log(
            self,
            args: TrainingArguments,
            state: TrainerState,
            control: TrainerControl,
            logs: dict[str, float] | None = None,
            **kwargs: object,
        ) -> TrainerControl:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))
            return control

    return JobCallback()


def chronos2_finetune(
    *,
    base_model_dir: Path,
    data: TrainingData,
    prediction_length: int,
    steps: int,
    learning_rate: float,
    batch_size: int,
    mode: str,
    output_dir: Path,
    on_progress: Callable[[int, int], None],
    cancelled: Callable[[], bool],
) -> Path:
    """Fine-tune the Chronos-2 in `base_model_dir` on `data` and save it to `output_dir`; returns
    `output_dir`.

    `Chronos2Pipeline.fit` with every knob passed (its defaults — lr 1e-6, 1,000 steps, batch 256, a
    folder in the working directory — are not ours): `learning_rate`, `batch_size` (series per batch,
    targets and covariates counted), `num_steps=steps`, `context_length` = the model's, trainer
    files in a temporary folder beside `output_dir` (removed afterwards), `finetune_mode` = `mode`
    ("full": every weight; "lora": low-rank adapters on attention and the output layer, through
    peft, then merged into the weights, so the saved folder is a plain Chronos-2 that does not
    depend on the base model's path). The targets are the variates; exogenous columns are
    covariates known into the future. The model trains in float32 on CUDA when available, else CPU,
    with the process's thread policy.

    `on_progress(step, total_steps)` is called after each step; `cancelled()` is checked after each
    step too, and when True training stops, nothing is saved and `FinetuneStopped` is raised.
    `output_dir` gets the model's `config.json` and weights plus `finetune.json` (what it learned from).

    Raises `Invalid` (unknown mode, non-positive steps/batch size/learning rate, a base that is not a
    Chronos-2 folder, too few rows), `Conflict` (`output_dir` exists and is not empty).
    """
    from apps.core.threads import apply_model_thread_policy

    if mode not in FINETUNE_MODES:
        raise Invalid(f"mode must be one of {', '.join(FINETUNE_MODES)}, got {mode!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("prediction_length", prediction_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise Invalid(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(learning_rate, int | float) or not 0.0 < float(learning_rate) < 1.0:
        raise Invalid(f"learning_rate must be a number between 0 and 1, got {learning_rate!r}")
    if data.rows < 2 * prediction_length:
        raise Invalid(
            f"the data has {data.rows} rows; prediction_length={prediction_length} needs {2 * prediction_length}"
        )
    base_model_dir, output_dir = Path(base_model_dir), Path(output_dir)
    _check_chronos2_folder(base_model_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise Conflict(f"output folder {str(output_dir)!r} already exists and is not empty")
    if cancelled():
        raise FinetuneStopped("cancelled before training started")

    apply_model_thread_policy()
    import torch
    from chronos import Chronos2Pipeline

    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipeline = Chronos2Pipeline.from_pretrained(str(base_model_dir), device_map=device, dtype=torch.float32)
    losses: list[float] = []
    callback = _training_callback(on_progress=on_progress, cancelled=cancelled, losses=losses)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.training-", dir=output_dir.parent))
    try:
        finetuned = pipeline.fit(
            data.chronos2_inputs(),
            prediction_length=prediction_length,
            finetune_mode=mode,
            context_length=pipeline.model_context_length,
            learning_rate=float(learning_rate),
            num_steps=steps,
            batch_size=batch_size,
            output_dir=work_dir / "trainer",
            callbacks=[callback],
            remove_printer_callback=True,
            disable_tqdm=True,
            logging_steps=max(1, steps // 20),
        )
        if callback.stopped:
            raise FinetuneStopped(f"cancelled during training, after {len(losses)} logged step(s)")
        model = finetuned.model
        if hasattr(model, "merge_and_unload"):  # a peft LoRA wrapper: fold the adapters into the weights
            model = model.merge_and_unload()
        staged = work_dir / "model"
        Chronos2Pipeline(model=model).save_pretrained(staged)
        record = {
            "base_model": base_model_dir.name,
            "mode": mode,
            "steps": steps,
            "learning_rate": float(learning_rate),
            "batch_size": batch_size,
            "prediction_length": prediction_length,
            "context_length": pipeline.model_context_length,
            "targets": data.target_names,
            "exogenous": data.exogenous_names,
            "rows": data.rows,
            "frequency": data.frequency,
            "losses": losses,
        }
        (staged / FINETUNE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        if output_dir.exists():
            output_dir.rmdir()  # empty (checked above)
        staged.rename(output_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return output_dir


def _check_chronos2_folder(folder: Path) -> None:
    """Invalid unless `folder` holds a Chronos-2 model (config.json naming `Chronos2Model`)."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise Invalid(f"base model folder {str(folder)!r} has no config.json")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as error:
        raise Invalid(f"base model config {str(config_path)!r} cannot be read: {error}") from None
    architectures = config.get("architectures") or []
    if "Chronos2Model" not in architectures:
        shown = ", ".join(architectures) or "no architecture"
        raise Invalid(f"only Chronos-2 models can be fine-tuned; {folder.name} is {shown}")
