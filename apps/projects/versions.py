"""`GET /v1/system/version-check`: this installation's version against the latest release.

The current version is the installed package's (`project.__version__`, `settings.MODELYARD_VERSION`).
The latest comes from a release feed (`MODELYARD_RELEASE_FEED_URL`) answering GitHub's releases JSON:
`GET /repos/{owner}/{repo}/releases/latest` (one release object) or `…/releases` (a list, newest
first; drafts and prereleases are skipped), each with `tag_name`, `name`, `body`, `html_url`,
`published_at` (https://docs.github.com/en/rest/releases/releases).

With no feed configured the check is offline from the start. The answer is cached in
`<MODELYARD_HOME>/cache/release_feed.json` for MODELYARD_RELEASE_FEED_TTL_S.
The check never fails and never waits long: the feed is asked with a 2 s timeout; when it cannot
be reached or answers nonsense, the last cached release is answered with `from_cache: true` (or no
`latest_version` when there is none), and the feed is not asked again for RETRY_AFTER_FAILURE_S.
"""

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

FEED_TIMEOUT_S = 2.0
RETRY_AFTER_FAILURE_S = 300  # an unreachable feed is not asked again before this (seconds)
CACHE_FILE = Path("cache") / "release_feed.json"  # under MODELYARD_HOME
NO_FEED = "no release feed configured: set MODELYARD_RELEASE_FEED_URL"
# How to upgrade, per platform (the spec's `install`): from a checkout, or with the compose file.
INSTALL = {
    "mac_linux": "git pull && make run",
    "windows": "git pull && docker compose -f docker/compose.yaml up --build",
}


class Release(TypedDict):
    """A release as the feed describes it, in the spec's field names."""

    latest_version: str  # the tag without its leading "v": "0.2.0"
    name: str  # the release's name, else its tag: "v0.2.0"
    release_notes: str | None
    release_url: str | None
    published_at: str | None


class FeedInvalid(ValueError):
    """The feed answered something that is not a GitHub release (or a list holding one)."""


def release_from_feed(data: Any) -> Release:
    """The release a feed's JSON describes: the object itself, or the first of a list that is
    neither a draft nor a prerelease. Raises FeedInvalid."""
    if isinstance(data, list):
        data = next(
            (item for item in data if isinstance(item, dict) and not item.get("draft") and not item.get("prerelease")),
            None,
        )
    if not isinstance(data, dict) or not isinstance(data.get("tag_name"), str) or not data["tag_name"].strip():
        raise FeedInvalid("no release with a tag_name")
    tag = data["tag_name"].strip()
    return Release(
        latest_version=tag[1:] if tag[:1] in {"v", "V"} else tag,
        name=data.get("name") or tag,
        release_notes=data.get("body"),
        release_url=data.get("html_url"),
        published_at=data.get("published_at"),
    )


def _cache_path() -> Path:
    return settings.MODELYARD_HOME / CACHE_FILE


def _cache_read(feed_url: str) -> dict[str, Any]:
    """The cache file for this feed URL: `{feed_url, fetched_at, failed_at, release}` ({} when
    there is none, it is unreadable, or it was written for another URL)."""
    try:
        cached = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) and cached.get("feed_url") == feed_url else {}


def _cache_write(cached: dict[str, Any]) -> None:
    """Write the cache atomically (a rename), so that concurrent requests never read half a file."""
    path = _cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".release_feed-", delete=False) as handle:
        json.dump(cached, handle)
    os.replace(handle.name, path)


def release_latest(*, feed_url: str, ttl_s: int, now: float | None = None) -> tuple[Release | None, bool, str | None]:
    """The latest release of the feed, whether it came from the cache, and why the feed could not
    be used: `(release, from_cache, error)` (error None when the feed answered, now or within `ttl_s`).

    A cached answer younger than `ttl_s` is used as is. Otherwise the feed is asked (2 s timeout);
    on any failure the cached release (possibly None) is answered with `from_cache` True and the
    failure's reason, and the failure is remembered (with its reason) so that the feed is not asked
    again for RETRY_AFTER_FAILURE_S.
    """
    now = time.time() if now is None else now
    cached = _cache_read(feed_url)
    release = cached.get("release")
    if release and now - cached.get("fetched_at", 0) < ttl_s:
        return release, True, None
    if now - cached.get("failed_at", 0) < RETRY_AFTER_FAILURE_S:
        return release, True, cached.get("error") or "the release feed failed recently"
    try:
        response = httpx.get(
            feed_url,
            timeout=FEED_TIMEOUT_S,
            headers={"Accept": "application/vnd.github+json"},
            follow_redirects=True,
        )
        response.raise_for_status()
        fresh = release_from_feed(response.json())
    except (httpx.HTTPError, ValueError) as error:  # unreachable, an error status, not JSON, not a release
        logger.warning("release feed %s unusable: %s: %s", feed_url, type(error).__name__, error)
        reason = f"release feed {feed_url} unusable: {type(error).__name__}: {error}"
        _cache_write({**cached, "feed_url": feed_url, "failed_at": now, "error": reason})
        return release, True, reason
    _cache_write({"feed_url": feed_url, "fetched_at": now, "release": fresh})
    return fresh, False, None


def version_check() -> dict[str, Any]:
    """The spec's version-check body: `current_version`, `latest_version` (null when unknown),
    `name`, `release_notes`, `release_url`, `published_at`, `from_cache`, `install` commands and
    `error`: null when the feed answered, else why it was not used (none configured, or the
    failure's reason). With no feed configured it is offline: `from_cache` True, `latest_version`
    null and `error` NO_FEED."""
    body: dict[str, Any] = {
        "current_version": settings.MODELYARD_VERSION,
        "latest_version": None,
        "name": None,
        "release_notes": None,
        "release_url": None,
        "published_at": None,
        "from_cache": True,
        "install": INSTALL,
        "error": NO_FEED,
    }
    feed_url = settings.MODELYARD_RELEASE_FEED_URL.strip()
    if not feed_url:
        return body
    release, from_cache, error = release_latest(feed_url=feed_url, ttl_s=settings.MODELYARD_RELEASE_FEED_TTL_S)
    body.update(release or {}, from_cache=from_cache, error=error)
    return body
