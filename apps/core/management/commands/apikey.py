"""`manage.py apikey create|list|revoke|delete`: API keys from the shell."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import services
from apps.core.errors import DomainError
from apps.core.models import ApiKey


class Command(BaseCommand):
    help = "Create, list, revoke or delete API keys. A new key is printed once and never again."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it.")
        create.add_argument("--name", required=True)
        actions.add_parser("list", help="List keys (names and prefixes only).")
        revoke = actions.add_parser("revoke", help="Revoke a key.")
        revoke.add_argument("--name", required=True)
        delete = actions.add_parser("delete", help="Delete a revoked key, so that its name can be used again.")
        delete.add_argument("--name", required=True)

    def handle(self, *args: object, action: str, **options: object) -> None:
        try:
            if action == "create":
                key, raw_key = services.api_key_create(name=str(options["name"]))
                self.stderr.write(f"Created API key {key.name!r}. Copy it now, it is not shown again:")
                self.stdout.write(raw_key)
            elif action == "revoke":
                key = services.api_key_revoke(name=str(options["name"]))
                self.stdout.write(f"Revoked API key {key.name!r}.")
                warning = services.api_keys_left_warning()
                if warning:
                    self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
            elif action == "delete":
                services.api_key_delete(name=str(options["name"]))
                self.stdout.write(f"Deleted API key {options['name']!r}.")
            else:
                keys = list(ApiKey.objects.all())
                if not keys:
                    self.stdout.write("no API keys")
                for key in keys:
                    state = "active" if key.is_active else "revoked"
                    used = key.last_used_at.isoformat() if key.last_used_at else "never"
                    self.stdout.write(f"{key.name}\t{key.prefix}…\t{state}\tlast used {used}")
        except DomainError as error:
            raise CommandError(error.message) from None
