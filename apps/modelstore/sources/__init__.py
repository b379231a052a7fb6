"""Model sources: a registry of dotted paths, imported when first used.

Adding a source is adding a module with a class that follows `base.ModelSource` and a line here.
"""

from apps.core.registry import Registry
from apps.modelstore.sources.base import ModelSource

SOURCES: Registry[type[ModelSource]] = Registry(
    "source",
    {
        "huggingface": "apps.modelstore.sources.huggingface.HuggingFaceSource",
    },
)

DEFAULT_SOURCE = "huggingface"
# The source of folders added with `manage.py import_model` (its default): stored, never downloaded.
LOCAL_SOURCE = "local"


def source_get(name: str) -> ModelSource:
    """A client of the source called `name`; Invalid (400) naming the valid ones for an unknown one."""
    return SOURCES.get(name)()
