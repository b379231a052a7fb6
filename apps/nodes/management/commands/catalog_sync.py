"""`manage.py catalog_sync [--file PATH | --source huggingface [IDs…]]`: update the model catalog, keeping admin edits.

- no option: apply the shipped catalog (llmfit's database, Modelyard's corrections and own entries);
- `--file PATH`: apply a catalog file (Modelyard's format or an llmfit database);
- `--source huggingface IDs…`: read each model's config.json and safetensors metadata from the hub the
  model store reads (MODELYARD_HF_ENDPOINT, e.g. a Modelyard mirror) and add or update its row;
  without IDs, refresh the rows an earlier hub sync added.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.nodes import services

SOURCES = ("huggingface",)


class Command(BaseCommand):
    help = "Create and update catalog models from the shipped catalog, a file or a hub; admin edits are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", help="Hub model ids (with --source).")
        parser.add_argument("--file", type=Path, default=None, help="Catalog JSON (default: the shipped catalog).")
        parser.add_argument("--source", default=None, help=f"Read models from a hub: {', '.join(SOURCES)}.")

    def handle(self, *args: object, **options: object) -> None:
        ids, source, path = list(options["ids"]), options["source"], options["file"]
        if source is not None and source not in SOURCES:
            raise CommandError(f"unknown source {source!r}: use {', '.join(SOURCES)}")
        if ids and source is None:
            raise CommandError("model ids need --source huggingface")
        if source and path:
            raise CommandError("give either --file or --source, not both")
        try:
            report = services.catalog_sync_hub(model_ids=ids) if source else services.catalog_sync(path=path)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
