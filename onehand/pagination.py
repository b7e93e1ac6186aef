"""Pagination with documented bounds: `limit` at most MAX_LIMIT, `offset` within 64 bits.

DRF's LimitOffsetPagination took any `limit`/`offset`, and one beyond 64 bits reached
PostgreSQL as a 500. Out-of-range values are a 400 naming the parameter.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def _bounded(self, request, name: str, maximum: int, default):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: "Must be a whole number."}) from None
        if value < 0 or value > maximum:
            raise ValidationError({name: f"Must be between 0 and {maximum}."})
        return value

    def get_limit(self, request):
        value = self._bounded(request, self.limit_query_param, MAX_LIMIT, self.default_limit)
        return value or self.default_limit

    def get_offset(self, request):
        return self._bounded(request, self.offset_query_param, MAX_OFFSET, 0)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update({"minimum": 0, "maximum": MAX_LIMIT})
            if parameter["name"] == self.offset_query_param:
                parameter["schema"].update({"minimum": 0, "maximum": MAX_OFFSET})
        return parameters
