"""Jobs queued before the job functions moved into tasks.py run the functions' new paths."""

from django.db import migrations

from apps.core.migration_operations import job_funcs_moved


class Migration(migrations.Migration):
    dependencies = [("backends", "0002_pull_hold"), ("core", "0001_initial")]

    operations = [
        job_funcs_moved(
            {
                "apps.backends.sync.sync_run": "apps.backends.tasks.sync_run",
                "apps.backends.downloads.pull_run": "apps.backends.tasks.pull_model",
            }
        )
    ]
