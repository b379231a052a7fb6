"""Apply the shipped catalog again: licenses from `data/licenses.json` and the newer corrections; admin edits are kept."""

from django.db import migrations


def apply_catalog(apps, schema_editor):
    from apps.nodes.catalog import catalog_apply

    catalog_apply(model_class=apps.get_model("nodes", "CatalogModel"))


class Migration(migrations.Migration):
    dependencies = [("nodes", "0006_load_llmfit_catalog")]

    operations = [migrations.RunPython(apply_catalog, migrations.RunPython.noop)]
