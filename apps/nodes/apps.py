from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "apps.nodes"
    label = "nodes"
    verbose_name = "Nodes: hardware and model fit"

    def ready(self) -> None:
        from apps.nodes import signals  # noqa: F401  (worker start-up: the poll schedule)
