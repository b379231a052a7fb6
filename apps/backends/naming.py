"""Model names as backends spell them.

Ollama names a model `name:tag`, and a name without a tag means `:latest`: `mistral` and
`mistral:latest` are the same Ollama model. That convention is Ollama's alone: an OpenAI-compatible
server (OpenAI, vLLM, llama.cpp…) has no tags, so its model ids are compared as it writes them.
"""

OLLAMA = "ollama"


def normalized(name: str) -> str:
    """An Ollama name with its tag: `mistral` → `mistral:latest` (a name with a `/` or a `:` is kept)."""
    name = name.strip()
    if "/" not in name and ":" not in name:
        return f"{name}:latest"
    return name


def same_model(a: str, b: str) -> bool:
    """Whether two Ollama names are the same model."""
    return normalized(a) == normalized(b)


def model_key(name: str, *, backend_type: str) -> str:
    """How a backend of `backend_type` tells `name` apart: with Ollama's `:latest` rule on an Ollama
    backend, as written on any other. Routing compares requested names with reported ones by it,
    and the gateway lists a backend's models under it."""
    return normalized(name) if backend_type == OLLAMA else name.strip()
