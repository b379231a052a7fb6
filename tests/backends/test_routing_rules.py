"""The routing rules, on an in-memory registry: pools, availability, load and cool-downs."""

import pytest

from apps.backends import routing
from apps.backends.routing import ModelNotFound, Route, RoutingTable, candidates
from apps.core.errors import NotFound


def route(name: str, *models: str, pools: tuple[str, ...] = (), type: str = "ollama") -> Route:
    return Route(
        backend_id=name,
        name=name,
        type=type,
        base_url=f"http://{name}",
        models=frozenset(models),
        pool_ids=frozenset(pools),
        synced=True,
    )


def table(*routes: Route, model_pools: dict | None = None) -> RoutingTable:
    pool_ids = {pool for r in routes for pool in r.pool_ids} | {p for ps in (model_pools or {}).values() for p in ps}
    return RoutingTable(
        pools_exist=bool(pool_ids),
        routes=routes,
        model_pools={model: frozenset(pools) for model, pools in (model_pools or {}).items()},
        pool_names={pool: f"pool-{pool}" for pool in pool_ids},
        api_keys={},
    )


@pytest.fixture(autouse=True)
def fresh_health():
    routing.routing_health_reset()
    yield
    routing.routing_health_reset()


def test_without_pools_any_backend_having_the_model_is_a_candidate():
    registry = table(route("a", "llama3:8b"), route("b", "llama3:8b"), route("c", "phi3:mini"))
    assert {r.name for r in candidates(registry, "llama3:8b")} == {"a", "b"}


def test_a_name_without_a_tag_means_latest():
    registry = table(route("a", "mistral:latest"))
    assert [r.name for r in candidates(registry, "mistral")] == ["a"]


def test_with_pools_only_backends_sharing_a_pool_with_the_model_are_candidates():
    registry = table(
        route("inside", "llama3:8b", pools=("p1",)),
        route("other-pool", "llama3:8b", pools=("p2",)),
        route("no-pool", "llama3:8b"),
        model_pools={"llama3:8b": ("p1",)},
    )
    assert [r.name for r in candidates(registry, "llama3:8b")] == ["inside"]


def test_with_pools_a_model_in_no_pool_is_not_found():
    registry = table(route("a", "llama3:8b", pools=("p1",)), model_pools={"phi3:mini": ()})
    with pytest.raises(NotFound, match="not in any pool"):
        candidates(registry, "llama3:8b")


def test_no_backend_with_the_model_is_not_found_naming_the_model_and_pools():
    registry = table(route("a", "phi3:mini", pools=("p1",)), model_pools={"llama3:8b": ("p1",)})
    with pytest.raises(ModelNotFound, match=r"^no backend in pool\(s\) pool-p1 has model 'llama3:8b'$"):
        candidates(registry, "llama3:8b")


def test_the_least_busy_backend_goes_first():
    registry = table(route("busy", "m:1"), route("idle", "m:1"))
    routing._in_flight["busy"] = 3
    assert [r.name for r in candidates(registry, "m:1")] == ["idle", "busy"]


def test_a_backend_failing_repeatedly_goes_last_for_the_cool_down(settings):
    settings.MODELYARD_BACKEND_MAX_FAILURES = 2
    registry = table(route("flaky", "m:1"), route("steady", "m:1"))
    routing._in_flight["steady"] = 5  # busier, but healthy
    flaky = registry.routes[0]

    routing._record_failure(flaky)
    assert candidates(registry, "m:1")[0].name == "flaky"  # one failure: not yet cooling
    routing._record_failure(flaky)
    assert [r.name for r in candidates(registry, "m:1")] == ["steady", "flaky"]
    routing._record_success(flaky)
    assert candidates(registry, "m:1")[0].name == "flaky"


def test_candidates_can_be_limited_to_one_provider_type():
    registry = table(route("o", "m:1"), route("v", "m:1", type="vllm"))
    assert [r.name for r in candidates(registry, "m:1", backend_type="vllm")] == ["v"]
