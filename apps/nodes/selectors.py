"""Reads of the nodes app that are more than a one-line queryset."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from apps.core.errors import Invalid, NotFound
from apps.nodes.catalog import facts_of
from apps.nodes.models import CatalogModel, Node
from apps.nodes.scoring import ModelFacts

AMBIGUOUS_SHOWN = 10


_CATALOG_VERSION_SQL = "SELECT COUNT(*), COUNT(*) FILTER (WHERE enabled), MAX(updated_at) FROM {table}"
_facts_lock = threading.Lock()
_facts_cache: dict[str, Any] = {"version": None, "facts": ()}


def catalog_facts() -> tuple[tuple, tuple[ModelFacts, ...]]:
    """(version, every enabled catalog model ready to score), read from the database only when it changed.

    The version is one aggregate query (rows, enabled rows, last update): saving, adding, deleting,
    enabling or syncing any row changes it, in this process or another. It runs on every listing, so it
    is sent as SQL: the ORM took longer to build it than the database to answer it."""
    with connection.cursor() as cursor:
        cursor.execute(_CATALOG_VERSION_SQL.format(table=connection.ops.quote_name(CatalogModel._meta.db_table)))
        version = tuple(cursor.fetchone())
    with _facts_lock:
        if _facts_cache["version"] == version:
            return version, _facts_cache["facts"]
    facts = tuple(ModelFacts(**facts_of(row)) for row in CatalogModel.objects.filter(enabled=True).order_by("name"))
    with _facts_lock:
        _facts_cache.update(version=version, facts=facts)
    return version, facts


def catalog_model_find(*, name: str) -> CatalogModel:
    """The enabled catalog model called `name` (any case), or the only one whose name contains it."""
    enabled = CatalogModel.objects.filter(enabled=True)
    exact = enabled.filter(name__iexact=name).first()
    if exact:
        return exact
    matches = list(enabled.filter(name__icontains=name).order_by("name")[: AMBIGUOUS_SHOWN + 1])
    if not matches:
        raise NotFound(f"model {name!r} is not in the catalog")
    if len(matches) > 1:
        shown = [match.name for match in matches[:AMBIGUOUS_SHOWN]]
        raise Invalid(f"model {name!r} matches several catalog models: give the full name", matches=shown)
    return matches[0]


def nodes_enabled() -> QuerySet[Node]:
    return Node.objects.filter(enabled=True)


def node_by_url(*, url: str) -> Node | None:
    return Node.objects.filter(Q(url=url) | Q(url=url + "/")).first()
