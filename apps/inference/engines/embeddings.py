"""Embeddings: a sentence-transformers model (a folder with `modules.json`), batched.

A model reads at most `max_seq_length` tokens of an input and drops the rest. That is never done
silently: every input past it is named in the answer's warnings with its length. (The MiniLM
tokenizer's own `tokenizer.json` truncates at 128 tokens; counting here turns that off, and
sentence-transformers truncates at the model's `max_seq_length`, 256 for MiniLM.)
"""

from dataclasses import dataclass, field
from pathlib import Path

from apps.core.errors import Invalid
from apps.inference.engines.base import EMBEDDING, LoadFailed, torch_memory_bytes

# Inputs encoded together (sentence-transformers' default): on 1 thread, MiniLM encoded 2,000 short
# sentences in 7.0 s at 32 against 8.4 s at 64 (larger batches pad more).
BATCH_SIZE = 32


@dataclass
class Embeddings:
    """One vector per input, in input order; `prompt_tokens` counts what the model read."""

    vectors: list[list[float]]
    dimension: int
    prompt_tokens: int
    warnings: list[str] = field(default_factory=list)


class EmbeddingEngine:
    kind = EMBEDDING

    def __init__(self, *, folder: Path, files: list[str]) -> None:
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as error:
            raise LoadFailed(f"not loadable as a sentence-transformers model ({error})") from error
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self.model.max_seq_length)

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model)

    def close(self) -> None:
        del self.model

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens of each text as the model would read it untruncated (special tokens included)."""
        encoded = self.model.tokenizer(texts, add_special_tokens=True, truncation=False, padding=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed(self, *, texts: list[str], dimensions: int | None = None, batch_size: int = BATCH_SIZE) -> Embeddings:
        """Vectors of `texts`. Invalid (400) when `dimensions` is not the model's dimension."""
        if dimensions is not None and dimensions != self.dimension:
            raise Invalid(f"this model gives {self.dimension}-dimensional vectors; it cannot give {dimensions}")
        counts = self.token_counts(texts)
        warnings = [
            f"input {index} has {count} tokens; the model reads at most {self.max_seq_length}, "
            f"the last {count - self.max_seq_length} were truncated"
            for index, count in enumerate(counts)
            if count > self.max_seq_length
        ]
        vectors = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        return Embeddings(
            vectors=vectors.tolist(),
            dimension=self.dimension,
            prompt_tokens=sum(min(count, self.max_seq_length) for count in counts),
            warnings=warnings,
        )
