"""Fine-tuning data and Chronos-2 fine-tuning: every way a training CSV is refused (with the reason,
before any model loads), and a tiny random Chronos-2 fine-tuned for a few steps, full and LoRA, saved
as a plain folder that loads and forecasts; a cancelled run stops and leaves nothing."""

import json
from pathlib import Path

import numpy as np
import pytest

from apps.core.errors import Conflict, Invalid
from apps.forecasting.finetuning import FINETUNE_RECORD, FinetuneStopped, chronos2_finetune, training_data_read
from tests.fakes.forecast_models import build_tiny_chronos2, build_tiny_chronos_bolt

HOURS = 120


def write_csv(folder: Path, text: str, name: str = "data.csv") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def hourly_csv(folder: Path, rows: int = HOURS, name: str = "load.csv") -> Path:
    """A daily-cycle load with a holiday flag that lowers it: two targets and one covariate."""
    lines = ["timestamp,cpu_usage,memory,is_holiday,comment"]
    for hour in range(rows):
        day, hour_of_day = divmod(hour, 24)
        holiday = 1 if day % 7 == 6 else 0
        cpu = 50 + 20 * np.sin(2 * np.pi * hour_of_day / 24) - 15 * holiday
        memory = 30 + 0.1 * hour
        lines.append(f"2025-01-{1 + day:02d} {hour_of_day:02d}:00:00,{cpu:.3f},{memory:.3f},{holiday},x")
    return write_csv(folder, "\n".join(lines) + "\n", name)


def read(path: Path, **kwargs):
    arguments = {"path": path, "targets": ["cpu_usage"], "exogenous": [], "prediction_length": 2}
    arguments.update(kwargs)
    return training_data_read(**arguments)


# --- reading the training CSV -------------------------------------------------------------------


def test_a_good_csv_gives_targets_covariates_and_its_frequency(tmp_path):
    data = read(hourly_csv(tmp_path), targets=["cpu_usage", "memory"], exogenous=["is_holiday"], prediction_length=12)
    assert data.timestamp_column == "timestamp" and data.frequency in ("h", "H")
    assert data.targets.shape == (2, HOURS) and data.exogenous.shape == (1, HOURS) and data.rows == HOURS
    assert data.targets[1, :2].tolist() == [30.0, 30.1]
    inputs = data.chronos2_inputs()
    assert inputs[0]["target"].shape == (2, HOURS)
    assert set(inputs[0]["past_covariates"]) == {"is_holiday"} and inputs[0]["future_covariates"] == {
        "is_holiday": None
    }


def test_the_timestamp_column_is_found_by_name_or_given(tmp_path):
    monthly = "Date,sales\n2024-01-01,10\n2024-02-01,12\n2024-03-01,11\n2024-04-01,13\n"
    data = read(write_csv(tmp_path, monthly), targets=["sales"], prediction_length=2)
    assert data.timestamp_column == "Date" and data.frequency == "MS"
    custom = "when,sales\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n2024-01-04,4\n"
    data = read(write_csv(tmp_path, custom, "custom.csv"), targets=["sales"], timestamp_column="when")
    assert data.frequency == "D" and data.targets.tolist() == [[1, 2, 3, 4]]


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (None, {}, r"does not exist"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", {}, "not a CSV file"),
        (b"timestamp,cpu_usage\n2024-01-01,\xff\xfe\n", {}, r"not a CSV file \(not UTF-8 text\)"),
        ("", {}, "is empty"),
        ('timestamp,cpu_usage\n"2024-01-01,1\n', {}, "not a valid CSV file"),
        (
            "ts,cpu_usage\n2024-01-01,1\n",
            {},
            r"no timestamp column: none of timestamp, ds, date, time .*\(ts, cpu_usage\)",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n",
            {"targets": ["cpu_usage", "memory"], "exogenous": ["holiday"]},
            r"column\(s\) not in data.csv: memory, holiday; it has: timestamp, cpu_usage",
        ),
        ("timestamp,a\n", {"targets": []}, "targets must name at least one column"),
        ("timestamp,a\n", {"targets": ["a"], "exogenous": ["a"]}, "named more than once.*: a"),
        ("timestamp,a\n", {"targets": ["timestamp"]}, "is the timestamp column"),
        ("timestamp,a\n", {"targets": ["a"], "prediction_length": 0}, "prediction_length must be a positive integer"),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n",
            {"prediction_length": 2},
            r"has 3 row\(s\); prediction_length=2 needs at least 4",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n2024-01-02,high\n2024-01-03,3\n2024-01-04,4\n",
            {},
            r"column 'cpu_usage' has 1 non-numeric value\(s\), e.g. 'high' at CSV line 3",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n2024-01-02,\n2024-01-03,NaN\n2024-01-04,4\n",
            {},
            r"column 'cpu_usage' has 2 missing value\(s\), at CSV line\(s\) 3, 4",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n,2\n2024-01-03,3\n2024-01-04,4\n",
            {},
            r"timestamp column 'timestamp' has 1 missing value\(s\), at CSV line\(s\) 3",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\nyesterday,2\n2024-01-03,3\n2024-01-04,4\n",
            {},
            r"not dates, e.g. 'yesterday' at CSV line 3",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n2024-01-03,4\n",
            {},
            r"timestamp 2024-01-02 00:00:00 appears more than once \(CSV lines 3 and 4\)",
        ),
        (
            "timestamp,cpu_usage\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n2024-01-04,4\n",
            {},
            r"timestamps must increase: 2024-01-02 00:00:00 at CSV line 4 comes after 2024-01-03",
        ),
        (
            "timestamp,cpu_usage\n"
            + "".join(f"2024-01-{d:02d},{d}\n" for d in (1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14)),
            {},
            r"gap: 2 step\(s\) of 'D' missing between 2024-01-06 00:00:00 \(CSV line 7\) and 2024-01-09 "
            r"00:00:00 \(line 8\), the first missing being 2024-01-07",
        ),
        (
            "timestamp,cpu_usage\n"
            + "".join(f"2024-01-01 {h:02d}:00,{h}\n" for h in range(10))
            + "2024-01-01 10:30,10\n2024-01-01 11:00,11\n",
            {},
            r"irregular: 2024-01-01 10:30:00 at CSV line 12 is off the 'h' grid",
        ),
        (
            "time,cpu_usage\n" + "".join(f"2024-01-01 00:00:{s:02d},{s}\n" for s in (0, 7, 15, 22, 30, 37, 45, 52)),
            {},
            r"irregular or have a gap: 2024-01-01 00:00:07 \(CSV line 3\) → 2024-01-01 00:00:15 \(line 4\) is a "
            r"step of 0 days 00:00:08, the usual step being 0 days 00:00:07",
        ),
    ],
)
def test_a_bad_csv_is_invalid_with_the_reason_and_where(tmp_path, content, kwargs, message):
    path = tmp_path / "data.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    with pytest.raises(Invalid, match=message):
        read(path, **kwargs)


def test_a_folder_is_invalid(tmp_path):
    # (An unreadable file cannot be made here: tests and CI run as root, whom permissions do not stop.)
    with pytest.raises(Invalid, match="is not a file"):
        read(tmp_path)


# --- fine-tuning a tiny Chronos-2 -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_chronos2(tmp_path_factory) -> Path:
    return build_tiny_chronos2(tmp_path_factory.mktemp("base") / "chronos2")


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return read(hourly_csv(folder), targets=["cpu_usage", "memory"], exogenous=["is_holiday"], prediction_length=12)


def finetune(base: Path, data, output: Path, *, mode: str = "full", steps: int = 4, cancel_after: int | None = None):
    progress: list[tuple[int, int]] = []
    path = chronos2_finetune(
        base_model_dir=base,
        data=data,
        prediction_length=12,
        steps=steps,
        learning_rate=1e-3,
        batch_size=8,
        mode=mode,
        output_dir=output,
        on_progress=lambda step, total: progress.append((step, total)),
        cancelled=lambda: cancel_after is not None and len(progress) >= cancel_after,
    )
    return path, progress


def weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(folder / "model.safetensors")


def forecast_with(folder: Path, data) -> np.ndarray:
    from chronos import BaseChronosPipeline

    pipeline = BaseChronosPipeline.from_pretrained(str(folder), device_map="cpu")
    inputs = [
        {
            "target": data.targets[:, :-12],
            "past_covariates": {"is_holiday": data.exogenous[0, :-12]},
            "future_covariates": {"is_holiday": data.exogenous[0, -12:]},
        }
    ]
    _, mean = pipeline.predict_quantiles(inputs, prediction_length=12, quantile_levels=[0.1, 0.5, 0.9])
    return mean[0].numpy()


@pytest.mark.ml
def test_full_finetuning_saves_a_chronos2_that_loads_and_forecasts(tiny_chronos2, training_data, tmp_path):
    output, progress = finetune(tiny_chronos2, training_data, tmp_path / "models" / "my-model")
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert output == tmp_path / "models" / "my-model"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["my-model"]  # no trainer leftovers
    config = json.loads((output / "config.json").read_text())
    assert config["architectures"] == ["Chronos2Model"]
    changed = [name for name, value in weights(output).items() if not np.allclose(value, weights(tiny_chronos2)[name])]
    assert changed, "training changed no weight"
    record = json.loads((output / FINETUNE_RECORD).read_text())
    assert record["mode"] == "full" and record["steps"] == 4 and record["targets"] == ["cpu_usage", "memory"]
    assert record["exogenous"] == ["is_holiday"] and len(record["losses"]) == 4
    mean = forecast_with(output, training_data)
    assert mean.shape == (2, 12) and np.isfinite(mean).all()


@pytest.mark.ml
def test_lora_finetuning_is_merged_into_a_plain_folder(tiny_chronos2, training_data, tmp_path):
    output, progress = finetune(tiny_chronos2, training_data, tmp_path / "lora-model", mode="lora", steps=3)
    assert progress[-1] == (3, 3)
    assert not (output / "adapter_config.json").exists()  # not a peft adapter pointing at the base
    assert str(tiny_chronos2) not in (output / "config.json").read_text()
    base, tuned = weights(tiny_chronos2), weights(output)
    assert set(tuned) == set(base)  # the base's own tensors, no lora_A / lora_B left
    attention = [name for name in base if "self_attention.q" in name]
    assert attention and any(not np.allclose(tuned[name], base[name]) for name in attention)
    assert forecast_with(output, training_data).shape == (2, 12)


@pytest.mark.ml
def test_a_cancelled_run_stops_at_the_next_step_and_saves_nothing(tiny_chronos2, training_data, tmp_path):
    with pytest.raises(FinetuneStopped):
        finetune(tiny_chronos2, training_data, tmp_path / "out" / "stopped", steps=50, cancel_after=2)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_run_cancelled_before_it_starts_loads_nothing(tiny_chronos2, training_data, tmp_path):
    with pytest.raises(FinetuneStopped, match="before training started"):
        finetune(tiny_chronos2, training_data, tmp_path / "never", cancel_after=0)
    assert not (tmp_path / "never").exists()


def test_finetuning_arguments_are_checked_before_training(tiny_chronos2, training_data, tmp_path):
    with pytest.raises(Invalid, match="mode must be one of full, lora, got 'qlora'"):
        finetune(tiny_chronos2, training_data, tmp_path / "a", mode="qlora")
    with pytest.raises(Invalid, match="steps must be a positive integer"):
        finetune(tiny_chronos2, training_data, tmp_path / "a", steps=0)
    with pytest.raises(Invalid, match="has no config.json"):
        finetune(tmp_path, training_data, tmp_path / "a")
    bolt = build_tiny_chronos_bolt(tmp_path / "bolt")
    with pytest.raises(
        Invalid, match="only Chronos-2 models can be fine-tuned; bolt is ChronosBoltModelForForecasting"
    ):
        finetune(bolt, training_data, tmp_path / "a")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "config.json").write_text("{}")
    with pytest.raises(Conflict, match="already exists and is not empty"):
        finetune(tiny_chronos2, training_data, taken)
