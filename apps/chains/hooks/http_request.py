"""`http_request`: calls any HTTP endpoint and returns its reply (parsed when it is JSON).

args: `url` (required), `method` (GET), `headers` (object), `query` (object), `body` (a string,
or any JSON; by default POST/PUT/PATCH send the task input as JSON), `timeout` ("10s"; default:
the task's timeout, else 30 s). With MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS set, only those hosts
may be called, redirects included.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from apps.chains import values
from apps.chains.definitions import parse_duration
from apps.chains.hooks import transport
from apps.chains.hooks.base import HookCall, HookFailed, HookResult
from apps.core.errors import Invalid

DEFAULT_TIMEOUT_S = 30.0


class HttpRequestHook:
    description = "Calls args.url with args.method and returns the reply (JSON or text)."

    def run(self, call: HookCall) -> HookResult:
        args = call.args
        url = args.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise HookFailed(f"http_request needs args.url as an http:// or https:// URL, got {url!r}")
        method = str(args.get("method") or "GET").upper()
        reply = transport.send(
            what=f"http_request {method} {url}",
            method=method,
            url=url,
            timeout_s=self.timeout(call),
            headers=self.mapping(args, "headers"),
            params=self.mapping(args, "query"),
            allowed_hosts=settings.MODELYARD_CHAINS_HTTP_ALLOWED_HOSTS,
            **self.body(call, method),
        )
        if reply.is_json:
            output = reply.json("http_request")
            return HookResult(output=output, output_type=values.type_of(output))
        return HookResult(output=reply.text, output_type=values.STRING)

    @staticmethod
    def mapping(args: dict, key: str) -> dict[str, str] | None:
        try:
            value = values.loose_json(args.get(key))
        except Invalid as error:
            raise HookFailed(f"http_request args.{key}: {error.message}") from None
        if value in (None, "", {}):
            return None
        if not isinstance(value, dict):
            raise HookFailed(f"http_request args.{key} must be an object")
        return {str(name): values.as_text(item) for name, item in value.items()}

    @staticmethod
    def body(call: HookCall, method: str) -> dict[str, Any]:
        if "body" in call.args:
            body = call.args["body"]
            return {"content": body} if isinstance(body, str) else {"json_body": body}
        if method in ("POST", "PUT", "PATCH"):
            return {"json_body": call.input}
        return {}

    @staticmethod
    def timeout(call: HookCall) -> float:
        limits = [call.timeout_s] if call.timeout_s is not None else []
        if args_timeout := call.args.get("timeout"):
            try:
                limits.append(parse_duration(str(args_timeout)))
            except ValueError as error:
                raise HookFailed(f"http_request args.timeout: {error}") from None
        return min(limits) if limits else DEFAULT_TIMEOUT_S
