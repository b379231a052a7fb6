"""`manage.py forecast_pull NAME [--model-version V] [--params P] [--variant f16|f32] [--wait]`: pull a
forecast model from the registry into the store (what `POST /api/pull` does), the command the
forecast API's "not found" errors point to."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import jobs
from apps.core.errors import DomainError
from apps.core.models import Job
from apps.forecasting import services


class Command(BaseCommand):
    help = "Pull a forecast model (chronos2, chronos-bolt, timesfm, toto) into the model store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model")
        # Not `--version`: Django gives every command that option (its own version).
        parser.add_argument("--model-version", help="Registry version (e.g. 2.0); default: the model's latest.")
        parser.add_argument("--params", help="Parameter-count label (e.g. 28m); default: the version's smallest.")
        parser.add_argument("--variant", choices=["f16", "f32"])
        parser.add_argument("--wait", action="store_true", help="Wait until the download ends (a worker runs it).")

    def handle(self, *args: object, **options: object) -> None:
        try:
            installed = services.model_pull(
                model=str(options["model"]),
                version=options["model_version"],
                params=options["params"],
                variant=options["variant"],
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        if installed.job is None:
            self.stdout.write(f"{installed.name}: already in the store")
            return
        self.stdout.write(f"{installed.name}: download started (job {installed.job.id})")
        if options["wait"]:
            job = jobs.job_wait(job_id=str(installed.job.id))
            if job.state != Job.State.SUCCESS:
                raise CommandError(f"download of {installed.name} ended {job.state}: {job.error}")
            self.stdout.write(f"{installed.name}: ready")
