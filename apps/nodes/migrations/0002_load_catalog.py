"""Load the shipped model catalog. Later catalog files are applied with `manage.py catalog_sync`."""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from apps.nodes.catalog import catalog_apply

    catalog_apply(model_class=apps.get_model("nodes", "CatalogModel"))


class Migration(migrations.Migration):
    dependencies = [("nodes", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
