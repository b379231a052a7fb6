from django.apps import AppConfig


class ModelstoreConfig(AppConfig):
    name = "apps.modelstore"
    label = "modelstore"
    verbose_name = "Model store"
