"""The runtime's engines: one module per kind of model, behind `engines.base.Engine`.

Adding a kind is adding a module and a line; engines are imported (with torch) only when a model
of their kind is loaded.
"""

from apps.core.registry import Registry
from apps.inference.engines.base import CHAT, CLASSIFY, EMBEDDING, RERANK, Engine, LoadFailed

ENGINES: Registry[type[Engine]] = Registry(
    "model kind",
    {
        CHAT: "apps.inference.engines.chat.ChatEngine",
        EMBEDDING: "apps.inference.engines.embeddings.EmbeddingEngine",
        RERANK: "apps.inference.engines.rerank.RerankEngine",
        CLASSIFY: "apps.inference.engines.classify.ClassifyEngine",
    },
)

__all__ = ["CHAT", "CLASSIFY", "EMBEDDING", "ENGINES", "RERANK", "Engine", "LoadFailed"]
