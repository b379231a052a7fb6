"""`manage.py nodes_catalog_sync [--file PATH]`: apply a (newer) model catalog file, keeping admin edits."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.nodes import services


class Command(BaseCommand):
    help = "Create and update catalog models from a catalog file; fields edited in the admin are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, default=None, help="Catalog JSON (default: the shipped one).")

    def handle(self, *args: object, **options: object) -> None:
        try:
            report = services.catalog_sync(path=options["file"])
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
