"""`manage.py import_model PATH --source local --id NAME`: add a model folder already on disk."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.modelstore import services, sources
from apps.modelstore.units import human_size_binary


class Command(BaseCommand):
    help = "Add a model folder already on disk to the store (copied into MODELYARD_HOME/models/<source>/<id>)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The folder holding the model's files.")
        parser.add_argument(
            "--source", default=sources.LOCAL_SOURCE, help=f"Source label (default: {sources.LOCAL_SOURCE})."
        )
        parser.add_argument("--id", dest="model_id", required=True, help="Model id, e.g. my-org/my-model.")
        parser.add_argument("--move", action="store_true", help="Move the folder instead of copying it.")

    def handle(self, *args: object, **options: object) -> None:
        try:
            model = services.local_model_import(
                path=options["path"], source=options["source"], model_id=options["model_id"], move=options["move"]
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"imported {model.source}/{model.model_id}: {len(model.files)} files, "
            f"{human_size_binary(model.size_bytes)} in {model.path}"
        )
