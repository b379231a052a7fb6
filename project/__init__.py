"""Modelyard: a self-hosted platform for teams that run models in-house."""

__version__ = "0.1.0"

# Exit status when the environment holds a setting that cannot be used (as for a command-line usage error).
SETTINGS_ERROR_EXIT_STATUS = 2


def load_settings_or_exit() -> None:
    """Load the settings now; a bad setting ends the process with one line on stderr and status 2.

    `project.settings` raises ImproperlyConfigured with a message naming the variable and what is
    wrong with it; a traceback through settings.py would only bury that line."""
    import os
    import sys

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    try:
        settings.INSTALLED_APPS  # noqa: B018 (the access loads the settings module)
    except ImproperlyConfigured as error:
        print(f"modelyard: configuration error: {error}", file=sys.stderr)
        raise SystemExit(SETTINGS_ERROR_EXIT_STATUS) from None
