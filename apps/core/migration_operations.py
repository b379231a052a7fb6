"""Operations that apps' migrations share."""

from django.db import migrations


def job_funcs_moved(moved: dict[str, str]) -> migrations.RunPython:
    """Point the `core.Job` rows that name a moved job function (old dotted path → new) at its new
    path, so jobs queued before an upgrade still run after it. Reversible."""

    def rename(apps: object, direction: dict[str, str]) -> None:
        Job = apps.get_model("core", "Job")  # noqa: N806  (a model class)
        for old, new in direction.items():
            Job.objects.filter(func=old).update(func=new)

    return migrations.RunPython(
        lambda apps, schema_editor: rename(apps, moved),
        lambda apps, schema_editor: rename(apps, {new: old for old, new in moved.items()}),
    )
