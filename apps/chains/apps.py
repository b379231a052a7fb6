from django.apps import AppConfig


class ChainsConfig(AppConfig):
    name = "apps.chains"
    label = "chains"
    verbose_name = "Task chains and remote hooks"
