"""Seed the forecast model registry from the shipped registry.json (`manage.py
forecast_registry_sync` applies later changes to it)."""

from django.db import migrations

from apps.forecasting.registry import registry_apply, registry_load


def seed(apps, schema_editor):
    registry_apply(
        data=registry_load(),
        model_cls=apps.get_model("forecasting", "ForecastModel"),
        checkpoint_cls=apps.get_model("forecasting", "ForecastCheckpoint"),
    )


class Migration(migrations.Migration):
    dependencies = [("forecasting", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
