"""Provider adapters: one module per kind of inference backend, behind the interface of `base.py`.

Adding a provider is adding a module and a line to `PROVIDERS`; adapters are imported lazily.
"""

from apps.backends.providers.base import Provider
from apps.core.registry import Registry

PROVIDERS: Registry[type[Provider]] = Registry(
    "provider",
    {
        "local": "apps.backends.providers.local.LocalProvider",
        "ollama": "apps.backends.providers.ollama.OllamaProvider",
        "openai": "apps.backends.providers.openai.OpenAIProvider",
        "vllm": "apps.backends.providers.vllm.VLLMProvider",
    },
)
PROVIDER_TYPES = PROVIDERS.names()


def provider_type_check(type: str) -> str:
    """`type` when it names a provider; otherwise Invalid (400) naming the valid ones."""
    return PROVIDERS.check(type)


def provider_for(type: str, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> Provider:
    """A new adapter for a backend of `type`; the caller closes it with `aclose()`."""
    return PROVIDERS.get(type)(base_url=base_url, api_key=api_key, timeout_s=timeout_s)
