"""`manage.py rescan_models`: bring the rows back in line with the files after changes by hand."""

from django.core.management.base import BaseCommand

from apps.modelstore import services


class Command(BaseCommand):
    help = "Rescan the store: drop models whose folder is gone, refresh those whose files changed."

    def handle(self, *args: object, **options: object) -> None:
        changes = services.store_sync()
        for name in changes["removed"]:
            self.stdout.write(f"removed {name} (its folder is gone)")
        for name in changes["refreshed"]:
            self.stdout.write(f"refreshed {name}")
        self.stdout.write(f"{len(changes['removed'])} removed, {len(changes['refreshed'])} refreshed")
