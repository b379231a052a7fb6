"""Store entries an app keeps for itself: in the store, but not models the inference layer serves.

The ML app saves its SetFit classifiers and anomaly detectors as store entries (source `ml`), and
the forecasting app pulls and fine-tunes its checkpoints into the store, so that the store's API,
admin, status and clean manage their files. They are no models of the model runtime: a SetFit
folder even carries `modules.json` and would load as a sentence-transformers embedder, and a
forecasting checkpoint belongs to the forecast surface. So the runtime (`GET /v1/models`, model
resolution), the backends (local runtime declarations, routing), the gateway and the models cache
see the store through `selectors.inference_models`, which leaves them out; the store's own API
keeps listing every entry.

The owning apps sit on higher floors than the store, which cannot import them; each declares its
entries here from its `AppConfig.ready()`, by a whole source (`ml`) or by a table of its own whose
rows name the entries they use by `source` and `model_id` (`forecasting.InstalledForecastModel`).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from apps.modelstore.models import LocalModel


@dataclass(frozen=True)
class Owner:
    """An app's claim on store entries: every entry of `sources`, and every entry a row of `table`
    (a model label, `app_label.ModelName`, with `source` and `model_id` fields) names."""

    name: str
    sources: frozenset[str]
    table: str
    served_by: str = ""  # where a client uses these entries instead ("the ML API (POST /v1/ml/…)")


_owners: dict[str, Owner] = {}


def owner_register(*, name: str, sources: Iterable[str] = (), table: str = "", served_by: str = "") -> Owner:
    """Declare the store entries app `name` keeps for itself (call it from the app's `ready()`).

    Registering a name again replaces its claim. Raises ValueError when neither `sources` nor
    `table` is given, LookupError for an unknown model label, and ValueError when that model has no
    `source` or `model_id` field, so a wrong declaration fails at start-up, not on a request.
    """
    if not sources and not table:
        raise ValueError(f"owner {name!r} claims nothing: give sources, a table, or both")
    if table:
        fields = {field.name for field in _table_model(table)._meta.get_fields()}
        missing = {"source", "model_id"} - fields
        if missing:
            raise ValueError(f"{table} cannot name store entries: it has no {', '.join(sorted(missing))} field")
    owner = Owner(name=name, sources=frozenset(sources), table=table, served_by=served_by)
    _owners[name] = owner
    return owner


def owners_registered() -> list[Owner]:
    """The claims declared so far, by owner name."""
    return [_owners[name] for name in sorted(_owners)]


def owned_sources() -> frozenset[str]:
    """The sources whose every entry some app keeps for itself (`ml`)."""
    return frozenset(source for owner in _owners.values() for source in owner.sources)


def owned_filter() -> Q | None:
    """A filter on `LocalModel` rows matching every entry some app keeps for itself; None when no
    app claims any. One query whatever the number of claims: table claims are `EXISTS` subqueries."""
    condition: Q | None = None
    for owner in owners_registered():
        parts = [Q(source__in=sorted(owner.sources))] if owner.sources else []
        if owner.table:
            rows = _table_model(owner.table).objects.filter(source=OuterRef("source"), model_id=OuterRef("model_id"))
            parts.append(Q(Exists(rows)))
        for part in parts:
            condition = part if condition is None else condition | part
    return condition


def owned_ids() -> dict[str, str]:
    """Every entry some app keeps for itself: model id → a sentence saying what it is and where it is
    used, for the runtime's and the gateway's "not found" answers (only ever looked up once a name
    is found nowhere else). Each is also listed under its id's last part, the name its app shows
    (`classifier/intents_20250101_120000` as `intents_20250101_120000`)."""
    found: dict[str, str] = {}
    for owner in owners_registered():
        claim = Q(source__in=sorted(owner.sources)) if owner.sources else Q()
        if owner.table:
            rows = _table_model(owner.table).objects.filter(source=OuterRef("source"), model_id=OuterRef("model_id"))
            claim = claim | Q(Exists(rows)) if owner.sources else Q(Exists(rows))
        where = f", used through {owner.served_by}" if owner.served_by else ""
        for model_id in LocalModel.objects.filter(claim).values_list("model_id", flat=True):
            note = f"a model-store entry of the {owner.name} app{where}"
            found.setdefault(model_id, note)
            found.setdefault(model_id.rsplit("/", 1)[-1], note)
    return found


def owned_excluded(models: QuerySet) -> QuerySet:
    """`models` (a `LocalModel` queryset, or one of its proxies) without the entries apps keep for themselves."""
    condition = owned_filter()
    return models if condition is None else models.exclude(condition)


def _table_model(label: str) -> type[Model]:
    return apps.get_model(label)
