"""Domain errors. Services raise these; one handler per surface renders the spec's body."""


class DomainError(Exception):
    """An error a client can act on, with the HTTP status it maps to."""

    status_code = 400

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class Invalid(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unprocessable(DomainError):
    status_code = 422


class Unavailable(DomainError):
    status_code = 503
