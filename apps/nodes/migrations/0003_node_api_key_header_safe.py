import apps.core.validation
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("nodes", "0002_load_catalog"),
    ]

    operations = [
        migrations.AlterField(
            model_name="node",
            name="api_key",
            field=models.CharField(
                blank=True,
                help_text="Sent as a bearer token when polling: printable ASCII.",
                max_length=200,
                validators=[apps.core.validation.header_value_validate],
            ),
        ),
    ]
