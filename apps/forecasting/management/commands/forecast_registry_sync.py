"""`manage.py forecast_registry_sync`: update the forecast model registry from the shipped
`apps/forecasting/data/registry.json` (rows added in the admin are kept)."""

from django.core.management.base import BaseCommand

from apps.forecasting import services


class Command(BaseCommand):
    help = "Create or update the forecast model registry from the shipped registry.json."

    def handle(self, *args: object, **options: object) -> None:
        counts = services.forecast_registry_sync()
        self.stdout.write(f"{counts['models']} models, {counts['checkpoints']} checkpoints in the registry")
