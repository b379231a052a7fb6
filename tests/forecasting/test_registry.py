"""The forecast model registry: seeded from the shipped registry.json, and how a pull request
(no flags, pinned, legacy two-field form) resolves to a checkpoint and a variant."""

import pytest

from apps.core.errors import Invalid, NotFound
from apps.forecasting import services
from apps.forecasting.models import ForecastCheckpoint, ForecastModel
from apps.forecasting.registry import registry_load

pytestmark = pytest.mark.django_db


def test_the_migration_seeds_every_model_and_checkpoint_of_the_shipped_registry():
    data = registry_load()
    assert sorted(ForecastModel.objects.values_list("name", flat=True)) == sorted(m["name"] for m in data["models"])
    assert ForecastCheckpoint.objects.count() == sum(len(m["checkpoints"]) for m in data["models"])
    repos = set(ForecastCheckpoint.objects.values_list("repo_id", flat=True))
    assert {"amazon/chronos-2", "autogluon/chronos-2-small", "google/timesfm-2.5-200m-pytorch"} <= repos
    assert {"Datadog/Toto-Open-Base-1.0", "amazon/chronos-bolt-tiny", "amazon/chronos-bolt-base"} <= repos
    toto2 = ForecastCheckpoint.objects.filter(model__name="toto", version="2.0")
    assert sorted(toto2.values_list("params", flat=True)) == sorted(["4m", "22m", "313m", "1b", "2.5b"])
    assert all(row.variants == ["f32"] for row in toto2)


def test_no_flags_take_the_default_version_its_smallest_params_and_f16():
    resolved = services.checkpoint_resolve(model="chronos2")
    assert (resolved.checkpoint.repo_id, resolved.variant) == ("autogluon/chronos-2-small", "f16")
    assert services.checkpoint_resolve(model="chronos-bolt").checkpoint.params == "tiny"


def test_pinned_version_params_and_variant_pick_that_checkpoint():
    resolved = services.checkpoint_resolve(model="chronos2", version="2.0", params="120m", variant="f32")
    assert (resolved.checkpoint.repo_id, resolved.variant) == ("amazon/chronos-2", "f32")
    toto1 = services.checkpoint_resolve(model="toto", version="1.0")
    assert (toto1.checkpoint.repo_id, toto1.checkpoint.family, toto1.variant) == (
        "Datadog/Toto-Open-Base-1.0",
        "toto",
        "f16",
    )


def test_toto_2_defaults_to_f32_because_it_ships_nothing_else():
    resolved = services.checkpoint_resolve(model="toto", version="2.0", params="1b")
    assert (resolved.checkpoint.repo_id, resolved.variant) == ("Datadog/Toto-2.0-1B", "f32")


def test_toto_2_in_f16_is_invalid_saying_why():
    with pytest.raises(Invalid, match="Toto 2.0 ships f32 weights only"):
        services.checkpoint_resolve(model="toto", version="2.0", params="1b", variant="f16")


def test_the_legacy_two_field_form_resolves_through_the_legacy_variants_block():
    resolved = services.checkpoint_resolve(model="toto", variant="f16")
    assert (resolved.checkpoint.version, resolved.checkpoint.params, resolved.variant) == ("1.0", "open-base", "f16")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"model": "prophet"}, "not in the registry; known models: chronos-bolt, chronos2, timesfm, toto"),
        ({"model": "chronos2", "version": "9.9"}, "has no version '9.9'; available: 2.0/28m .*2.0/120m"),
        ({"model": "chronos2", "params": "7b"}, "no parameter count '7b'; available: 2.0/28m"),
        ({"model": "timesfm", "variant": "f64"}, "no legacy variant 'f64'; legacy variants: f16, f32"),
    ],
)
def test_an_unknown_combination_is_not_found_listing_what_exists(flags, message):
    with pytest.raises(NotFound, match=message):
        services.checkpoint_resolve(**flags)


def test_a_registry_sync_keeps_rows_an_operator_added_and_restores_shipped_values():
    ForecastModel.objects.filter(name="chronos2").update(default_version="0.1")
    extra = ForecastModel.objects.create(name="my-model", default_version="1.0")
    counts = services.forecast_registry_sync()
    assert counts["models"] == 4
    assert ForecastModel.objects.get(name="chronos2").default_version == "2.0"
    assert ForecastModel.objects.filter(pk=extra.pk).exists()
