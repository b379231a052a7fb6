"""Validating a request's input: the one way every view does it, and the checks every surface shares."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, models
from rest_framework import serializers

from apps.core.errors import Invalid


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """`data` (a body or query parameters) checked by `serializer_class`; invalid input raises the
    ValidationError that the surface's error handler turns into its 400/422 body."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def model_fields_check(instance: models.Model) -> None:
    """Raise Invalid naming each field of `instance` that its column would refuse (too long, out of
    range, failing the field's validators): what a service checks before it saves a row built from
    a caller's values, so that a bad value is a 400 and leaves nothing half-written."""
    try:
        instance.clean_fields()
    except DjangoValidationError as error:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
        raise Invalid(f"invalid {instance._meta.verbose_name}: {problems}") from None


# --- integers: every one a client sends has both bounds ------------------------------------------


def column_range(internal_type: str) -> tuple[int, int]:
    """The values a column of this Django field type (`"IntegerField"`, `"BigIntegerField"`,
    `"PositiveIntegerField"`…) holds on our database."""
    return connection.ops.integer_field_range(internal_type)


INT32_MIN, INT32_MAX = column_range("IntegerField")
INT64_MIN, INT64_MAX = column_range("BigIntegerField")


class BoundedIntegerField(serializers.IntegerField):
    """An integer input that always has both bounds, so that a value past them is the surface's
    validation error rather than a DataError from the database or an OverflowError from date and
    time arithmetic.

    Unless told otherwise the bounds are those of a PostgreSQL `integer` column, where Django's
    IntegerField and PositiveIntegerField land; a value for a `bigint` column says
    `max_value=INT64_MAX`, and one used in date arithmetic states its own sane maximum.
    `tests/core/test_input_limits.py` fails for any integer input in the OpenAPI schema without both bounds.
    """

    def __init__(self, *, min_value: int | None = None, max_value: int | None = None, **kwargs: Any) -> None:
        super().__init__(
            min_value=INT32_MIN if min_value is None else min_value,
            max_value=INT32_MAX if max_value is None else max_value,
            **kwargs,
        )


# --- strict JSON fields: a value of the wrong JSON type is an error, never converted -------------------
# (`"temperature": "0.5"`, `"texts": [1, 2]`, `"overwrite": "yes"`), as OpenAI's API checks them; used by
# the gateway and the ML API, where a conversion would hide a client's mistake.


def json_type(value: Any) -> str:
    """`value`'s JSON type as OpenAI names it in its errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def type_error(expected: str, value: Any) -> serializers.ValidationError:
    return serializers.ValidationError(f"expected {expected}, but got {json_type(value)} instead", code="invalid_type")


class StringField(serializers.CharField):
    """A JSON string, kept as sent (no trimming); a number is refused, not converted."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise type_error("a string", data)
        return super().to_internal_value(data)


class NumberField(serializers.FloatField):
    """A JSON number; a string or a boolean is refused."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise type_error("a number", data)
        return super().to_internal_value(data)


class IntegerField(BoundedIntegerField):
    """A JSON integer within bounds; a decimal, string or boolean is refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise type_error("an integer", data)
        return super().to_internal_value(data)


class BooleanField(serializers.BooleanField):
    """A JSON boolean; "true" or 1 is refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise type_error("a boolean", data)
        return data


class ObjectField(serializers.DictField):
    """A JSON object, kept as sent (a JSON schema, tool parameters)."""

    default_error_messages = {"not_a_dict": "expected an object, but got {input_type} instead"}

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise type_error("an object", data)
        return data


class ClosedSerializer(serializers.Serializer):
    """A request body that refuses keys it does not declare, each a field error naming what the
    request takes: a typo (`"treshold"`) would otherwise be ignored and the default used silently."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                takes = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key: [f"unknown field; this request takes {takes}"] for key in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


# --- values sent on as HTTP header values ------------------------------------------------------------


def header_value_validate(value: str) -> str:
    """`value`, if it can be sent as an HTTP header value (an API key sent as a bearer token).

    Printable ASCII only: httpx encodes header values as ASCII, and a control character (a line
    break) would end the header. Raises Django's ValidationError, so it serves as a model field's,
    a form's and (wrapped by DRF) a serializer field's validator alike.
    """
    if not all(" " <= char <= "~" for char in value):
        raise DjangoValidationError(
            "must be printable ASCII (it is sent as an HTTP header value)", code="not_header_safe"
        )
    return value
