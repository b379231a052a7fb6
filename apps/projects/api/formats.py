"""YAML in and out, so that a project's config round-trips as `llamafarm.yaml`.

`application/yaml` is the registered type (RFC 9512); `application/x-yaml` is what older clients send.
A YAML body must be plain JSON data: dates stay strings (no timestamp resolution), and tags that
make other types (`!!binary`, `!!set`) or non-finite numbers are a parse error, since the config is
stored as JSON. Either is answered as invalid input (`{"detail": [{"type": "yaml_invalid", "loc": ["body"], ...}]}`,
422), not as core's "JSON decode error".
"""

import json
from typing import Any

import yaml
from rest_framework import parsers, renderers
from rest_framework.exceptions import ValidationError

from apps.core.parsers import json_body_check
from apps.projects.config import config_to_yaml

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class JSONDataLoader(yaml.SafeLoader):
    """PyYAML's safe loader without timestamp resolution: `2024-05-01` stays the string it is in JSON."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class YAMLParser(parsers.BaseParser):
    """A YAML body of plain JSON data, held to the same depth limit as JSON bodies."""

    media_type = "application/yaml"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            data = yaml.load(stream.read().decode(encoding), Loader=JSONDataLoader)  # noqa: S506 (a safe loader)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ValidationError([f"YAML parse error: {error}"], code="yaml_invalid") from None
        try:
            json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValidationError([f"YAML body must be plain JSON data: {error}"], code="yaml_invalid") from None
        return json_body_check(data)


class LegacyYAMLParser(YAMLParser):
    media_type = "application/x-yaml"


class YAMLRenderer(renderers.BaseRenderer):
    """Data as block-style YAML, keys in their given order."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return b"" if data is None else config_to_yaml(data).encode()


class LegacyYAMLRenderer(YAMLRenderer):
    media_type = "application/x-yaml"
    format = "x-yaml"
