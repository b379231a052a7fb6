"""The model store's errors beyond core's: statuses its clients need to tell apart."""

from apps.core.errors import DomainError


class InsufficientStorage(DomainError):
    """The download would leave too little free space on the models disk."""

    status_code = 507


class DownloadFailed(DomainError):
    """The download ran and failed (the spec's 500)."""

    status_code = 500


class BadGateway(DomainError):
    """The model source answered with an error that is not the client's (bad token, hub error)."""

    status_code = 502
