"""Registering a node: a value its column or its use refuses is a 422 that leaves no row (issue 10, A5)."""

import pytest

from apps.core.errors import Invalid
from apps.nodes import services
from apps.nodes.models import Node

pytestmark = pytest.mark.django_db


def register(client, **body):
    return client.post("/api/v1/nodes/", body, content_type="application/json")


def test_an_api_key_that_is_not_ascii_is_422_and_no_node_is_created(client, dead_url):
    response = register(client, url=dead_url, name="gpu-box", api_key="clé-ü")

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "not_header_safe",
                "loc": ["body", "api_key"],
                "msg": "must be printable ASCII (it is sent as an HTTP header value)",
            }
        ]
    }
    assert not Node.objects.filter(name="gpu-box").exists()


def test_an_api_key_with_a_line_break_is_refused_as_well(client, dead_url):
    response = register(client, url=dead_url, name="gpu-box", api_key="key\r\nX-Injected: 1")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "api_key"]
    assert not Node.objects.filter(name="gpu-box").exists()


def test_a_url_longer_than_its_column_is_422_and_no_node_is_created(client):
    long_url = "http://node.example:8787/" + "p" * 200

    response = register(client, url=long_url, name="far-away")

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "max_length",
                "loc": ["body", "url"],
                "msg": "Ensure this field has no more than 200 characters.",
            }
        ]
    }
    assert not Node.objects.filter(name="far-away").exists()


def test_the_service_checks_every_column_before_it_saves(dead_url):
    with pytest.raises(Invalid, match=r"invalid node: api_key: must be printable ASCII"):
        services.node_register(url=dead_url, name="gpu-box", api_key="clé-ü")
    with pytest.raises(Invalid, match=r"invalid node: name: Ensure this value has at most 100 characters"):
        services.node_register(url=dead_url, name="n" * 101)

    assert not Node.objects.filter(is_local=False).exists()


def test_a_node_saved_with_a_non_ascii_key_before_keys_were_checked_polls_as_an_error(client, dead_url):
    Node.objects.create(name="legacy", url=dead_url, api_key="clé-ü")  # as an older version let it in

    polled = client.post("/api/v1/nodes/legacy/poll")
    listed = client.get("/api/v1/nodes/")

    assert polled.status_code == 200
    assert (polled.json()["status"], polled.json()["last_error"]) == (
        "error",
        "its api_key is not printable ASCII and cannot be sent; edit the node",
    )
    assert listed.status_code == 200


@pytest.mark.parametrize("name", ["bad/name", "a?b#c", "two words", "-dash-first", "ünï"])
def test_a_name_that_cannot_be_a_url_path_segment_is_422_and_no_node_is_created(client, dead_url, name):
    response = register(client, url=dead_url, name=name)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert response.json()["detail"][0]["type"] == "invalid_node_name"
    assert not Node.objects.filter(name=name).exists()


def test_the_service_holds_names_to_the_same_rule(dead_url):
    with pytest.raises(Invalid, match=r"invalid node: name: must be letters, digits"):
        services.node_register(url=dead_url, name="bad/name")

    assert not Node.objects.filter(is_local=False).exists()
