"""Guessing what a model can do when the backend does not say.

Ollama >= 0.6.4 lists `capabilities` in /api/show and OpenAI-compatible servers tell nothing: for
those, a model whose name or family is an embedding model's is taken for one, any other for a
chat model. A wrong guess only costs a 4xx from the backend when the model is used.
"""

import re

EMBEDDING_NAME = re.compile(r"embed|(^|[/_.:-])(bge|gte|e5|minilm|mpnet)([/_.:-]|$)", re.IGNORECASE)
EMBEDDING_FAMILIES = frozenset({"bert", "nomic-bert", "jina-bert", "jina-bert-v2", "xlm-roberta", "t5encoder"})


def looks_like_embedding_model(name: str, family: str = "") -> bool:
    return family.lower() in EMBEDDING_FAMILIES or bool(EMBEDDING_NAME.search(name))
