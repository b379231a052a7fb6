"""A task's model call: routed by the backends app (pools, failover), over the task's choice of
models and provider types, tried in order."""

from apps.backends import services as backends
from apps.backends.providers.base import ChatResult
from apps.chains.definitions import ExecuteConfig
from apps.chains.errors import TaskFailed
from apps.core.errors import DomainError


def model_chat(*, config: ExecuteConfig, models: tuple[str, ...], messages: list[dict]) -> ChatResult:
    """The first answer among `models` × `config.providers` (any backend type when none is named).

    A model no backend serves, or whose backends all fail, moves on to the next; when every one
    failed the task fails with all the reasons.
    """
    options = {} if config.temperature is None else {"temperature": config.temperature}
    failures = []
    for model in models:
        for backend_type in config.providers or ("",):
            try:
                result, _backend = backends.model_chat(
                    model=model, messages=messages, options=options, backend_type=backend_type
                )
            except DomainError as error:
                where = f"{model} on {backend_type}" if backend_type else model
                failures.append(f"{where}: {error.message}")
                continue
            return result
    raise TaskFailed("model call failed: " + "; ".join(failures))
