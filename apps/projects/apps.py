from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from apps.projects import signals  # noqa: F401  (worker start-up: the event-log pruning schedule)
