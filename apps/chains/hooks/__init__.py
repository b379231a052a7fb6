"""Hooks a chain can run: the built-in local hooks registered here, and remote hooks (RemoteHook rows).

Adding a local hook is adding a module with a class that implements `base.LocalHook` and a line
below. A local hook's name wins over a remote hook's; remote hooks cannot take a built-in's name.
"""

from functools import cache

from django.utils.module_loading import import_string

from apps.chains.hooks.base import HookCall, HookFailed, HookResult, LocalHook

LOCAL_HOOKS = {
    "echo": "apps.chains.hooks.echo.EchoHook",
    "http_request": "apps.chains.hooks.http_request.HttpRequestHook",
}

__all__ = ["LOCAL_HOOKS", "HookCall", "HookFailed", "HookResult", "LocalHook", "local_hook", "local_hook_names"]


def local_hook_names() -> list[str]:
    return sorted(LOCAL_HOOKS)


@cache
def local_hook(name: str) -> LocalHook:
    return import_string(LOCAL_HOOKS[name])()
