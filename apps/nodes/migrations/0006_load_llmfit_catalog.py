"""Apply the catalog built on llmfit's database (1,800+ models) with the new facts; admin edits are kept."""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from apps.nodes.catalog import catalog_apply

    catalog_apply(model_class=apps.get_model("nodes", "CatalogModel"))


class Migration(migrations.Migration):
    dependencies = [("nodes", "0005_catalog_llmfit_facts")]

    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
