"""Registries of pluggable implementations: names mapped to dotted paths, imported when first used.

Provider adapters, model sources, chain hooks (and next: parsers, chunkers, embedders, retrievers,
forecasters, OCR engines) are each one module per implementation and one `Registry`:

    PROVIDERS = Registry("provider", {
        "ollama": "apps.backends.providers.ollama.OllamaProvider",
        "openai": "apps.backends.providers.openai.OpenAIProvider",
    })
    PROVIDERS.check("tgi")        # Invalid (400): "unknown provider 'tgi': use one of ollama, openai"
    PROVIDERS.get("ollama")       # the class, imported now (heavy imports stay out of the web server)
    PROVIDERS.names()             # ("ollama", "openai"): for validation and OpenAPI enums

Adding an implementation is adding a module and a line.
"""

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from django.utils.module_loading import import_string

from apps.core.errors import Invalid

T = TypeVar("T")


class Registry(Generic[T]):
    """Named implementations of one kind (`kind` names it in error messages), loaded lazily."""

    def __init__(self, kind: str, paths: Mapping[str, str]) -> None:
        self.kind = kind
        self._paths = dict(paths)
        self._loaded: dict[str, T] = {}

    def names(self) -> tuple[str, ...]:
        """The registered names, sorted: for validation, choices and OpenAPI enums."""
        return tuple(sorted(self._paths))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def check(self, name: Any) -> str:
        """`name` when it is registered; otherwise Invalid (400) listing the valid names."""
        if name not in self:
            raise Invalid(self.unknown_message(name))
        return name

    def unknown_message(self, name: Any) -> str:
        """The one message for an unknown name (serializers reuse it for their field errors)."""
        return f"unknown {self.kind} {name!r}: use one of {', '.join(self.names())}"

    def get(self, name: Any) -> T:
        """The implementation registered as `name` (a class or a function), imported on first use."""
        self.check(name)
        if name not in self._loaded:
            self._loaded[name] = import_string(self._paths[name])
        return self._loaded[name]

    def dotted_path(self, name: Any) -> str:
        """Where `name` lives, without importing it."""
        return self._paths[self.check(name)]
