"""Names of saved ML models: what a client may call a model, and the spec's versioning.

A name becomes a folder of the store (`MODELYARD_HOME/models/ml/<kind>/<name>/`), so it is checked
before any path is built from it: letters, digits, `_`, `-` and `.`, starting with a letter or
digit, ending with a letter, digit or `_`, at most NAME_MAX characters, no `..` and no `--` (the
store's own id rules), hence never a path separator, never `.` or `..`, never a hidden name.

Versioning (specs/projects-rag-api.txt, "Model Versioning"): `overwrite: false` (the default)
saves `name_YYYYMMDD_HHMMSS` (UTC); `name-latest` names the newest saved version of `name`
(or `name` itself, saved with `overwrite: true`, when it is newer); fit never takes a `-latest` name.
"""

import re
from datetime import datetime

from apps.core.errors import Invalid

NAME_MAX = 80  # + "_YYYYMMDD_HHMMSS" stays within the store's 96 characters per id part
NAME_PATTERN = re.compile(rf"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{{0,{NAME_MAX - 2}}}[A-Za-z0-9_])?$")
NAME_RULES = (
    f"letters, digits, '_', '-' and '.', at most {NAME_MAX} characters, starting with a letter or digit, "
    "ending with a letter, digit or '_', no '..' or '--'"
)
LATEST_SUFFIX = "-latest"
VERSION_FORMAT = "%Y%m%d_%H%M%S"
VERSION_PATTERN = re.compile(r"^(?P<base>.+)_(?P<stamp>\d{8}_\d{6})$")
BASE_NAME_MAX = NAME_MAX - len("_YYYYMMDD_HHMMSS")


def name_check(name: str) -> str:
    """`name` unchanged when it is a valid model name; Invalid (400) otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name or "--" in name:
        raise Invalid(f"invalid model name {name!r}: use {NAME_RULES}")
    return name


def fit_name_check(name: str, *, versioned: bool = True) -> str:
    """A name a fit may create: valid, not a `-latest` alias (which only ever names existing models)
    and, when the fit adds a version (`versioned`), short enough for `name_YYYYMMDD_HHMMSS`."""
    name_check(name)
    if name.endswith(LATEST_SUFFIX):
        raise Invalid(
            f"model name {name!r} ends in {LATEST_SUFFIX!r}, which only resolves saved models; "
            "fit with the base name instead"
        )
    if versioned and len(name) > BASE_NAME_MAX:
        raise Invalid(
            f"model name {name!r} has {len(name)} characters; at most {BASE_NAME_MAX}, as the fit adds "
            f"the version _YYYYMMDD_HHMMSS ({NAME_MAX} with overwrite, which adds none)"
        )
    return name


def versioned_name(base: str, *, moment: datetime) -> str:
    """`base_YYYYMMDD_HHMMSS` for `moment` (UTC)."""
    return f"{base}_{moment.strftime(VERSION_FORMAT)}"


def latest_base(name: str) -> str | None:
    """The base name a `-latest` alias names (`intent-latest` → `intent`); None for any other name."""
    if name.endswith(LATEST_SUFFIX) and len(name) > len(LATEST_SUFFIX):
        return name[: -len(LATEST_SUFFIX)]
    return None


def version_of(name: str, *, base: str) -> str | None:
    """The `YYYYMMDD_HHMMSS` stamp when `name` is a version of `base`, "" when `name` is `base`
    itself (saved with overwrite), None when it belongs to another base."""
    if name == base:
        return ""
    match = VERSION_PATTERN.match(name)
    if match and match["base"] == base:
        return match["stamp"]
    return None
