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
