"""The routing table: an in-process snapshot of the registry (backends, pools, models, provider
keys), rebuilt at most every TABLE_TTL_S and at once after a change made in this process.

Routing reads it on the hot path; sync and the services invalidate it. It sits below all of them.
"""

import time
from dataclasses import dataclass, field
from functools import cached_property

from asgiref.sync import sync_to_async

from apps.backends.credentials import provider_api_key
from apps.backends.models import Backend, Pool, ProviderConfig, RegisteredModel
from apps.backends.naming import model_key, normalized
from apps.modelstore import owners
from apps.modelstore import selectors as store_selectors

TABLE_TTL_S = 2.0


@dataclass(frozen=True)
class Route:
    """One backend a request may go to. `models` are its models' names as it reported them."""

    backend_id: str
    name: str
    type: str
    base_url: str
    models: frozenset[str]
    pool_ids: frozenset[str]
    synced: bool

    @cached_property
    def _names_by_key(self) -> dict[str, str]:
        return {model_key(name, backend_type=self.type): name for name in self.models}

    @property
    def model_ids(self) -> frozenset[str]:
        """Its models as the gateway lists them (`naming.model_key`: Ollama's with their tag)."""
        return frozenset(self._names_by_key)

    def own_name(self, model: str) -> str | None:
        """The name this backend reported for the requested `model`, or None when it has no such
        model. A request is always sent to a backend under the name the backend itself uses."""
        return self._names_by_key.get(model_key(model, backend_type=self.type))


@dataclass(frozen=True)
class RoutingTable:
    pools_exist: bool
    routes: tuple[Route, ...]
    model_pools: dict[str, frozenset[str]]
    pool_names: dict[str, str]
    api_keys: dict[str, str]
    stored: frozenset[str] = frozenset()  # ids of the store's inference models, to explain why they are not routable
    owned: dict[str, str] = field(default_factory=dict)  # store entries an app keeps for itself → what they are
    built_at: float = field(default_factory=time.monotonic)

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self.built_at < TABLE_TTL_S


_table: RoutingTable | None = None


def routing_table() -> RoutingTable:
    """The registry as routing sees it (cached for TABLE_TTL_S)."""
    global _table
    if _table is not None and _table.fresh:
        return _table
    pools = {str(pool.id): pool.name for pool in Pool.objects.all()}
    routes = tuple(
        Route(
            backend_id=str(backend.id),
            name=backend.name,
            type=backend.type,
            base_url=backend.base_url,
            models=frozenset(backend.model_names),
            pool_ids=frozenset(str(pool_id) for pool_id in backend.pools.values_list("id", flat=True)),
            synced=backend.state_synced_at is not None,
        )
        for backend in Backend.objects.prefetch_related("pools")
    )
    # Declared names of any backend type: `mistral` and `mistral:latest` declare the same model.
    model_pools = {
        normalized(registered.model): frozenset(str(pool.id) for pool in registered.pools.all())
        for registered in RegisteredModel.objects.prefetch_related("pools")
    }
    api_keys = {config.type: provider_api_key(type=config.type) for config in ProviderConfig.objects.all()}
    # Entries an app keeps for itself (ML classifiers, forecasting checkpoints) are no model a backend
    # could serve: a request for one is answered as for any unknown model, without the store hint.
    stored = frozenset(store_selectors.inference_models().values_list("model_id", flat=True))
    _table = RoutingTable(bool(pools), routes, model_pools, pools, api_keys, stored, owners.owned_ids())
    return _table


def routing_invalidate() -> None:
    global _table
    _table = None


async def routing_table_async() -> RoutingTable:
    """`routing_table()` from async code; no thread hop while the snapshot is fresh."""
    table = _table
    if table is not None and table.fresh:
        return table
    return await sync_to_async(routing_table)()
