from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "apps.forecasting"
    label = "forecasting"
    verbose_name = "Forecasting"

    def ready(self) -> None:
        # Pulled and fine-tuned checkpoints are store entries of the forecast surface, never runtime models.
        from apps.modelstore.owners import owner_register

        owner_register(
            name="forecasting",
            table="forecasting.InstalledForecastModel",
            served_by="the forecast API on its own port (POST /api/forecast)",
        )
