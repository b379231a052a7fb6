"""The spec's classifier endpoints end to end: SetFit on the real all-MiniLM-L6-v2, trained and
used on Modelyard's workers, driven over HTTP."""

import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.ml.conftest import VERSIONED, MlServer
from tests.ml.exploits import exploit_pickle

# Marked `django_db` for the test database the live server uses; this process only reads it.
pytestmark = [pytest.mark.ml, pytest.mark.e2e, pytest.mark.django_db]

ONE_LABEL = [{"text": "a", "label": "one"}, {"text": "b", "label": "one"}]
BLANK_TEXT = [{"text": " ", "label": "a"}, {"text": "b", "label": "c"}]
BLANK_LABEL = [{"text": "a", "label": ""}, {"text": "b", "label": "c"}]
PREDICT = "/v1/ml/classifier/predict"
SMALL = [
    {"text": "book a flight to Paris", "label": "booking"},
    {"text": "reserve a hotel room for me", "label": "booking"},
    {"text": "cancel my reservation please", "label": "cancellation"},
    {"text": "I want to cancel my booking", "label": "cancellation"},
]


def small_fit(api: httpx.Client, model: str, **extra: object) -> httpx.Response:
    return api.post(
        "/v1/ml/classifier/fit", json={"model": model, "training_data": SMALL, "num_iterations": 1, **extra}
    )


def test_fit_answers_the_spec_fit_result_and_saves_a_versioned_model(intent_fit: dict, ml_server: MlServer):
    assert intent_fit["object"] == "fit_result"
    assert intent_fit["status"] == "fitted"
    assert intent_fit["samples_fitted"] == 40
    assert intent_fit["num_classes"] == 4
    assert intent_fit["labels"] == ["account", "billing", "shipping", "tech_support"]
    assert intent_fit["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert intent_fit["base_name"] == "intents" and intent_fit["overwrite"] is False
    assert intent_fit["auto_saved"] is True and intent_fit["training_time_ms"] > 0
    assert VERSIONED.match(intent_fit["versioned_name"])["base"] == "intents"
    assert intent_fit["model"] == intent_fit["versioned_name"]
    saved = Path(intent_fit["saved_path"])
    assert saved == ml_server.home / "models" / "ml" / "classifier" / intent_fit["versioned_name"]
    assert (saved / "model_head.pkl").is_file() and (saved / "modelyard-ml.json").is_file()


def test_held_out_intents_are_classified_with_accuracy_of_at_least_075(api, intent_fit, held_out):
    response = api.post(
        "/v1/ml/classifier/predict", json={"model": "intents-latest", "texts": [t for t, _ in held_out]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and body["total_count"] == len(held_out)
    assert body["model"] == intent_fit["versioned_name"]
    correct = sum(item["label"] == label for item, (_text, label) in zip(body["data"], held_out, strict=True))
    accuracy = correct / len(held_out)
    print(f"held-out accuracy: {accuracy:.2f} ({correct}/{len(held_out)})")
    assert accuracy >= 0.75
    for item, (text, _label) in zip(body["data"], held_out, strict=True):
        assert item["text"] == text
        assert set(item["all_scores"]) == set(intent_fit["labels"])
        assert sum(item["all_scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert item["score"] == max(item["all_scores"].values())
        assert item["all_scores"][item["label"]] == item["score"]


def test_save_records_a_description_the_list_shows(api, intent_fit):
    name = intent_fit["versioned_name"]
    response = api.post("/v1/ml/classifier/save", json={"model": name, "description": "support intents"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "object": "save_result",
        "model": name,
        "path": intent_fit["saved_path"],
        "status": "saved",
    }
    listed = api.get("/v1/ml/classifier/models").json()
    assert listed["object"] == "list"
    entry = next(item for item in listed["data"] if item["name"] == name)
    assert entry["labels"] == intent_fit["labels"]
    assert entry["description"] == "support intents"
    assert entry["created"]


def test_load_resolves_latest_and_loads_on_a_worker(api, intent_fit):
    response = api.post("/v1/ml/classifier/load", json={"model": "intents-latest"})
    assert response.status_code == 200, response.text
    assert response.json() == {"object": "load_result", "model": intent_fit["versioned_name"], "status": "loaded"}


def test_saved_classifier_is_a_model_store_entry(api, intent_fit):
    listed = api.get("/api/v1/models", params={"source": "ml"}).json()
    ids = {model["model_id"] for model in listed["models"]}
    assert f"classifier/{intent_fit['versioned_name']}" in ids
    assert api.get("/api/v1/status").json()["sources"]["ml"]["count"] >= 1


def test_versions_latest_overwrite_and_a_client_that_gives_up(api, ml_server):
    # A client that stops waiting: the job goes on and saves the model.
    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/v1/ml/classifier/fit",
            json={"model": "tickets", "training_data": SMALL, "num_iterations": 1},
            timeout=0.3,
        )
    deadline = time.monotonic() + 120
    first = None
    while first is None and time.monotonic() < deadline:
        names = [item["name"] for item in api.get("/v1/ml/classifier/models").json()["data"]]
        first = next((name for name in names if name.startswith("tickets_")), None)
        time.sleep(0.5)
    assert first is not None, "the abandoned fit did not save its model"
    time.sleep(1.1)  # the next version gets a later second
    second = small_fit(api, "tickets").json()["versioned_name"]
    assert second != first and VERSIONED.match(second)["base"] == "tickets"
    assert api.post("/v1/ml/classifier/load", json={"model": "tickets-latest"}).json()["model"] == second
    predicted = api.post("/v1/ml/classifier/predict", json={"model": "tickets-latest", "texts": ["cancel it"]}).json()
    assert predicted["model"] == second
    assert predicted["data"][0]["label"] in {"booking", "cancellation"}

    overwritten = small_fit(api, "tickets-fixed", overwrite=True).json()
    assert overwritten["versioned_name"] == overwritten["model"] == "tickets-fixed"
    again = small_fit(api, "tickets-fixed", overwrite=True).json()
    assert again["model"] == "tickets-fixed"
    names = [item["name"] for item in api.get("/v1/ml/classifier/models").json()["data"]]
    assert names.count("tickets-fixed") == 1

    for name in (first, second, "tickets-fixed"):
        assert api.delete(f"/v1/ml/classifier/models/{name}").status_code == 200
    assert not (ml_server.home / "models" / "ml" / "classifier" / second).exists()
    assert api.post("/v1/ml/classifier/predict", json={"model": "tickets-latest", "texts": ["x"]}).status_code == 404
    ids = {model["model_id"] for model in api.get("/api/v1/models", params={"source": "ml"}).json()["models"]}
    assert f"classifier/{second}" not in ids


def test_a_tampered_head_is_refused_and_never_unpickled(api, intent_fit, ml_server, tmp_path):
    source = Path(intent_fit["saved_path"])
    copy = source.parent / "tampered"
    shutil.copytree(source, copy)
    marker = tmp_path / "unpickled"
    (copy / "model_head.pkl").write_bytes(exploit_pickle(marker))
    try:
        for call in (
            lambda: api.post("/v1/ml/classifier/predict", json={"model": "tampered", "texts": ["hello"]}),
            lambda: api.post("/v1/ml/classifier/load", json={"model": "tampered"}),
        ):
            response = call()
            assert response.status_code == 409, response.text
            assert "checksum" in response.json()["detail"]
        assert not marker.exists()
        # A file the manifest does not list is refused as well.
        shutil.copy2(source / "model_head.pkl", copy / "model_head.pkl")
        (copy / "extra.pkl").write_bytes(exploit_pickle(marker))
        response = api.post("/v1/ml/classifier/load", json={"model": "tampered"})
        assert response.status_code == 409 and "extra.pkl" in response.json()["detail"]
        assert not marker.exists()
    finally:
        shutil.rmtree(copy)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "x", "training_data": ONE_LABEL}, 400, "2 different labels"),
        ({"model": "x", "training_data": []}, 400, "2 different labels"),
        ({"model": "x", "training_data": BLANK_TEXT}, 400, "text is empty"),
        ({"model": "x", "training_data": BLANK_LABEL}, 400, "label is empty"),
        ({"model": "x-latest", "training_data": SMALL}, 400, "-latest"),
        ({"model": "../etc", "training_data": SMALL}, 400, "invalid model name"),
        ({"model": ".hidden", "training_data": SMALL}, 400, "invalid model name"),
        ({"model": "a/b", "training_data": SMALL}, 400, "invalid model name"),
        ({"model": "x", "training_data": SMALL, "base_model": "nobody/nothing"}, 404, "pull it first"),
        ({"training_data": SMALL}, 422, "model"),
        ({"model": "x", "training_data": SMALL, "num_iterations": 0}, 422, "num_iterations"),
    ],
)
def test_fit_refuses_bad_requests(api, body, status, words):
    response = api.post("/v1/ml/classifier/fit", json=body)
    assert response.status_code == status, response.text
    assert words in str(response.json()["detail"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("post", PREDICT, {"model": "nobody", "texts": ["hi"]}, 404, "not found"),
        ("post", PREDICT, {"model": "nobody-latest", "texts": ["hi"]}, 404, "no saved"),
        ("post", PREDICT, {"model": "intents-latest", "texts": ["ok", ""]}, 400, "texts[1] is empty"),
        ("post", PREDICT, {"model": "intents-latest", "texts": []}, 400, "texts must not be empty"),
        ("post", PREDICT, {"model": "../../x", "texts": ["hi"]}, 400, "invalid model name"),
        ("post", PREDICT, {"texts": ["hi"]}, 422, "model"),
        ("post", "/v1/ml/classifier/load", {"model": "nobody"}, 404, "not found"),
        ("post", "/v1/ml/classifier/save", {"model": "nobody"}, 404, "not found"),
        ("delete", "/v1/ml/classifier/models/nobody", None, 404, "not found"),
        ("delete", "/v1/ml/classifier/models/.secret", None, 400, "invalid model name"),
    ],
)
def test_classifier_errors_are_the_spec_detail_body(api, intent_fit, method, path, body, status, words):
    response = api.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert words in str(response.json()["detail"])


def test_a_pickle_in_a_base_models_folder_is_never_unpickled(api, tmp_path):
    # A saved classifier named as a base model: its head (booby-trapped here) must not be opened;
    # the fit reads the sentence-transformer body only, with a fresh head.
    base = small_fit(api, "trap-base")
    assert base.status_code == 200, base.text
    marker = tmp_path / "unpickled"
    (Path(base.json()["saved_path"]) / "model_head.pkl").write_bytes(exploit_pickle(marker))

    response = small_fit(api, "on-trap", base_model=f"classifier/{base.json()['versioned_name']}")

    assert response.status_code == 200, response.text
    assert response.json()["labels"] == ["booking", "cancellation"]
    assert not marker.exists()


def test_a_store_model_that_is_not_a_sentence_transformer_is_a_400(api):
    detector = api.post("/v1/ml/anomaly/fit", json={"model": "not-st", "data": [[1.0], [2.0], [3.0]]})
    assert detector.status_code == 200, detector.text
    base = f"anomaly/{detector.json()['versioned_name']}"

    response = small_fit(api, "on-detector", base_model=base)

    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"base model {base!r} is not a sentence-transformer model")
    assert "/" + "models" not in response.json()["detail"].replace(base, "")  # no internal path


def test_predict_and_load_mark_the_store_entry_used(api):
    # `clean --unused` goes by last_used: a model in daily use must never look unused.
    from apps.modelstore.models import LocalModel

    fit = small_fit(api, "in-use")
    assert fit.status_code == 200, fit.text
    name = fit.json()["versioned_name"]
    entry = LocalModel.objects.filter(source="ml", model_id=f"classifier/{name}")
    assert entry.get().last_used is None  # fitted, never used
    assert api.post(PREDICT, json={"model": "in-use-latest", "texts": ["book a table"]}).status_code == 200
    predicted = entry.get().last_used
    assert predicted is not None
    assert api.post("/v1/ml/classifier/load", json={"model": name}).status_code == 200
    assert entry.get().last_used > predicted
