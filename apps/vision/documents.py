"""Document extraction engines: Donut (OCR-free, generates tagged text) and LayoutLMv3 (our OCR's
words and boxes plus the page image), through transformers, from model-store folders.

One engine per (model folder, task), built on first use in a worker process and kept. The family
comes from the model's `config.json` (`vision-encoder-decoder` → Donut, `layoutlmv3` → LayoutLMv3),
not from its name. Every result is `{confidence, text, fields: [{key, value, confidence}], …}`.

- Donut (Kim et al., "OCR-free Document Understanding Transformer", 2022): the decoder starts from
  the task's prompt (`<s_docvqa><s_question>…</s_question><s_answer>` for VQA, the model's task
  token otherwise) and its output's `<s_key>value</s_key>` tags become fields. Confidence is the
  mean probability of the generated tokens (greedy decoding).
- LayoutLMv3 (Huang et al., 2022): words and their boxes (normalised to 0–1000, as the model was
  trained) come from the OCR engine; `extraction` is token classification with BIO labels grouped
  into fields, `vqa` extractive question answering (best span with start ≤ end, over the words),
  `classification` sequence classification.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.core.errors import Invalid, NotFound
from apps.modelstore.services import local_model_use

if TYPE_CHECKING:
    from PIL.Image import Image

# Most tokens Donut generates per page (capped by the decoder's position embeddings).
DONUT_MAX_TOKENS = 512
# Donut task tokens of the published fine-tunes, per task, most specific first.
DONUT_TASK_TOKENS = {
    "vqa": ("<s_docvqa>",),
    "classification": ("<s_rvlcdip>",),
    "extraction": ("<s_cord-v2>", "<s_cord>", "<s_synthdog>", "<s_iitcdip>"),
}
FAMILIES = {"vision-encoder-decoder": "donut", "layoutlmv3": "layoutlmv3"}
# LayoutLMv3 heads (config.json `architectures`): what each is and the one task it can do.
LAYOUT_HEADS = {
    "LayoutLMv3ForTokenClassification": ("token-classification", "extraction"),
    "LayoutLMv3ForQuestionAnswering": ("question-answering", "vqa"),
    "LayoutLMv3ForSequenceClassification": ("sequence-classification", "classification"),
}
# Tokenizer files in which a Donut fine-tune's task tokens are listed.
DONUT_TOKEN_FILES = ("added_tokens.json", "tokenizer.json", "special_tokens_map.json", "tokenizer_config.json")
TAG = re.compile(r"<s_([^<>/\s]+)>(.*?)</s_\1>", re.DOTALL)

_engines: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def extraction_model_locate(*, model_id: str) -> Path:
    """The store folder of a Donut or LayoutLMv3 model, marked as used.

    NotFound (404) when the store does not hold it, saying how to pull it; Invalid (400) when it is
    neither family."""
    try:
        model = local_model_use(model_id=model_id)
    except NotFound as error:
        raise NotFound(
            f"model {model_id} is not in the model store; pull it first: POST /v1/models/download "
            f'{{"model_name": "{model_id}"}} (or POST /api/v1/models/download)'
        ) from error
    folder = Path(model.path)
    family_of(folder)
    return folder


def extraction_task_check(*, folder: Path, model_id: str, task: str) -> None:
    """Invalid (400) when the model cannot do `task`, naming its head and the tasks it supports.

    A LayoutLMv3 does the one task of its head (config.json `architectures`: token classification
    → extraction, question answering → vqa, sequence classification → classification; a bare
    LayoutLMv3Model none). A Donut extracts its tagged output always; vqa and classification need
    the task token of a DocVQA (`<s_docvqa>`) or RVL-CDIP (`<s_rvlcdip>`) fine-tune in its tokenizer.
    Only config and tokenizer files are read (no weights)."""
    supported = extraction_tasks_of(folder=folder)
    if task in supported:
        return
    if family_of(folder) == "donut":
        head = "a Donut decoder without the task token of " + ("DocVQA" if task == "vqa" else "RVL-CDIP")
    else:
        architecture = _architecture(folder)
        kind = LAYOUT_HEADS.get(architecture, ("no task",))[0]
        head = f"a {kind} head ({architecture or 'none'})"
    raise Invalid(
        f"model {model_id} has {head}: it cannot do {task}; it supports "
        f"{', '.join(supported) if supported else 'no document task'}"
    )


def extraction_tasks_of(*, folder: Path) -> list[str]:
    """The tasks a Donut or LayoutLMv3 store folder can do (see `extraction_task_check`)."""
    if family_of(folder) == "layoutlmv3":
        head = LAYOUT_HEADS.get(_architecture(folder))
        return [head[1]] if head else []
    listed = ""
    for name in DONUT_TOKEN_FILES:
        try:
            listed += (folder / name).read_text(errors="replace")
        except OSError:
            continue
    tasks = ["extraction"]
    for task in ("vqa", "classification"):
        if any(f'"{token}"' in listed for token in DONUT_TASK_TOKENS[task]):
            tasks.append(task)
    return tasks


def _architecture(folder: Path) -> str | None:
    try:
        architectures = json.loads((folder / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError):
        return None
    return str(architectures[0]) if architectures else None


def family_of(folder: Path) -> str:
    """`donut` or `layoutlmv3`, from the folder's config.json; Invalid for anything else."""
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as error:
        raise Invalid(f"{folder.name} has no readable config.json: {error}") from error
    if model_type not in FAMILIES:
        raise Invalid(
            f"model type {model_type!r} cannot extract documents: use a Donut (vision-encoder-decoder) "
            "or LayoutLMv3 model"
        )
    return FAMILIES[model_type]


def extraction_engine_get(*, path: Path, task: str) -> DonutEngine | LayoutLMv3Engine:
    """The engine for a model folder and task, loaded once per process."""
    key = (str(path), task)
    with _lock:
        if key not in _engines:
            engine_class = DonutEngine if family_of(path) == "donut" else LayoutLMv3Engine
            _engines[key] = engine_class(folder=path, task=task)
        return _engines[key]


def tagged_fields(text: str, confidence: float) -> list[dict[str, Any]]:
    """The `<s_key>value</s_key>` leaves of Donut's output, in order (nested groups are descended)."""
    fields = []
    for key, value in TAG.findall(text):
        if TAG.search(value):
            fields.extend(tagged_fields(value, confidence))
        elif value.strip():
            fields.append({"key": key, "value": value.strip(), "confidence": confidence})
    return fields


class DonutEngine:
    """A Donut model (VisionEncoderDecoderModel + DonutProcessor)."""

    def __init__(self, *, folder: Path, task: str) -> None:
        import torch
        from transformers import DonutProcessor, VisionEncoderDecoderModel

        self.task = task
        self.processor = DonutProcessor.from_pretrained(folder)
        self.model = VisionEncoderDecoderModel.from_pretrained(folder, dtype=torch.float32).eval()
        tokenizer = self.processor.tokenizer
        vocabulary = tokenizer.get_vocab()
        known = [token for token in DONUT_TASK_TOKENS[task] if token in vocabulary]
        self.task_token = known[0] if known else (tokenizer.bos_token or "")
        limit = getattr(self.model.config.decoder, "max_position_embeddings", DONUT_MAX_TOKENS)
        self.max_length = min(int(limit), DONUT_MAX_TOKENS)

    def extract(self, *, image: Image, prompts: list[str]) -> dict[str, Any]:
        """One page: for VQA each prompt answered in turn (its question and answer as fields)."""
        if self.task != "vqa":
            text, confidence = self._generate(image, self.task_token)
            result: dict[str, Any] = {
                "confidence": confidence,
                "text": text,
                "fields": tagged_fields(text, confidence),
            }
            if self.task == "classification":
                label = _donut_class(text)
                result["classification"] = label
                result["classification_scores"] = {label: confidence} if label else None
            return result
        texts, fields, confidences = [], [], []
        for question in prompts:
            prompt = f"{self.task_token}<s_question>{question}</s_question><s_answer>"
            text, confidence = self._generate(image, prompt)
            answer = next((field["value"] for field in tagged_fields(text, confidence) if field["key"] == "answer"), "")
            texts.append(text)
            confidences.append(confidence)
            fields += [
                {"key": "question", "value": question, "confidence": confidence},
                {"key": "answer", "value": answer, "confidence": confidence},
            ]
        result = {"confidence": sum(confidences) / len(confidences), "text": "\n".join(texts), "fields": fields}
        if len(prompts) == 1:
            result["answer"] = fields[1]["value"]
        return result

    def _generate(self, image: Image, prompt: str) -> tuple[str, float]:
        """Greedy decoding from `prompt`; the sequence (without padding and end token) and the mean
        probability of the generated tokens."""
        import torch

        tokenizer = self.processor.tokenizer
        pixel_values = self.processor(image.convert("RGB"), return_tensors="pt").pixel_values
        prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.inference_mode():
            output = self.model.generate(
                pixel_values,
                decoder_input_ids=prompt_ids,
                max_length=max(self.max_length, prompt_ids.shape[1] + 1),
                num_beams=1,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                bad_words_ids=[[tokenizer.unk_token_id]] if tokenizer.unk_token_id is not None else None,
                return_dict_in_generate=True,
                output_scores=True,
            )
        probabilities = [float(torch.softmax(step[0], dim=-1).max()) for step in output.scores]
        confidence = round(sum(probabilities) / len(probabilities), 4) if probabilities else 0.0
        text = self.processor.batch_decode(output.sequences)[0]
        for special in (tokenizer.eos_token, tokenizer.pad_token):
            if special:
                text = text.replace(special, "")
        return text.strip(), confidence


def _donut_class(text: str) -> str | None:
    """RVL-CDIP's Donut output `<s_class><letter/></s_class>` → "letter"."""
    found = re.search(r"<s_class>\s*<([^<>/]+)/>", text) or re.search(r"<s_class>(.*?)</s_class>", text)
    return found.group(1).strip() if found else None


class LayoutLMv3Engine:
    """A LayoutLMv3 model with its processor (the image processor's own OCR off: words and boxes
    come from our OCR engine, the best one installed)."""

    def __init__(self, *, folder: Path, task: str) -> None:
        import torch
        from transformers import (
            AutoProcessor,
            LayoutLMv3ForQuestionAnswering,
            LayoutLMv3ForSequenceClassification,
            LayoutLMv3ForTokenClassification,
        )

        from apps.inference.ocr import ocr_engine_default_name, ocr_engine_get

        self.task = task
        self.processor = AutoProcessor.from_pretrained(folder, apply_ocr=False)
        model_class = {
            "extraction": LayoutLMv3ForTokenClassification,
            "vqa": LayoutLMv3ForQuestionAnswering,
            "classification": LayoutLMv3ForSequenceClassification,
        }[task]
        try:
            self.model = model_class.from_pretrained(folder, dtype=torch.float32).eval()
        except Exception as error:  # a head of another shape: the model was not trained for this task
            raise Invalid(f"{folder.name} cannot do {task} as {model_class.__name__}: {error}") from error
        self.ocr = ocr_engine_get(name=ocr_engine_default_name())

    def extract(self, *, image: Image, prompts: list[str]) -> dict[str, Any]:
        rgb = image.convert("RGB")
        words, boxes, pixel_boxes = self._words(rgb)
        if self.task == "vqa":
            return self._answer(rgb, words, boxes, pixel_boxes, prompts)
        if self.task == "classification":
            return self._classify(rgb, words, boxes)
        return self._fields(rgb, words, boxes, pixel_boxes)

    def _words(self, image: Image) -> tuple[list[str], list[list[int]], list[list[float]]]:
        """Words of the page with boxes normalised to 0–1000 (and in pixels). The OCR engine reads
        lines; each line's box is shared out among its words by their share of its characters."""
        page = self.ocr.read(image=image, languages=["en"])
        width, height = image.size
        words, boxes, pixel_boxes = [], [], []
        for line in page.lines:
            x1, y1, x2, y2 = line.box
            span = max(len(line.text), 1)
            for match in re.finditer(r"\S+", line.text):
                left = x1 + (x2 - x1) * match.start() / span
                right = x1 + (x2 - x1) * match.end() / span
                words.append(match.group())
                pixel_boxes.append([round(left, 1), y1, round(right, 1), y2])
                boxes.append([_norm(left, width), _norm(y1, height), _norm(right, width), _norm(y2, height)])
        return words, boxes, pixel_boxes

    def _encode(self, image: Image, words: list[str], boxes: list[list[int]], question: str | None = None) -> Any:
        if not words:  # a blank page: one empty word so the model still sees the image
            words, boxes = [""], [[0, 0, 0, 0]]
        arguments = (image, question, words) if question is not None else (image, words)
        return self.processor(*arguments, boxes=boxes, return_tensors="pt", truncation=True, max_length=512)

    def _fields(self, image: Image, words: list[str], boxes: list[list[int]], pixel_boxes: list) -> dict[str, Any]:
        import torch

        encoding = self._encode(image, words, boxes)
        with torch.inference_mode():
            probabilities = torch.softmax(self.model(**encoding).logits[0], dim=-1)
        labels = self.model.config.id2label
        fields: list[dict[str, Any]] = []
        seen: set[int] = set()
        for token, word in enumerate(encoding.word_ids(0)):
            if word is None or word in seen or word >= len(words):
                continue  # special tokens, and every sub-word after a word's first
            seen.add(word)
            score, label_id = probabilities[token].max(dim=-1)
            label = str(labels.get(int(label_id), "O"))
            if label == "O":
                continue
            kind = label[2:] if label[:2] in ("B-", "I-") else label
            last = fields[-1] if fields else None
            if label.startswith("I-") and last is not None and last["key"] == kind and last["_word"] == word - 1:
                last["value"] += " " + words[word]
                last["_scores"].append(float(score))
                last["bbox"] = [*last["bbox"][:2], *pixel_boxes[word][2:]]
                last["_word"] = word
            else:
                fields.append(
                    {
                        "key": kind,
                        "value": words[word],
                        "_scores": [float(score)],
                        "bbox": pixel_boxes[word],
                        "_word": word,
                    }
                )
        for field in fields:
            scores = field.pop("_scores")
            field.pop("_word")
            field["confidence"] = round(sum(scores) / len(scores), 4)
        confidence = round(sum(field["confidence"] for field in fields) / len(fields), 4) if fields else 0.0
        return {"confidence": confidence, "text": " ".join(words), "fields": fields}

    def _answer(
        self, image: Image, words: list[str], boxes: list[list[int]], pixel_boxes: list, prompts: list[str]
    ) -> dict[str, Any]:
        import torch

        fields, confidences = [], []
        for question in prompts:
            encoding = self._encode(image, words, boxes, question=question)
            with torch.inference_mode():
                output = self.model(**encoding)
            start = torch.softmax(output.start_logits[0], dim=-1)
            end = torch.softmax(output.end_logits[0], dim=-1)
            word_ids = encoding.word_ids(0)
            context = [i for i, s in enumerate(encoding.sequence_ids(0)) if s == 1 and word_ids[i] is not None]
            answer, confidence = "", 0.0
            if context and words:
                # The best span of context tokens with start <= end, at most 30 tokens long.
                best = max(
                    ((i, j) for i in context for j in context if i <= j <= i + 30),
                    key=lambda span: float(start[span[0]] * end[span[1]]),
                )
                first, last = word_ids[best[0]], word_ids[best[1]]
                answer = " ".join(words[first : last + 1])
                confidence = round(float((start[best[0]] * end[best[1]]) ** 0.5), 4)
            confidences.append(confidence)
            fields += [
                {"key": "question", "value": question, "confidence": confidence},
                {"key": "answer", "value": answer, "confidence": confidence},
            ]
        result = {
            "confidence": round(sum(confidences) / len(confidences), 4),
            "text": " ".join(words),
            "fields": fields,
        }
        if len(prompts) == 1:
            result["answer"] = fields[1]["value"]
        return result

    def _classify(self, image: Image, words: list[str], boxes: list[list[int]]) -> dict[str, Any]:
        import torch

        encoding = self._encode(image, words, boxes)
        with torch.inference_mode():
            probabilities = torch.softmax(self.model(**encoding).logits[0], dim=-1).tolist()
        labels = self.model.config.id2label
        scores = {str(labels.get(i, i)): round(p, 4) for i, p in enumerate(probabilities)}
        label = max(scores, key=scores.get)
        return {
            "confidence": scores[label],
            "text": " ".join(words),
            "fields": [{"key": "class", "value": label, "confidence": scores[label]}],
            "classification": label,
            "classification_scores": scores,
        }


def _norm(value: float, size: int) -> int:
    """A pixel coordinate on the 0–1000 scale LayoutLM models take."""
    return max(0, min(1000, round(1000 * value / max(size, 1))))
