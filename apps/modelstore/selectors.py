"""Reads of the store that are more than a one-line queryset."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from apps.modelstore.models import LocalModel
from apps.modelstore.sources import DEFAULT_SOURCE


def local_models(*, source: str | None = None) -> QuerySet[LocalModel]:
    models = LocalModel.objects.all()
    if source:
        models = models.filter(source=source)
    return models.order_by("source", "model_id")


def local_model_for_id(*, model_id: str, source: str | None = None) -> LocalModel | None:
    """The stored model with this id; without a source, the hub's copy first, then by source name."""
    models = LocalModel.objects.filter(model_id=model_id)
    if source:
        return models.filter(source=source).first()
    preferred = Case(When(source=DEFAULT_SOURCE, then=Value(0)), default=Value(1), output_field=IntegerField())
    return models.order_by(preferred, "source").first()
