"""Model sources: a registry of dotted paths, imported when first used.

Adding a source is adding a module with a class that follows `base.ModelSource` and a line here.
"""

from django.utils.module_loading import import_string

from apps.core.errors import Invalid
from apps.modelstore.sources.base import ModelSource

SOURCES = {
    "huggingface": "apps.modelstore.sources.huggingface.HuggingFaceSource",
}

DEFAULT_SOURCE = "huggingface"
# The source of folders added with `manage.py import_model` (its default): stored, never downloaded.
LOCAL_SOURCE = "local"


def source_names() -> list[str]:
    return sorted(SOURCES)


def source_get(name: str) -> ModelSource:
    """The source called `name`; Invalid (400) for an unknown one."""
    dotted = SOURCES.get(name)
    if dotted is None:
        raise Invalid(f"unknown source {name!r}; available: {', '.join(source_names())}")
    return import_string(dotted)()
