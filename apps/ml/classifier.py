"""Few-shot text classifiers with SetFit (Tunstall et al., 2022, "Efficient Few-Shot Learning
Without Prompts"): a sentence transformer fine-tuned contrastively on pairs of the training
sentences (same label → similar), then a logistic-regression head on its embeddings.

`num_iterations` is SetFit's: pairs drawn per training sentence (20 → 2 × 20 × n pairs); with
`batch_size` it fixes the number of optimisation steps, reported as the job's progress.
The model is saved by SetFit (`save_pretrained`: the sentence transformer's files plus
`model_head.pkl`, a pickle) and loaded with `local_files_only`, so nothing reaches the network.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from apps.core.errors import Invalid

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BASE_ALIASES = (DEFAULT_BASE_MODEL, "all-MiniLM-L6-v2")
SENTENCE_TRANSFORMER_MARKER = "modules.json"


def training_data_check(rows: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """Texts and labels of `[{text, label}]`; Invalid (400) for an empty text or label, or fewer than 2 labels."""
    texts, labels = [], []
    for index, row in enumerate(rows):
        text, label = str(row.get("text", "")), str(row.get("label", ""))
        if not text.strip():
            raise Invalid(f"training_data[{index}].text is empty")
        if not label.strip():
            raise Invalid(f"training_data[{index}].label is empty")
        texts.append(text)
        labels.append(label)
    if len(set(labels)) < 2:
        raise Invalid(f"a classifier needs at least 2 different labels; training_data has {len(set(labels))}")
    return texts, labels


def texts_check(texts: list[str]) -> list[str]:
    if not texts:
        raise Invalid("texts must not be empty")
    for index, text in enumerate(texts):
        if not text.strip():
            raise Invalid(f"texts[{index}] is empty")
    return texts


def base_model_check(path: Path, *, name: str) -> Path:
    """`path` when it holds a sentence-transformer model (its `modules.json`); Invalid (400) for any
    other model (a causal LM, an embedding model of another kind), before a job is queued."""
    if not (path / SENTENCE_TRANSFORMER_MARKER).is_file():
        raise Invalid(
            f"base model {name!r} is not a sentence-transformer model (it has no {SENTENCE_TRANSFORMER_MARKER}); "
            f"fine-tune one such as {DEFAULT_BASE_MODEL}"
        )
    return path


def classifier_train(
    *,
    base_path: Path,
    texts: list[str],
    labels: list[str],
    num_iterations: int,
    batch_size: int,
    work_dir: Path,
    on_step: Callable[[int, int], bool] | None = None,
) -> Any:
    """Train a SetFit model on `texts`/`labels` from the sentence transformer at `base_path`.

    `work_dir` takes whatever the trainer writes on the way (nothing is kept from it).
    `on_step(done, total)` is called after each optimisation step of the contrastive phase; when
    it returns True training stops early (a cancelled job). Returns the fitted `SetFitModel`,
    whose `labels` are the sorted distinct labels."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.linear_model import LogisticRegression
    from transformers import TrainerCallback

    class StepReporter(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if on_step is not None and on_step(state.global_step, state.max_steps):
                control.should_training_stop = True
            return control

    # The base is read as a sentence transformer only, with a fresh head (SetFit's default): a base
    # folder's own `model_head.pkl` (a saved classifier, a SetFit repo) is a pickle, never unpickled here.
    body = SentenceTransformer(str(base_path), local_files_only=True)
    model = SetFitModel(model_body=body, model_head=LogisticRegression(), labels=sorted(set(labels)))
    arguments = TrainingArguments(
        output_dir=str(work_dir),  # SetFit's default is ./checkpoints in the working directory
        batch_size=batch_size,
        num_epochs=1,
        num_iterations=num_iterations,
        report_to="none",
        save_strategy="no",
        show_progress_bar=False,
        seed=42,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_dict({"text": texts, "label": labels}),
        callbacks=[StepReporter()],
    )
    trainer.train()
    return model


def classifier_load(folder: Path) -> Any:
    """A saved SetFit model (checked by the caller first: its head is a pickle)."""
    from setfit import SetFitModel

    return SetFitModel.from_pretrained(str(folder), local_files_only=True)


def classifier_predict(model: Any, texts: list[str]) -> dict[str, Any]:
    """`{labels, probabilities, best}`: the model's labels (sorted), per text every label's
    probability from the head's `predict_proba` (rows sum to 1) and the index of the highest."""
    probabilities = model.predict_proba(texts, as_numpy=True)
    return {
        "labels": [str(label) for label in model.labels],
        "probabilities": [[float(value) for value in row] for row in probabilities],
        "best": [int(row.argmax()) for row in probabilities],
    }
