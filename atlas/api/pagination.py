"""Page-number pagination that a client can walk to the end.

`count` is the total, `next` links the following page until the last one (where it is null), and
the views order by a unique key last, so walking `next` visits every item exactly once. Bad
`page`/`page_size` values are 400s with field-keyed messages (DRF's own class silently falls back
to defaults); a page past the last one is a 404, as for any resource that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from atlas.api.filters import QueryIntegerField

MAX_PAGE = 1_000_000


class AtlasPagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_query_param = "page"
    page_size_query_param = "page_size"
    query_params = ("page", "page_size")

    def paginate_queryset(self, queryset, request, view=None) -> list[Any]:
        errors: dict[str, list[str]] = {}
        page_number = self._parse(request, self.page_query_param, 1, 1, MAX_PAGE, errors)
        page_size = self._parse(
            request, self.page_size_query_param, self.page_size, 1, self.max_page_size, errors
        )
        if errors:
            raise ValidationError(errors)
        paginator = Paginator(queryset, page_size)
        if page_number > paginator.num_pages:
            raise NotFound(f"Page {page_number} is past the last page ({paginator.num_pages}).")
        self.request = request
        self.page = paginator.page(page_number)
        return list(self.page)

    def parameter_errors(self, request) -> dict[str, list[str]]:
        """Field-keyed messages for bad `page` / `page_size` values (empty when both are fine)."""
        errors: dict[str, list[str]] = {}
        self._parse(request, self.page_query_param, 1, 1, MAX_PAGE, errors)
        self._parse(request, self.page_size_query_param, self.page_size, 1, self.max_page_size, errors)
        return errors

    @staticmethod
    def _parse(request, name: str, default: int, low: int, high: int, errors: dict[str, list[str]]) -> int:
        raw = request.query_params.getlist(name)
        if not raw:
            return default
        if len(raw) > 1:
            errors[name] = ["Give this parameter once."]
            return default
        field = QueryIntegerField(min_value=low, max_value=high)
        try:
            return field.run_validation(raw[0])
        except ValidationError as exc:
            errors[name] = [str(m) for m in exc.detail]
            return default

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": "Number of items on all pages together.",
                    "example": 123,
                },
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "URL of the next page; null on the last page.",
                    "example": "http://localhost:8000/api/nodes/?page=3",
                },
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "URL of the previous page; null on the first page.",
                    "example": "http://localhost:8000/api/nodes/?page=1",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1; a page past the last one is a 404.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Items per page (1-{self.max_page_size}, default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
