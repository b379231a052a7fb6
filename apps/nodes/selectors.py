"""Reads of the nodes app that are more than a one-line queryset."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.core.errors import Invalid, NotFound
from apps.nodes.catalog import facts_of
from apps.nodes.models import CatalogModel, Node
from apps.nodes.scoring import ModelFacts

AMBIGUOUS_SHOWN = 10


def catalog_facts() -> list[ModelFacts]:
    """Every enabled catalog model, ready to score."""
    return [ModelFacts(**facts_of(row)) for row in CatalogModel.objects.filter(enabled=True)]


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
