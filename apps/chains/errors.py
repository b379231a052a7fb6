"""Why a task did not produce an output. The engine retries it, jumps to `on_failure`, or stops."""


class TaskFailed(Exception):
    """One run of a task failed. `retryable=False` when running it again cannot help (a template
    that names a missing value, a prompt over the token limit, `raise_error`)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
