"""POST /v1/vision/documents/extract end to end with tiny random Donut and LayoutLMv3 models from
the model store: the spec's body and fields for each task; random weights make the values
arbitrary, so the tests check where they come from (the prompt, the OCR'd words, the labels)."""

import base64
import json

import pytest

from tests.fakes.vision_documents import (
    DOCUMENT_CLASSES,
    INVOICE_LINES,
    LAYOUT_LABELS,
    character_accuracy,
    damaged_pdf,
    png_bytes,
    render_lines,
)

pytestmark = [pytest.mark.e2e, pytest.mark.ml, pytest.mark.django_db]

EXTRACT = "/v1/vision/documents/extract"


@pytest.fixture(scope="module")
def receipt() -> bytes:
    return png_bytes(render_lines(INVOICE_LINES, size=32, canvas=(1000, 260), origin=(40, 40)))


def extract(vision_server, receipt: bytes, **fields):
    return vision_server.http.post(EXTRACT, files={"file": ("receipt.png", receipt, "image/png")}, data=fields)


def test_a_model_not_in_the_store_is_404_saying_how_to_pull_it(vision_server, receipt):
    response = extract(
        vision_server, receipt, model="naver-clova-ix/donut-base-finetuned-docvqa", task="vqa", prompts="Total?"
    )

    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "naver-clova-ix/donut-base-finetuned-docvqa is not in the model store" in detail
    assert 'POST /v1/models/download {"model_name": "naver-clova-ix/donut-base-finetuned-docvqa"}' in detail


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"task": "summarize"}, "Invalid task: summarize. Must be one of: extraction, vqa, classification"),
        ({"task": "vqa", "prompts": " , "}, "the vqa task needs at least one question"),
    ],
)
def test_an_unknown_task_or_vqa_without_questions_is_400(vision_server, document_models, receipt, fields, reason):
    response = extract(vision_server, receipt, model=document_models["donut"], **fields)

    assert response.status_code == 400 and reason in response.json()["detail"]


def test_a_missing_model_field_is_422(vision_server, receipt):
    response = extract(vision_server, receipt, task="vqa")

    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "model"]


def test_donut_vqa_answers_each_prompt_as_question_and_answer_fields(vision_server, document_models, receipt):
    model = document_models["donut"]
    images = json.dumps([base64.b64encode(receipt).decode()])

    response = vision_server.http.post(
        EXTRACT, data={"images": images, "model": model, "task": "vqa", "prompts": "What is the total?,store name"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["model"], body["task"], body["usage"]) == (
        "list",
        model,
        "vqa",
        {"documents_processed": 1},
    )
    (item,) = body["data"]
    assert item["index"] == 0 and 0 < item["confidence"] <= 1
    first, second = item["text"].split("\n")
    assert first.startswith("<s_docvqa><s_question>") and "What is the total?</s_question><s_answer>" in first
    assert "store name</s_question><s_answer>" in second
    assert [(field["key"], field["value"]) for field in item["fields"][::2]] == [
        ("question", "What is the total?"),
        ("question", "store name"),
    ]
    assert [field["key"] for field in item["fields"][1::2]] == ["answer", "answer"]
    assert all(0 < field["confidence"] <= 1 for field in item["fields"])


def test_donut_extraction_starts_from_the_models_task_token(vision_server, document_models, receipt):
    response = extract(vision_server, receipt, model=document_models["donut"])

    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert response.json()["task"] == "extraction" and item["text"].startswith("<s_cord-v2>")
    assert all({"key", "value", "confidence"} <= set(field) for field in item["fields"])


def test_layoutlmv3_extraction_labels_the_ocr_words_into_fields_with_pixel_boxes(
    vision_server, document_models, receipt
):
    response = extract(vision_server, receipt, model=document_models["token"], task="extraction")

    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert character_accuracy(item["text"], " ".join(INVOICE_LINES)) >= 0.95, item["text"]
    words = item["text"].split()
    assert item["fields"]  # the words reached the model: (seeded) random weights label some of them
    kinds = {label[2:] for label in LAYOUT_LABELS.values() if label != "O"}
    for field in item["fields"]:
        assert field["key"] in kinds and set(field["value"].split()) <= set(words)
        x1, y1, x2, y2 = field["bbox"]
        assert 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 260  # pixels of the 1000×260 page
        assert 0 < field["confidence"] <= 1


def test_layoutlmv3_vqa_answers_with_a_span_of_the_pages_words(vision_server, document_models, receipt):
    response = extract(vision_server, receipt, model=document_models["qa"], task="vqa", prompts="Which invoice number?")

    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    question = item["fields"][0]
    assert (question["key"], question["value"], question["confidence"]) == (
        "question",
        "Which invoice number?",
        item["confidence"],
    )
    assert 0 < item["confidence"] <= 1
    assert item["answer"] == item["fields"][1]["value"] and item["answer"]
    assert f" {item['answer']} " in f" {item['text']} "


def test_layoutlmv3_classification_names_one_of_the_models_classes_with_scores(vision_server, document_models, receipt):
    response = extract(vision_server, receipt, model=document_models["sequence"], task="classification")

    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert set(item["classification_scores"]) == set(DOCUMENT_CLASSES.values())
    assert abs(sum(item["classification_scores"].values()) - 1) < 0.01
    assert item["classification"] == max(item["classification_scores"], key=item["classification_scores"].get)
    (field,) = item["fields"]
    assert (field["key"], field["value"], field["confidence"]) == ("class", item["classification"], item["confidence"])


@pytest.fixture(scope="module")
def bert_model(vision_server, django_db_blocker, tmp_path_factory):
    """A model in the store that is no document model (committed: the server must see it)."""
    from apps.modelstore import services

    folder = tmp_path_factory.mktemp("a-bert")
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with django_db_blocker.unblock():
        services.local_model_import(path=folder, source="huggingface", model_id="tests/a-bert")
    yield "tests/a-bert"
    with django_db_blocker.unblock():
        services.local_model_delete(source="huggingface", model_id="tests/a-bert")


def test_a_model_that_is_neither_donut_nor_layoutlmv3_is_400(vision_server, receipt, bert_model):
    response = extract(vision_server, receipt, model=bert_model)

    assert response.status_code == 400 and "model type 'bert' cannot extract documents" in response.json()["detail"]


@pytest.mark.parametrize(
    ("kind", "task", "reason"),
    [
        ("token", "vqa", "has a token-classification head (LayoutLMv3ForTokenClassification): it cannot do vqa; "
         "it supports extraction"),
        ("token", "classification", "it cannot do classification; it supports extraction"),
        ("sequence", "vqa", "has a sequence-classification head (LayoutLMv3ForSequenceClassification): it cannot "
         "do vqa; it supports classification"),
        ("sequence", "extraction", "it cannot do extraction; it supports classification"),
        ("qa", "extraction", "has a question-answering head (LayoutLMv3ForQuestionAnswering): it cannot do "
         "extraction; it supports vqa"),
        ("qa", "classification", "it cannot do classification; it supports vqa"),
        ("donut", "classification", "has a Donut decoder without the task token of RVL-CDIP: it cannot do "
         "classification; it supports extraction, vqa"),
    ],
)  # fmt: skip
def test_a_task_the_models_head_cannot_do_is_400_naming_the_head_and_its_tasks(
    vision_server, document_models, receipt, kind, task, reason
):
    response = extract(vision_server, receipt, model=document_models[kind], task=task, prompts="Total?")

    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"model {document_models[kind]} ")
    assert reason in response.json()["detail"]


def test_a_damaged_pdf_is_400_not_a_server_error(vision_server, document_models):
    response = vision_server.http.post(
        EXTRACT,
        files={"file": ("broken.pdf", damaged_pdf(), "application/pdf")},
        data={"model": document_models["donut"], "task": "extraction"},
    )

    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("broken.pdf is not a readable PDF: page 1")
