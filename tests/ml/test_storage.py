"""Names, versions and checksums of saved models, without a server."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.core.errors import Invalid, NotFound
from apps.ml import naming, storage
from apps.ml.features import FeatureEncoder, hash_unit
from tests.ml.exploits import exploit_pickle


@pytest.fixture
def home(settings, tmp_path: Path) -> Path:
    settings.MODELYARD_HOME = tmp_path / "home"
    return settings.MODELYARD_HOME


def save(kind: str, name: str, files: dict[str, bytes], *, created: str) -> storage.SavedModel:
    folder = storage.staging_folder(kind, name)
    for relative, content in files.items():
        (folder / relative).write_bytes(content)
    storage.folder_publish(folder, kind=kind, name=name, replace=True)
    target = storage.model_folder(kind, name)
    storage.manifest_write(target, kind=kind, name=name, created=created, info={})
    return storage.saved_get(kind, name)


@pytest.mark.parametrize(
    "name", ["intent-classifier", "sensor_anomaly_detector", "a", "v1.2_model", "x_20251215_155054", "A9_"]
)
def test_valid_names_are_accepted(name):
    assert naming.name_check(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", ".hidden", "a/b", "../etc", "a\\b", "a..b", "a--b", "ends-", "ends.", "x" * 81, "sp ace"]
)
def test_names_that_could_be_paths_or_hidden_files_are_refused(name):
    with pytest.raises(Invalid, match="invalid model name"):
        naming.name_check(name)


def test_fit_refuses_a_latest_name_and_versions_are_utc_stamps():
    with pytest.raises(Invalid, match="-latest"):
        naming.fit_name_check("intents-latest")
    moment = datetime(2025, 12, 15, 15, 50, 54, tzinfo=UTC)
    assert naming.versioned_name("intents", moment=moment) == "intents_20251215_155054"
    assert naming.latest_base("intents-latest") == "intents"
    assert naming.latest_base("-latest") is None
    assert naming.version_of("intents_20251215_155054", base="intents") == "20251215_155054"
    assert naming.version_of("intents", base="intents") == ""
    assert naming.version_of("intents2_20251215_155054", base="intents") is None


def test_latest_resolves_to_the_most_recently_created_version(home):
    save("anomaly", "temps_20250101_000000", {"d.pkl": b"1"}, created="2025-01-01T00:00:00+00:00")
    save("anomaly", "temps_20250301_000000", {"d.pkl": b"2"}, created="2025-03-01T00:00:00+00:00")
    save("anomaly", "temps", {"d.pkl": b"3"}, created="2025-02-01T00:00:00+00:00")
    save("anomaly", "temps2_20260101_000000", {"d.pkl": b"4"}, created="2026-01-01T00:00:00+00:00")
    assert storage.saved_resolve("anomaly", "temps-latest").name == "temps_20250301_000000"
    assert storage.saved_resolve("anomaly", "temps").name == "temps"
    with pytest.raises(NotFound):
        storage.saved_resolve("anomaly", "nothing-latest")


def test_verification_refuses_changed_missing_and_unlisted_files(home, tmp_path):
    saved = save("anomaly", "guarded", {"d.pkl": b"payload"}, created="2025-01-01T00:00:00+00:00")
    storage.folder_verify(saved)
    (saved.folder / "d.pkl").write_bytes(exploit_pickle(tmp_path / "marker"))
    with pytest.raises(storage.TamperedModel, match="checksum"):
        storage.folder_verify(saved)
    (saved.folder / "d.pkl").unlink()
    with pytest.raises(storage.TamperedModel, match="missing"):
        storage.folder_verify(saved)
    (saved.folder / "d.pkl").write_bytes(b"payload")
    (saved.folder / "evil.pkl").write_bytes(b"x")
    with pytest.raises(storage.TamperedModel, match="evil.pkl"):
        storage.folder_verify(saved)
    (saved.folder / "evil.pkl").unlink()
    manifest = json.loads((saved.folder / storage.MANIFEST_NAME).read_text())
    manifest["files"]["../../etc/passwd"] = {"sha256": "0", "size": 0}
    (saved.folder / storage.MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(storage.TamperedModel):
        storage.folder_verify(storage.saved_get("anomaly", "guarded"))
    assert not (tmp_path / "marker").exists()


def test_encoder_standardises_columns_and_handles_unseen_categories():
    encoder = FeatureEncoder({"t": "numeric", "m": "label", "c": "onehot", "u": "hash"})
    rows = [
        {"t": 1.0, "m": "GET", "c": "red", "u": "a"},
        {"t": 3.0, "m": "POST", "c": "blue", "u": "b"},
    ]
    matrix = encoder.fit_transform(rows)
    assert matrix.shape == (2, 6)
    assert encoder.columns == ["t", "m", "c=blue", "c=red", "c=<unseen>", "u"]
    assert matrix[:, 0].tolist() == [-1.0, 1.0]
    assert matrix[:, 4].tolist() == [0.0, 0.0]  # constant in training: centred, not scaled
    unseen = encoder.transform([{"t": 2.0, "m": "PUT", "c": "green", "u": "zzz"}])
    # unseen label → one past the known codes (2 → (2 - 0.5) / 0.5 = 3); unseen one-hot → zeros
    # for the known categories and 1 in `c=<unseen>`
    assert unseen[0, 1] == pytest.approx(3.0)
    assert unseen[0, 2] == pytest.approx(-1.0) and unseen[0, 3] == pytest.approx(-1.0)
    assert unseen[0, 4] == pytest.approx(1.0)
    assert 0.0 <= hash_unit("zzz") < 1.0 and hash_unit("zzz") == hash_unit("zzz")


@pytest.mark.parametrize("encoding", ["onehot", "label", "hash"])
def test_an_integral_number_is_the_same_category_as_the_integer_and_its_text(encoding):
    # Issue 18: str(1.0) is "1.0", so JSON 1.0 was a category never seen after training on 1.
    encoder = FeatureEncoder({"k": encoding})
    encoder.fit_transform([{"k": 1}, {"k": 2}])
    same = encoder.transform([{"k": 1}, {"k": "1"}, {"k": 1.0}])
    assert same[1].tolist() == same[0].tolist() and same[2].tolist() == same[0].tolist()
    assert encoder.transform([{"k": 1.5}]).tolist() != same[0:1].tolist()
    assert encoder.transform([{"k": "1.0"}]).tolist() != same[0:1].tolist()  # a string stays its text
    trained_on_floats = FeatureEncoder({"k": encoding})
    assert (
        trained_on_floats.fit_transform([{"k": 1.0}, {"k": 2.0}]).tolist()
        == encoder.transform([{"k": 1}, {"k": 2}]).tolist()
    )
    if encoding != "hash":
        assert trained_on_floats.categories["k"] == ["1", "2"]


def test_an_onehot_detector_does_not_flag_a_category_written_as_a_float():
    from apps.ml.anomaly import Detector

    detector = Detector(backend="knn", contamination=0.05, normalization="standardization", schema={"k": "onehot"})
    detector.fit([{"k": 1}, {"k": 2}])
    raw = detector.raw_scores([{"k": 1}, {"k": "1"}, {"k": 1.0}, {"k": 3}])
    flagged = detector.normalize(raw, "standardization") >= 0.5
    assert flagged.tolist() == [False, False, False, True]


def test_encoders_pickled_before_integral_categories_keep_their_columns():
    import pickle

    encoder = FeatureEncoder({"k": "onehot", "h": "hash"})
    del encoder.integral_numbers  # as pickled before: categories and hashes from str(value)
    rows = [{"k": 1.0, "h": 1.0}, {"k": 2, "h": 2}]
    encoder.fit_transform(rows)
    assert encoder.categories["k"] == ["1.0", "2"]
    old = pickle.loads(pickle.dumps(encoder))
    assert old.transform(rows).tolist() == encoder.transform(rows).tolist()
    assert old.transform([{"k": 1.0, "h": 1.0}]).tolist() == old.transform([{"k": 1, "h": 1.0}]).tolist()
    assert old.transform([{"k": 2.0, "h": 2}]).tolist() == old.transform([{"k": 2, "h": 2}]).tolist()
    # The hash column is still the hash of the old text: the training rows stay inside their range.
    assert old.transform([{"k": 1.0, "h": 1.0}])[0, -1] == encoder.transform([{"k": 1.0, "h": 1.0}])[0, -1]
