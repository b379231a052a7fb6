"""The router every app's `api/urls.py` uses."""

from rest_framework.routers import SimpleRouter


class ApiRouter(SimpleRouter):
    """Routes that answer with and without a trailing slash: the specs write `/backends`,
    existing clients sometimes add a slash, and a redirect would drop a POST body."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
