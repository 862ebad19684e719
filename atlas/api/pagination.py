"""DRF's page-number pagination, strict: a bad `page` or `page_size` is a 400.

DRF's own class silently falls back to defaults for malformed values; here they are 400s with
field-keyed messages (both at once when both are bad), and a page past the last one is a 404
naming the last page. Everything else (the answer's `count`/`next`/`previous`/`results`, the
links, the schema) is DRF's. The views order by a unique key last, so walking `next` visits
every item exactly once.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination

from atlas.api.filters import QueryIntegerField

MAX_PAGE = 1_000_000


class AtlasPagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    page_query_description = "Page number, from 1; a page past the last one is a 404."
    page_size_query_description = f"Items per page (1-{max_page_size}, default {page_size})."
    query_params = ("page", "page_size")

    def paginate_queryset(self, queryset, request, view=None) -> list[Any]:
        errors = self.parameter_errors(request)
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def parameter_errors(self, request) -> dict[str, list[str]]:
        """Field-keyed messages for bad `page` / `page_size` values (empty when both are fine)."""
        errors: dict[str, list[str]] = {}
        self._parse(request, self.page_query_param, 1, MAX_PAGE, errors)
        self._parse(request, self.page_size_query_param, self.page_size, self.max_page_size, errors)
        return errors

    def get_page_size(self, request) -> int:
        return self._parse(request, self.page_size_query_param, self.page_size, self.max_page_size, {})

    def get_page_number(self, request, paginator) -> int:
        number = self._parse(request, self.page_query_param, 1, MAX_PAGE, {})
        if number > paginator.num_pages:
            raise NotFound(f"Page {number} is past the last page ({paginator.num_pages}).")
        return number

    @staticmethod
    def _parse(request, name: str, default: int, high: int, errors: dict[str, list[str]]) -> int:
        """The parameter as an integer in 1..high (`default` when absent); any problem goes to `errors`."""
        raw = request.query_params.getlist(name)
        if not raw:
            return default
        if len(raw) > 1:
            errors[name] = ["Give this parameter once."]
            return default
        try:
            return QueryIntegerField(min_value=1, max_value=high).run_validation(raw[0])
        except ValidationError as exc:
            errors[name] = [str(m) for m in exc.detail]
            return default

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """DRF's, with every key required and described (`next`/`previous` are null at the ends)."""
        answer = super().get_paginated_response_schema(schema)
        answer["required"] = ["count", "next", "previous", "results"]
        properties = answer["properties"]
        properties["count"]["description"] = "Number of items on all pages together."
        for name, end, page in (("next", "last", 3), ("previous", "first", 1)):
            properties[name]["description"] = f"URL of the {name} page; null on the {end} page."
            properties[name]["example"] = f"http://localhost:8000/api/nodes/?page={page}"
        return answer

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """DRF's, with the bounds the 400s enforce."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            high = MAX_PAGE if parameter["name"] == self.page_query_param else self.max_page_size
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": high}
        return parameters
