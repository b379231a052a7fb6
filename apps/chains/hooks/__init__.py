"""Hooks a chain can run: the built-in local hooks registered here, and remote hooks (RemoteHook rows).

Adding a local hook is adding a module with a class that implements `base.LocalHook` and a line
below. A local hook's name wins over a remote hook's; remote hooks cannot take a built-in's name.
"""

from functools import cache

from apps.chains.hooks.base import HookCall, HookFailed, HookResult, LocalHook
from apps.core.registry import Registry

LOCAL_HOOKS: Registry[type[LocalHook]] = Registry(
    "hook",
    {
        "echo": "apps.chains.hooks.echo.EchoHook",
        "http_request": "apps.chains.hooks.http_request.HttpRequestHook",
    },
)

__all__ = ["LOCAL_HOOKS", "HookCall", "HookFailed", "HookResult", "LocalHook", "local_hook"]


@cache
def local_hook(name: str) -> LocalHook:
    """The built-in hook `name` (one instance per process); Invalid naming the valid ones when unknown."""
    return LOCAL_HOOKS.get(name)()
