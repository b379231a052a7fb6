from django.apps import AppConfig


class BackendsConfig(AppConfig):
    name = "apps.backends"
    label = "backends"
    verbose_name = "Backends, pools and routing"

    def ready(self) -> None:
        from apps.backends import signals  # noqa: F401  (keeps the sync schedule in place)
