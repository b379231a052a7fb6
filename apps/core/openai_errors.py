"""OpenAI's error object, `{"error": {"message", "type", "param", "code"}}`: the error body of every
OpenAI-compatible surface (the platform's gateway, the model runtime), whichever layer answers."""

from rest_framework import serializers

# OpenAI's error `type` by HTTP status (its clients pick the exception by status; the type names the kind).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
# OpenAI's `code` is a string or null: one by status where one fits, else null.
STATUS_CODES = {
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    429: "rate_limit_exceeded",
    500: "server_error",
    502: "backend_error",
    503: "service_unavailable",
    504: "backend_timeout",
}


def error_body(
    message: str, status: int, *, code: str | None = None, param: str | None = None, error_type: str | None = None
) -> dict:
    """OpenAI's error object for `status`: `type` and `code` from the status unless given."""
    if error_type is None:
        error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": error_type, "param": param, "code": code or STATUS_CODES.get(status)}}


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    """OpenAI's error object, `{"error": {"message", "type", "param", "code"}}`."""

    error = OpenAIErrorDetailSerializer()
