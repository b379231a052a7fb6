from apps.modelstore.models import LocalModel


class RuntimeModel(LocalModel):
    """The store's models as the model runtime sees them (a proxy: no table of its own), for the
    admin page that shows which are loaded, their memory and last use, and unloads them."""

    class Meta:
        proxy = True
        verbose_name = "runtime model"
