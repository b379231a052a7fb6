"""The registry of store entries an app keeps for itself (`modelstore.owners`): what the ML and the
forecasting apps declare, and declarations that are refused at start-up rather than on a request."""

import pytest

from apps.forecasting.models import InstalledForecastModel
from apps.modelstore import owners, selectors

pytestmark = pytest.mark.django_db


def test_the_ml_source_and_the_installed_forecast_models_are_declared_at_start_up():
    declared = {owner.name: owner for owner in owners.owners_registered()}

    assert declared["ml"].sources == frozenset({"ml"}) and declared["ml"].table == ""
    assert declared["forecasting"].table == "forecasting.InstalledForecastModel"
    assert "ml" in owners.owned_sources()


def test_inference_models_leave_out_every_owned_entry_and_the_store_keeps_them(stored):
    stored("classifier/spam", source="ml")
    stored("amazon/chronos-bolt-tiny", source="huggingface")
    stored("amazon/chronos-bolt-tiny", source="local")  # the same id, not the forecasting app's
    stored("acme/embedder")
    InstalledForecastModel.objects.create(
        name="chronos-bolt-tiny", family="chronos-bolt", source="huggingface", model_id="amazon/chronos-bolt-tiny"
    )

    kept = [(model.source, model.model_id) for model in selectors.inference_models()]
    every = [(model.source, model.model_id) for model in selectors.local_models()]

    assert kept == [("local", "acme/embedder"), ("local", "amazon/chronos-bolt-tiny")]
    assert len(every) == 4
    assert selectors.inference_model_for_id(model_id="classifier/spam") is None
    assert selectors.inference_model_for_id(model_id="amazon/chronos-bolt-tiny").source == "local"
    assert selectors.local_model_for_id(model_id="amazon/chronos-bolt-tiny").source == "huggingface"


def test_a_declaration_that_claims_nothing_is_refused():
    with pytest.raises(ValueError, match="claims nothing"):
        owners.owner_register(name="empty")

    assert "empty" not in {owner.name for owner in owners.owners_registered()}


def test_a_table_without_source_and_model_id_fields_is_refused():
    with pytest.raises(ValueError, match="has no model_id, source field"):
        owners.owner_register(name="jobs", table="core.Job")
    with pytest.raises(LookupError):
        owners.owner_register(name="nowhere", table="forecasting.NoSuchModel")

    assert {"jobs", "nowhere"}.isdisjoint(owner.name for owner in owners.owners_registered())
