from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "apps.ml"
    label = "ml"
    verbose_name = "Classic ML"

    def ready(self) -> None:
        # Saved classifiers and detectors are store entries (source `ml`), never runtime or gateway models.
        from apps.ml.storage import SOURCE
        from apps.modelstore.owners import owner_register

        owner_register(
            name="ml",
            sources=[SOURCE],
            served_by="the ML API (/v1/ml/classifier/… or /v1/ml/anomaly/…)",
        )
