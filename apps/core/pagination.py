"""The one pagination of list endpoints that the specs do not shape themselves."""

from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from apps.core.validation import INT64_MAX

MAX_PAGE_SIZE = 1000


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's `?limit=&offset=`, with both bounded: a limit past MAX_PAGE_SIZE is cut to it (the
    database cannot take a LIMIT past a bigint), an offset past the bigint range is read as the end."""

    max_limit = MAX_PAGE_SIZE

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), INT64_MAX)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": INT64_MAX},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
