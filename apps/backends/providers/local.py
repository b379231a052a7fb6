"""The model runtime of this installation (`manage.py runtime`, the runtime surface): an
OpenAI-compatible server whose `/v1/models` items say what each model is (`kind`: chat, embedding,
rerank, classify), which it takes `top_k` from, and whose `GET /health` answers while it runs.

Embeddings travel as base64 float32 (OpenAI's `encoding_format: base64`, what the runtime computes):
a fifth of the JSON, decoded without parsing a number per dimension.

`base_url` is the runtime's root (`http://127.0.0.1:11540`); the API key, when one is configured,
is this installation's own (the runtime checks the same keys).
"""

import base64
import struct

from django.conf import settings

from apps.backends.providers.base import Embeddings, PulledModel
from apps.backends.providers.openai import CHAT_OPTIONS, OpenAIProvider

LOCAL = "local"


class LocalProvider(OpenAIProvider):
    type = LOCAL
    chat_options = CHAT_OPTIONS | {"top_k"}

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

    async def embed(
        self, *, model: str, inputs: list[str] | list[list[int]], dimensions: int | None = None
    ) -> Embeddings:
        if not inputs:
            return Embeddings(vectors=[])
        path = f"{self.api}/embeddings"
        body: dict = {"model": model, "input": list(inputs), "encoding_format": "base64"}
        if dimensions is not None:
            body["dimensions"] = dimensions
        data = await self.http.post_json(path, body)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(inputs):
            raise self.http.bad_body(path, f"expected {len(inputs)} embeddings")
        try:
            ordered = sorted(items, key=lambda item: item.get("index", 0))
            raw = [base64.b64decode(item["embedding"], validate=True) for item in ordered]
            vectors = [list(struct.unpack(f"<{len(vector) // 4}f", vector)) for vector in raw]
        except (AttributeError, KeyError, TypeError, ValueError, struct.error) as exc:
            raise self.http.bad_body(path, "embeddings are not base64 float32 vectors") from exc
        return Embeddings(
            vectors=vectors,
            prompt_tokens=(data.get("usage") or {}).get("prompt_tokens"),
            warnings=tuple(str(warning) for warning in data.get("warnings") or ()),
        )
