"""The model runtime of this installation (`manage.py runtime`, the runtime surface): an
OpenAI-compatible server whose `/v1/models` items say what each model is (`kind`: chat, embedding,
rerank, classify), which it takes `top_k` from, and whose `GET /health` answers while it runs.

Embeddings travel as base64 float32 (OpenAI's `encoding_format: base64`, what the runtime computes):
a fifth of the JSON, decoded without parsing a number per dimension.

`base_url` is the runtime's root (`http://127.0.0.1:11540`); the API key, when one is configured,
is this installation's own (the runtime checks the same keys).
"""

from django.conf import settings

from apps.backends.providers.base import PulledModel
from apps.backends.providers.openai import CHAT_OPTIONS, OpenAIProvider

LOCAL = "local"


class LocalProvider(OpenAIProvider):
    type = LOCAL
    # `think` / `thinking_budget` in the body; the runtime answers `reasoning_content` and `thinking`.
    chat_options = CHAT_OPTIONS | {"top_k", "think", "thinking_budget"}
    embedding_encoding = "base64"  # what the runtime computes: a fifth of the JSON

    def __init__(self, *, base_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        # The runtime checks this installation's keys: without a configured provider key, send the
        # first key from the environment (keys made in the admin are stored hashed: configure one).
        keys = settings.MODELYARD_ENV_API_KEYS
        super().__init__(base_url=base_url, api_key=api_key or (keys[0] if keys else ""), timeout_s=timeout_s)

    def pulled_model(self, item: dict) -> PulledModel:
        """Capabilities from the runtime's own `kind`, not guessed from the name."""
        pulled = super().pulled_model(item)
        kind = item.get("kind")
        chat, embed = kind == "chat", kind == "embedding"
        return PulledModel(
            name=pulled.name,
            can_chat=chat,
            can_embed=embed,
            can_prompt=chat,
            can_stream=chat,
            context_length=pulled.context_length,
            size=item.get("size_bytes") if isinstance(item.get("size_bytes"), int) else None,
            modified_at=pulled.modified_at,
            details=pulled.details,
        )

    async def health(self) -> bool:
        """True while the runtime answers; raises ProviderUnavailable when it does not."""
        await self.http.request("GET", f"{self.base_url.removesuffix('/v1')}/health")
        return True
