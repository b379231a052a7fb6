"""Classify: a transformers sequence-classification model; its labels come from `config.id2label`.

Scores are a softmax over the labels (a sigmoid per label when the model was trained multi-label).
Inputs longer than the model's context are truncated to it.
"""

from pathlib import Path

from apps.inference.engines.base import CLASSIFY, LoadFailed, torch_memory_bytes

BATCH_SIZE = 32


class ClassifyEngine:
    kind = CLASSIFY

    def __init__(self, *, folder: Path, files: list[str]) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
        except Exception as error:
            raise LoadFailed(f"not loadable as a classification model ({error})") from error
        self.model.eval()
        self.labels = [str(self.model.config.id2label[index]) for index in range(self.model.config.num_labels)]
        self.max_length = min(int(getattr(self.model.config, "max_position_embeddings", 512) or 512), 4096)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model)

    def close(self) -> None:
        del self.model, self.tokenizer

    def classify(self, *, texts: list[str]) -> list[dict]:
        """Per text, in order: `{index, label, score, scores: [{label, score}]}` (scores highest first)."""
        import torch

        multi_label = self.model.config.problem_type == "multi_label_classification"
        results = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = texts[start : start + BATCH_SIZE]
            encoded = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            with torch.inference_mode():
                logits = self.model(**encoded).logits
            probabilities = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
            for offset, row in enumerate(probabilities.tolist()):
                scores = sorted(
                    ({"label": label, "score": float(score)} for label, score in zip(self.labels, row, strict=True)),
                    key=lambda item: -item["score"],
                )
                results.append(
                    {
                        "index": start + offset,
                        "label": scores[0]["label"],
                        "score": scores[0]["score"],
                        "scores": scores,
                    }
                )
        return results
