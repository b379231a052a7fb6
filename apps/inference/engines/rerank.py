"""Rerank: a sentence-transformers `CrossEncoder` scoring (query, document) pairs.

A cross-encoder is a sequence-classification model with one output; sentence-transformers applies
its activation (a sigmoid for one label), so scores lie in 0..1, higher is more relevant.
"""

from pathlib import Path

from apps.inference.engines.base import RERANK, LoadFailed, torch_memory_bytes


class RerankEngine:
    kind = RERANK

    def __init__(self, *, folder: Path, files: list[str]) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        except Exception as error:
            raise LoadFailed(f"not loadable as a cross-encoder ({error})") from error

    @property
    def memory_bytes(self) -> int:
        return torch_memory_bytes(self.model.model)

    def close(self) -> None:
        del self.model

    def rerank(self, *, query: str, documents: list[str], top_n: int | None = None) -> list[dict]:
        """`[{index, relevance_score, document}]`, most relevant first, at most `top_n` of them."""
        if not documents:
            return []
        ranked = self.model.rank(query, documents, top_k=top_n, return_documents=False, show_progress_bar=False)
        return [
            {
                "index": int(item["corpus_id"]),
                "relevance_score": float(item["score"]),
                "document": documents[item["corpus_id"]],
            }
            for item in ranked
        ]
