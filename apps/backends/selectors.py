"""Reads that are more than a one-line queryset."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from apps.backends.downloads import PULLS_GROUP
from apps.backends.models import Pool, RegisteredModel
from apps.core import events

KEEPALIVE_S = 15.0


def pools_by_purpose(*, purpose: str, cursor: datetime | None = None, limit: int = 100) -> QuerySet[Pool]:
    """Pools of one purpose, newest first; `cursor` pages to those created before it."""
    pools = Pool.objects.filter(purpose_type=purpose).order_by("-created_at")
    if cursor is not None:
        pools = pools.filter(created_at__lt=cursor)
    return pools[:limit]


def models_openai_list() -> dict[str, Any]:
    """GET /models: the declared models as OpenAI lists them (the spec puts the name in `object`)."""
    return {
        "object": "list",
        "data": [
            {
                "id": model.model,
                "object": model.model,
                "created": int(model.created_at.timestamp()),
                "owned_by": "system",
            }
            for model in RegisteredModel.objects.all()
        ],
    }


async def pull_status_stream() -> AsyncIterator[tuple[str, dict] | None]:
    """Every running pull's status lines, as they come, until the client goes away."""
    async with events.subscription(PULLS_GROUP) as receive:
        while True:
            message = await receive(timeout=KEEPALIVE_S)
            yield message  # None becomes a keep-alive comment


@sync_to_async
def default_model_name_async() -> str:
    from apps.backends.services import default_model_name

    return default_model_name()


@sync_to_async
def embed_model_name_async() -> str:
    from apps.backends.services import embed_model_name

    return embed_model_name()
