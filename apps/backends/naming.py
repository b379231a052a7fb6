"""Model names as backends spell them: `mistral` and `mistral:latest` are the same Ollama model."""


def normalized(name: str) -> str:
    name = name.strip()
    if "/" not in name and ":" not in name:
        return f"{name}:latest"
    return name


def same_model(a: str, b: str) -> bool:
    return normalized(a) == normalized(b)
