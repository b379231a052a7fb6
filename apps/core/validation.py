"""Validating a request's input with a serializer, the one way every view does it."""

from typing import Any

from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """`data` (a body or query parameters) checked by `serializer_class`; invalid input raises the
    ValidationError that the surface's error handler turns into its 400/422 body."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
