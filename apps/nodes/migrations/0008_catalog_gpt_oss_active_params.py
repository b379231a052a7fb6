"""Apply the shipped catalog again: gpt-oss-120b's active parameters (5.1 B) corrected; admin edits are kept."""

from django.db import migrations


def apply_catalog(apps, schema_editor):
    from apps.nodes.catalog import catalog_apply

    catalog_apply(model_class=apps.get_model("nodes", "CatalogModel"))


class Migration(migrations.Migration):
    dependencies = [("nodes", "0007_catalog_licenses_and_corrections")]

    operations = [migrations.RunPython(apply_catalog, migrations.RunPython.noop)]
