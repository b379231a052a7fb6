"""Chain runs queued before the job function moved into tasks.py run its new path."""

from django.db import migrations

from apps.core.migration_operations import job_funcs_moved


class Migration(migrations.Migration):
    dependencies = [("chains", "0001_initial"), ("core", "0001_initial")]

    operations = [job_funcs_moved({"apps.chains.runs.chain_run_job": "apps.chains.tasks.chain_run"})]
