"""Reads of the store that are more than a one-line queryset."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from apps.modelstore import owners
from apps.modelstore.models import LocalModel
from apps.modelstore.sources import DEFAULT_SOURCE


def local_models(*, source: str | None = None) -> QuerySet[LocalModel]:
    """Every stored model (of `source`), those apps keep for themselves included: the store's own view."""
    models = LocalModel.objects.all()
    if source:
        models = models.filter(source=source)
    return models.order_by("source", "model_id")


def inference_models(*, source: str | None = None) -> QuerySet[LocalModel]:
    """The stored models (of `source`) the inference layer may list and serve: every entry but those
    an app keeps for itself (`owners`: ML classifiers and detectors, forecasting checkpoints)."""
    return owners.owned_excluded(local_models(source=source))


def owned_models() -> QuerySet[LocalModel]:
    """The stored models an app keeps for itself (`owners`): the complement of `inference_models`."""
    condition = owners.owned_filter()
    return local_models().filter(condition) if condition is not None else LocalModel.objects.none()


def local_model_for_id(*, model_id: str, source: str | None = None) -> LocalModel | None:
    """The stored model with this id; without a source, the hub's copy first, then by source name."""
    return _preferred(LocalModel.objects.filter(model_id=model_id), source=source)


def inference_model_for_id(*, model_id: str) -> LocalModel | None:
    """`local_model_for_id` among `inference_models` only: None for an entry an app keeps for itself,
    so the runtime answers for it as for a model it never heard of."""
    return _preferred(owners.owned_excluded(LocalModel.objects.filter(model_id=model_id)), source=None)


def _preferred(models: QuerySet[LocalModel], *, source: str | None) -> LocalModel | None:
    if source:
        return models.filter(source=source).first()
    preferred = Case(When(source=DEFAULT_SOURCE, then=Value(0)), default=Value(1), output_field=IntegerField())
    return models.order_by(preferred, "source").first()
