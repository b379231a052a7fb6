"""What every engine is: a model of one kind loaded from a store folder, in this process.

An engine is built with the folder of a stored model (`Engine(folder=…, files=…)`, which loads it),
reports the memory its weights take (`memory_bytes`) and is dropped with `close()`. Each kind adds
its own call (`chat`, `embed`, `rerank`, `classify`). Engines know nothing of the store's rows,
the residency or HTTP: `apps.inference.services` puts those around them.
"""

from pathlib import Path
from typing import Protocol

from apps.core.errors import DomainError

# The kinds of model the runtime serves; the endpoint of each kind names it.
CHAT, EMBEDDING, RERANK, CLASSIFY = "chat", "embedding", "rerank", "classify"


class LoadFailed(DomainError):
    """The model's files could not be loaded (corrupt, unsupported architecture, missing library)."""

    status_code = 500


class Engine(Protocol):
    kind: str

    def __init__(self, *, folder: Path, files: list[str]) -> None: ...

    @property
    def memory_bytes(self) -> int:
        """Bytes of the loaded weights and buffers."""
        ...

    def close(self) -> None: ...


def torch_memory_bytes(*modules: object) -> int:
    """Bytes of the parameters and buffers of torch modules (what a loaded model holds in memory)."""
    total = 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            total += tensor.numel() * tensor.element_size()
    return total


def text_of(content: object) -> str:
    """The text of an OpenAI message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
