from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: jobs and API keys"

    def ready(self) -> None:
        from apps.core import processes, schema, signals  # noqa: F401  (worker start-up recovery; schema extensions)

        # A child of `serve` (the qcluster leader): its sentinel and workers die with their parent.
        processes.die_with_parent_if_asked()
