"""The cluster view on the platform port: nodes polled over HTTP (a real second node surface on 127.0.0.1,
one that is down, one behind an API key), their listings, and placement of a model."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django_q.models import Schedule

from apps.core.models import Job
from apps.nodes import services
from apps.nodes.models import Node
from apps.nodes.signals import ensure_poll_schedule
from tests.nodes.profiles import LAPTOP_16GB

pytestmark = pytest.mark.e2e
live = pytest.mark.django_db(transaction=True)  # the other node reads the catalog: it must be committed


def register(client, **body):
    return client.post("/api/v1/nodes/", body, content_type="application/json")


def by_name(client) -> dict[str, dict]:
    response = client.get("/api/v1/nodes/")
    assert response.status_code == 200
    return {node["name"]: node for node in response.json()["results"]}


# --- registry and polling ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_local_node_registers_itself_and_reports_live_before_any_poll(client, catalog, use_hardware):
    use_hardware(LAPTOP_16GB)
    nodes = by_name(client)
    local_name = socket.gethostname()

    assert list(nodes) == [local_name]
    local = nodes[local_name]
    assert (local["is_local"], local["status"], local["url"], local["last_polled_at"]) == (True, "healthy", None, None)
    assert local["last_seen_at"] and local["system"]["total_ram_gb"] == 16.0
    assert local["node"] == {"name": local_name, "os": "linux"}
    own_top = client.get("/api/v1/models/top", {"limit": 5, "min_fit": "good"}, SERVER_PORT=8787).json()["models"]
    assert [model["name"] for model in local["top_models"]] == [model["name"] for model in own_top]
    assert {model["fit_level"] for model in local["top_models"]} <= {"perfect", "good"}
    assert Node.objects.get(is_local=True).status == Node.Status.UNKNOWN  # shown live, not written

    polled = client.post(f"/api/v1/nodes/{local_name}/poll").json()
    assert polled["status"] == "healthy" and polled["last_polled_at"]
    assert Node.objects.get(is_local=True).system["total_ram_gb"] == 16.0


@live
def test_a_node_added_by_url_names_itself_and_reports_its_hardware_and_top_models(client, catalog, second_node):
    response = register(client, url=second_node.url + "/")

    assert response.status_code == 201
    node = response.json()
    assert (node["name"], node["url"], node["status"], node["is_local"]) == (
        "worker-2",
        second_node.url,
        "healthy",
        False,
    )
    assert node["node"] == {"name": "worker-2", "os": "linux"}
    assert (node["system"]["gpu_name"], node["system"]["total_gpu_vram_gb"]) == ("NVIDIA GeForce RTX 4090", 24.0)
    assert node["last_seen_at"] and node["latency_ms"] >= 0 and node["consecutive_failures"] == 0
    own_top = httpx.get(f"{second_node.url}/api/v1/models/top", params={"limit": 5, "min_fit": "good"}).json()
    assert [model["name"] for model in node["top_models"]] == [model["name"] for model in own_top["models"]]
    assert len(node["top_models"]) == 5


@live
def test_a_node_that_is_down_is_listed_as_unreachable_and_never_breaks_the_list(client, catalog, second_node, dead_url):
    register(client, url=second_node.url)
    ghost = register(client, url=dead_url, name="ghost")

    assert ghost.status_code == 201
    assert (ghost.json()["status"], ghost.json()["last_seen_at"], ghost.json()["system"]) == ("unreachable", None, None)
    assert "ConnectError" in ghost.json()["last_error"]

    services.nodes_poll()
    nodes = by_name(client)
    assert {name: node["status"] for name, node in nodes.items()} == {
        socket.gethostname(): "healthy",
        "worker-2": "healthy",
        "ghost": "unreachable",
    }
    assert nodes["ghost"]["consecutive_failures"] == 2
    assert nodes["worker-2"]["consecutive_failures"] == 0


@live
def test_a_node_behind_an_api_key_is_polled_with_its_key(client, catalog, secured_node):
    without_key = register(client, url=secured_node.url, name="worker-3-nokey").json()
    Node.objects.filter(name="worker-3-nokey").delete()
    with_key = register(client, url=secured_node.url, api_key="worker-3-key-0123456789").json()

    assert without_key["status"] == "error"
    assert "GET /api/v1/system answered 401" in without_key["last_error"]
    assert (with_key["name"], with_key["status"]) == ("worker-3", "healthy")
    assert with_key["system"]["total_ram_gb"] == 16.0
    assert "api_key" not in with_key


@pytest.fixture
def drifting_node():
    """A node surface whose live `/api/v1/system` RAM has moved away from the snapshot it scores with: 11.9 GB
    available now, 12.0 GB in the snapshot its listings carry (near the good/marginal line of a 10 GB model)."""
    snapshot = {**LAPTOP_16GB.as_system_dict(), "available_ram_gb": 12.0}
    bodies = {
        "/health": {"status": "ok", "node": {"name": "drifter", "os": "linux"}},
        "/api/v1/system": {
            "node": {"name": "drifter", "os": "linux"},
            "system": {**snapshot, "available_ram_gb": 11.9},
        },
        "/api/v1/models/top": {"node": {"name": "drifter", "os": "linux"}, "system": snapshot, "models": []},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (http.server's name)
            body = json.dumps(bodies[self.path.split("?")[0]]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_the_cluster_scores_a_node_with_the_snapshot_the_node_scores_with(client, catalog, drifting_node):
    node = register(client, url=drifting_node).json()
    listing = client.get("/api/v1/nodes/drifter/models", {"limit": 3}).json()

    assert (node["name"], node["status"]) == ("drifter", "healthy")
    assert node["system"]["available_ram_gb"] == 12.0  # the listing's snapshot, not /api/v1/system's 11.9
    assert listing["system"]["available_ram_gb"] == 12.0
    assert {model["memory_available_gb"] for model in listing["models"] if model["run_mode"] == "cpu"} == {12.0}


@pytest.mark.django_db
def test_a_down_node_cannot_be_registered_without_a_name(client, dead_url):
    response = register(client, url=dead_url)

    assert response.status_code == 400  # the request lacks the name it needs: not a server fault
    assert response.json()["detail"].startswith(f"node at {dead_url} did not answer (ConnectError")
    assert response.json()["detail"].endswith("give a name to register it anyway")


@pytest.mark.django_db
def test_a_name_or_url_is_registered_once(client, dead_url):
    register(client, url=dead_url, name="ghost")

    assert register(client, url=dead_url, name="other").json() == {
        "detail": f"a node with url {dead_url} is already registered"
    }
    again = register(client, url="http://127.0.0.1:9/", name="ghost")
    assert (again.status_code, again.json()) == (409, {"detail": "node 'ghost' is already registered"})


@pytest.mark.django_db
def test_an_invalid_registration_is_a_422_with_field_errors(client):
    response = register(client, url="not a url")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "url"]


@pytest.mark.django_db
def test_unknown_nodes_are_404_and_the_local_node_cannot_be_removed(client, dead_url):
    register(client, url=dead_url, name="ghost")

    assert client.get("/api/v1/nodes/nope").json() == {"detail": "node 'nope' not found"}
    assert client.delete("/api/v1/nodes/ghost").status_code == 204
    assert client.get("/api/v1/nodes/ghost").status_code == 404
    local = client.delete(f"/api/v1/nodes/{socket.gethostname()}")
    assert (local.status_code, local.json()["detail"]) == (
        409,
        "the local node registers itself and cannot be removed; disable it instead",
    )


# --- a node's listings ---------------------------------------------------------------------------


@live
def test_a_nodes_listing_is_scored_on_the_hardware_it_reported(client, catalog, second_node):
    register(client, url=second_node.url)
    params = {"use_case": "coding", "limit": 3, "sort": "tps"}

    body = client.get("/api/v1/nodes/worker-2/models", params).json()
    own = httpx.get(f"{second_node.url}/api/v1/models", params=params).json()

    assert (body["status"], body["node"]) == ("healthy", {"name": "worker-2", "os": "linux"})
    assert body["last_seen_at"]
    assert body["system"] == own["system"]
    assert body["filters"] == own["filters"] and body["filters"]["use_case"] == "coding"
    assert [(m["name"], m["score"], m["best_quant"]) for m in body["models"]] == [
        (m["name"], m["score"], m["best_quant"]) for m in own["models"]
    ]
    top = client.get("/api/v1/nodes/worker-2/models/top", {"min_fit": "good"}).json()
    assert top["returned_models"] == 5 and top["filters"]["top_only"] is True
    assert {model["fit_level"] for model in top["models"]} <= {"perfect", "good"}


@pytest.mark.django_db
def test_a_nodes_listing_answers_errors_in_the_node_specs_style(client, catalog, dead_url):
    register(client, url=dead_url, name="ghost")

    bad = client.get(f"/api/v1/nodes/{socket.gethostname()}/models", {"min_fit": "excellent"})
    malformed = client.get(f"/api/v1/nodes/{socket.gethostname()}/models/top", {"limit": "ten"})
    never_seen = client.get("/api/v1/nodes/ghost/models")
    unknown = client.get("/api/v1/nodes/nope/models/top")

    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "invalid min_fit value: use perfect|good|marginal|too_tight"},
    )
    assert (malformed.status_code, malformed.json()) == (
        400,
        {"error": "invalid request: limit: A valid integer is required."},
    )
    assert (never_seen.status_code, never_seen.json()) == (
        503,
        {"error": "node 'ghost' has not reported its hardware yet (status: unreachable)"},
    )
    assert (unknown.status_code, unknown.json()) == (404, {"error": "node 'nope' not found"})
    assert client.get("/api/v1/nodes/nope").json() == {"detail": "node 'nope' not found"}  # the registry: platform


# --- placement -----------------------------------------------------------------------------------


@live
def test_placement_ranks_the_nodes_for_one_model(client, catalog, second_node, dead_url, use_hardware):
    use_hardware(LAPTOP_16GB)  # this node: a 16 GB laptop; worker-2: a 24 GB GPU box; ghost: down
    register(client, url=second_node.url)
    register(client, url=dead_url, name="ghost")

    body = client.get("/api/v1/placement", {"model": "qwen/qwen2.5-14b-instruct"}).json()

    assert body["model"]["name"] == "Qwen/Qwen2.5-14B-Instruct"
    assert body["best"] == "worker-2"
    assert [(p["node"], p["fit_level"], p["run_mode"], p["best_quant"]) for p in body["placements"]] == [
        ("worker-2", "good", "gpu", "Q8_0"),  # 17.5 of 24 GB: 73 %, over llmfit 1.1.17's 60 % for perfect
        (socket.gethostname(), "marginal", "cpu", "Q4_K_M"),
    ]
    assert body["placements"][0]["score"] > body["placements"][1]["score"]
    # Each entry is the model's fit as that node itself lists it.
    listed = httpx.get(f"{second_node.url}/api/v1/models/Qwen/Qwen2.5-14B-Instruct").json()["models"]
    own = next(model for model in listed if model["name"] == "Qwen/Qwen2.5-14B-Instruct")  # not its AWQ builds
    fit_fields = set(own) & set(body["placements"][0])
    assert fit_fields >= {"fit_level", "run_mode", "score", "score_components", "estimated_tps", "notes"}
    assert {key: body["placements"][0][key] for key in fit_fields} == {key: own[key] for key in fit_fields}
    assert [(u["node"], u["status"]) for u in body["unavailable"]] == [("ghost", "unreachable")]

    picky = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-14B-Instruct", "min_fit": "good"}).json()
    assert [p["node"] for p in picky["placements"]] == ["worker-2"]
    huge = client.get("/api/v1/placement", {"model": "meta-llama/Llama-3.1-405B-Instruct"}).json()
    assert huge["best"] is None and {p["fit_level"] for p in huge["placements"]} == {"too_tight"}


@pytest.mark.django_db
def test_placement_ranks_a_planned_node_described_by_what_if_hardware(client, catalog, use_hardware):
    use_hardware(LAPTOP_16GB)  # this node; the planned one: the same with a 24 GB RTX 4090 and 64 GB RAM
    body = client.get(
        "/api/v1/placement", {"model": "Qwen/Qwen2.5-14B-Instruct", "gpu": "RTX 4090", "ram_gb": "64"}
    ).json()

    assert body["best"] == "what-if"
    planned, local = body["placements"]
    assert (planned["node"], planned["status"], planned["url"], planned["is_local"]) == (
        "what-if",
        "planned",
        None,
        False,
    )
    assert (planned["fit_level"], planned["run_mode"]) == ("good", "gpu")  # Q8_0 17.5 of 24 GB: 73 %
    assert (local["node"], local["run_mode"]) == (socket.gethostname(), "cpu")
    assert body["filters"] | {"max_context": None} == {
        "max_context": None,
        "min_fit": None,
        "force_runtime": None,
        "ram_gb": 64.0,
        "vram_gb": None,
        "cpu_cores": None,
        "gpu": "NVIDIA GeForce RTX 4090",
        "gpu_note": None,
    }
    bad = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-14B-Instruct", "vram_gb": "-1"})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid vram_gb value: expected a non-negative number"})


@pytest.mark.django_db
def test_placement_errors_are_400_or_404_with_one_error_string(client, catalog):
    unknown = client.get("/api/v1/placement", {"model": "no-such-model"})
    ambiguous = client.get("/api/v1/placement", {"model": "qwen2.5-coder-7b"})
    missing = client.get("/api/v1/placement")
    bad_fit = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-7B-Instruct", "min_fit": "excellent"})
    bad_context = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-7B-Instruct", "max_context": "0"})

    assert (unknown.status_code, unknown.json()) == (404, {"error": "model 'no-such-model' is not in the catalog"})
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"] == "model 'qwen2.5-coder-7b' matches several catalog models: give the full name"
    assert "Qwen/Qwen2.5-Coder-7B-Instruct" in ambiguous.json()["matches"]
    assert (missing.status_code, missing.json()) == (400, {"error": "invalid request: model: This field is required."})
    assert (bad_fit.status_code, bad_fit.json()) == (
        400,
        {"error": "invalid min_fit value: use perfect|good|marginal|too_tight"},
    )
    assert (bad_context.status_code, bad_context.json()) == (
        400,
        {"error": "invalid request: max_context: Ensure this value is greater than or equal to 1."},
    )


@pytest.mark.django_db
def test_placement_with_no_node_at_min_fit_says_why(client, catalog, use_hardware):
    use_hardware(LAPTOP_16GB)  # the only node: Qwen2.5-14B runs on its CPU, marginal
    body = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-14B-Instruct", "min_fit": "perfect"}).json()
    runnable = client.get("/api/v1/placement", {"model": "Qwen/Qwen2.5-14B-Instruct"}).json()

    assert (body["best"], body["placements"]) == (None, [])
    assert body["reason"] == (
        f"no node fits Qwen/Qwen2.5-14B-Instruct at min_fit=perfect or better ({socket.gethostname()}: marginal)"
    )
    assert (runnable["best"], runnable["reason"]) == (socket.gethostname(), None)


@pytest.mark.django_db
def test_placement_of_a_model_too_big_for_every_node_says_what_it_needs(client, catalog, use_hardware):
    use_hardware(LAPTOP_16GB)
    body = client.get("/api/v1/placement", {"model": "meta-llama/Llama-3.1-405B-Instruct"}).json()

    placed = body["placements"][0]
    assert body["best"] is None and placed["fit_level"] == "too_tight"
    assert body["reason"] == (
        f"meta-llama/Llama-3.1-405B-Instruct is too tight on every node: it needs at least "
        f"{placed['memory_required_gb']} GB and the most any node has is {placed['memory_available_gb']} GB "
        f"({socket.gethostname()}), of which a model may fill 98%"
    )


# --- admin and schedule --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_nodes_with_their_health_and_polls_them_in_a_job(admin_client, dead_url):
    services.node_register(url=dead_url, name="ghost")
    ghost = Node.objects.get(name="ghost")

    page = admin_client.get("/admin/nodes/node/")
    unreachable = admin_client.get("/admin/nodes/node/", {"status__exact": "unreachable"})
    response = admin_client.post(
        "/admin/nodes/node/", {"action": "poll_now", "_selected_action": [ghost.pk]}, follow=True
    )

    assert page.status_code == 200 and b"Unreachable" in page.content
    assert [node.name for node in unreachable.context["cl"].result_list] == ["ghost"]
    job = Job.objects.get(kind="nodes.poll")
    assert (job.func, job.params) == ("apps.nodes.tasks.poll_nodes", {"names": ["ghost"]})
    assert any("Polling 1 node(s)" in str(message) for message in response.context["messages"])


@live
def test_adding_a_node_in_the_admin_takes_only_its_url(admin_client, catalog, second_node, dead_url):
    added = admin_client.post("/admin/nodes/node/add/", {"url": second_node.url, "name": "", "enabled": "on"})
    refused = admin_client.post("/admin/nodes/node/add/", {"url": dead_url, "name": "", "enabled": "on"})

    assert added.status_code == 302
    assert Node.objects.get(name="worker-2").url == second_node.url
    assert Job.objects.filter(kind="nodes.poll", params={"names": ["worker-2"]}).exists()
    assert refused.status_code == 200
    assert "give a name to register it anyway" in refused.content.decode()


@pytest.mark.django_db
def test_workers_keep_the_poll_schedule_at_the_configured_interval(settings):
    settings.MODELYARD_NODES_POLL_MINUTES = 5
    ensure_poll_schedule(sender="django_q", proc_name="Process-1")
    ensure_poll_schedule(sender="django_q", proc_name="Process-2")

    schedule = Schedule.objects.get(name="nodes.poll")
    assert (schedule.func, schedule.minutes, schedule.repeats) == ("apps.nodes.tasks.poll_scheduled", 5, -1)

    settings.MODELYARD_NODES_POLL_MINUTES = 2
    ensure_poll_schedule(sender="django_q", proc_name="Process-3")
    assert list(Schedule.objects.filter(name="nodes.poll").values_list("minutes", flat=True)) == [2]

    settings.MODELYARD_NODES_POLL_MINUTES = 0
    ensure_poll_schedule(sender="django_q", proc_name="Process-4")
    assert not Schedule.objects.filter(name="nodes.poll").exists()
