"""`manage.py runtime_register`: the model runtime as the `local` backend of the `default` pool."""

from django.core.management.base import BaseCommand

from apps.backends.local_runtime import local_runtime_register, local_runtime_wait


class Command(BaseCommand):
    help = "Register this installation's model runtime as the `local` backend in the `default` pool."

    def handle(self, *args: object, **options: object) -> None:
        if not local_runtime_wait():
            self.stderr.write("the model runtime did not answer yet; registering it all the same")
        backend = local_runtime_register()
        self.stdout.write(f"Model runtime registered: backend {backend.name!r} at {backend.base_url}, pool 'default'.")
