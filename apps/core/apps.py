from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: jobs and API keys"

    def ready(self) -> None:
        from apps.core import schema, signals  # noqa: F401  (worker start-up recovery; schema extensions)
