"""core.migration_operations: jobs queued before a job function moved still run after the upgrade."""

import pytest
from django.apps import apps

from apps.core.migration_operations import job_funcs_moved
from apps.core.models import Job

pytestmark = pytest.mark.django_db

MOVED = {"apps.backends.downloads.pull_run": "apps.backends.tasks.pull_model"}


def test_queued_jobs_are_pointed_at_the_moved_function_and_back():
    queued = Job.objects.create(kind="backends.pull", func="apps.backends.downloads.pull_run")
    other = Job.objects.create(kind="nodes.poll", func="apps.nodes.tasks.poll_nodes")
    operation = job_funcs_moved(MOVED)

    operation.code(apps, None)
    assert Job.objects.get(pk=queued.pk).func == "apps.backends.tasks.pull_model"
    assert Job.objects.get(pk=other.pk).func == "apps.nodes.tasks.poll_nodes"

    operation.reverse_code(apps, None)
    assert Job.objects.get(pk=queued.pk).func == "apps.backends.downloads.pull_run"
