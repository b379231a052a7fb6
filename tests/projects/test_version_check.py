"""`GET /v1/system/version-check` against a fake release feed on 127.0.0.1 speaking GitHub's
releases JSON: the installed version, the latest release, the cache, and an offline feed that
never makes the check fail or wait."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from project import __version__
from tests.fakes.servers import free_port

pytestmark = pytest.mark.django_db

RELEASE = {
    "tag_name": "v0.2.0",
    "name": "Modelyard 0.2.0",
    "body": "### Features\n- Project chat",
    "html_url": "https://example.invalid/modelyard/releases/tag/v0.2.0",
    "published_at": "2026-11-30T10:30:00Z",
    "draft": False,
    "prerelease": False,
}


class FakeFeed:
    """A GitHub-releases-like server: answers `payload` as JSON (or `status`, or after `delay` s)
    on any GET, and counts the requests."""

    def __init__(self) -> None:
        self.payload: object = RELEASE
        self.status = 200
        self.delay = 0.0
        self.requests = 0
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                feed.requests += 1
                time.sleep(feed.delay)
                body = json.dumps(feed.payload).encode()
                self.send_response(feed.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/repos/acme/modelyard/releases/latest"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed(settings, home) -> Iterator[FakeFeed]:
    server = FakeFeed()
    settings.MODELYARD_RELEASE_FEED_URL = server.url
    settings.MODELYARD_RELEASE_FEED_TTL_S = 3600
    yield server
    server.stop()


def check(client) -> dict:
    response = client.get("/v1/system/version-check")
    assert response.status_code == 200
    return response.json()


def test_version_check_answers_the_installed_version_and_the_feeds_latest_release(client, feed):
    body = check(client)

    assert body == {
        "current_version": __version__,
        "latest_version": "0.2.0",
        "name": "Modelyard 0.2.0",
        "release_notes": "### Features\n- Project chat",
        "release_url": RELEASE["html_url"],
        "published_at": "2026-11-30T10:30:00Z",
        "from_cache": False,
        "install": body["install"],
        "error": None,
    }
    assert set(body["install"]) == {"mac_linux", "windows"}
    assert feed.requests == 1


def test_a_second_check_within_the_ttl_is_answered_from_the_cache_without_asking_the_feed(client, feed, home):
    check(client)
    feed.payload = {**RELEASE, "tag_name": "v0.3.0"}

    body = check(client)

    assert (body["latest_version"], body["from_cache"], feed.requests) == ("0.2.0", True, 1)
    assert json.loads((home / "cache" / "release_feed.json").read_text())["release"]["latest_version"] == "0.2.0"


def test_an_expired_cache_asks_the_feed_again(client, feed, settings):
    check(client)
    settings.MODELYARD_RELEASE_FEED_TTL_S = 0
    feed.payload = {**RELEASE, "tag_name": "v0.3.0", "name": None}

    body = check(client)

    assert (body["latest_version"], body["name"], body["from_cache"], feed.requests) == ("0.3.0", "v0.3.0", False, 2)


def test_an_unreachable_feed_answers_the_cached_release_marked_from_cache(client, feed, settings):
    check(client)
    feed.stop()
    settings.MODELYARD_RELEASE_FEED_TTL_S = 0

    body = check(client)

    assert (body["current_version"], body["latest_version"], body["from_cache"]) == (__version__, "0.2.0", True)


def test_offline_without_a_cache_has_no_latest_version_and_answers_at_once(client, settings, home):
    settings.MODELYARD_RELEASE_FEED_URL = f"http://127.0.0.1:{free_port()}/releases/latest"  # nothing listens

    started = time.monotonic()
    body = check(client)

    assert time.monotonic() - started < 2
    assert (body["current_version"], body["latest_version"], body["from_cache"]) == (__version__, None, True)


def test_a_feed_that_hangs_is_given_up_after_the_short_timeout(client, feed):
    feed.delay = 6

    started = time.monotonic()
    body = check(client)

    assert time.monotonic() - started < 4
    assert (body["latest_version"], body["from_cache"]) == (None, True)


def test_after_a_failure_the_feed_is_not_asked_again_at_every_check(client, feed):
    feed.status = 500

    first, second = check(client), check(client)

    assert (first["latest_version"], second["latest_version"], second["from_cache"]) == (None, None, True)
    assert feed.requests == 1
    assert "500" in first["error"] and second["error"] == first["error"]  # the failure's reason, remembered


@pytest.mark.parametrize("payload", [{"message": "Not Found"}, "not a release", [{"name": "no tag"}]])
def test_a_feed_answering_something_else_than_a_release_is_treated_as_offline(client, feed, payload):
    feed.payload = payload

    body = check(client)

    assert (body["latest_version"], body["from_cache"]) == (None, True)


def test_a_list_feed_answers_its_newest_release_that_is_neither_draft_nor_prerelease(client, feed):
    feed.payload = [
        {**RELEASE, "tag_name": "v0.4.0", "draft": True},
        {**RELEASE, "tag_name": "v0.3.0-rc1", "prerelease": True},
        {**RELEASE, "tag_name": "0.2.5", "name": ""},
        RELEASE,
    ]

    body = check(client)

    assert (body["latest_version"], body["name"]) == ("0.2.5", "0.2.5")


def test_without_a_feed_configured_the_check_is_offline_with_the_current_version(client, settings, home):
    settings.MODELYARD_RELEASE_FEED_URL = ""

    body = check(client)

    assert (body["current_version"], body["latest_version"], body["from_cache"]) == (__version__, None, True)


def test_without_a_feed_configured_the_answer_says_no_feed_is_configured(client, settings, home):
    settings.MODELYARD_RELEASE_FEED_URL = ""

    body = check(client)

    assert body["error"] == "no release feed configured: set MODELYARD_RELEASE_FEED_URL"


def test_an_unreachable_feed_names_its_failure_and_a_reachable_one_has_no_error(client, feed, settings):
    assert check(client)["error"] is None
    feed.stop()
    settings.MODELYARD_RELEASE_FEED_TTL_S = 0

    body = check(client)

    assert body["latest_version"] == "0.2.0" and "ConnectError" in body["error"]
