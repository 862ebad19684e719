"""What every read endpoint of every app shares: strict query parsing, validators, 400s for a bad
`format`, and the two shapes an endpoint takes (a paginated list, or one document).

Everything built on these is GET-only and public. Lists are paginated (`count`/`next` reach the
end; a unique key ends every ordering), every parameter is declared (unknown, repeated or
malformed ones are 400s naming them), and responses carry content-derived ETag / Last-Modified
validators (conditional GETs get 304s, see `atlas.api.conditional`).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atlas.api import filters
from atlas.api.conditional import ConditionalMixin
from atlas.api.pagination import AtlasPagination
from atlas.api.renderers import BibTeXRenderer


class ReadOnlyAPIView(ConditionalMixin):
    """Common behaviour of the read endpoints: strict query parsing, validators, 400s for bad `format`."""

    def query_serializer(self) -> type[serializers.Serializer] | None:
        """The serializer declaring this request's query parameters (None: it takes none)."""
        return None

    def query(self) -> dict[str, Any]:
        """The query parameters, validated (a 400 naming every bad one otherwise)."""
        if not hasattr(self, "_query"):
            paginator = getattr(self, "paginator", None)
            extra = AtlasPagination.query_params if paginator is not None else ()
            errors: dict[str, list[str]] = {}
            try:
                self._query = filters.parse_query(self.request, self.query_serializer(), extra)
            except ValidationError as exc:
                errors.update(exc.detail)
            if paginator is not None:  # report bad page/page_size together with the rest
                errors.update(paginator.parameter_errors(self.request))
            if errors:
                raise ValidationError(errors)
        return self._query

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(r.format for r in self.get_renderers())
            raise ValidationError({"format": [f"Unknown format. Valid formats: {formats}."]}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Errors and OPTIONS metadata are JSON even when BibTeX was asked for.
        if isinstance(getattr(response, "accepted_renderer", None), BibTeXRenderer) and not isinstance(
            response.data, str
        ):
            response.accepted_renderer, response.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return response


class ListAPIView(ReadOnlyAPIView, viewsets.GenericViewSet):
    """A paginated list: `list` parses the query, asks `select` for the items, serializes one page."""

    pagination_class = AtlasPagination
    query_serializers: dict[str, type[serializers.Serializer]] = {}  # action → its query parameters

    def query_serializer(self) -> type[serializers.Serializer] | None:
        return self.query_serializers.get(self.action)

    def select(self, query: dict[str, Any]) -> QuerySet | list:
        """The items the validated query selects, in their final order."""
        raise NotImplementedError

    def list_context(self, query: dict[str, Any]) -> dict[str, Any]:
        """Serializer context of the listed items."""
        return {}

    def list(self, request: Request) -> Response:
        query = self.query()
        page = self.paginate_queryset(self.select(query))
        data = self.get_serializer_class()(page, many=True, context=self.list_context(query)).data
        return self.get_paginated_response(data)

    @staticmethod
    def find(records: QuerySet, pattern: re.Pattern[str], **lookup: str | None) -> Model | None:
        """The one record matching `lookup`, or None when its value is missing or malformed."""
        if not all(value and pattern.fullmatch(value) for value in lookup.values()):
            return None
        return records.filter(**lookup).first()


class DocumentAPIView(ReadOnlyAPIView, APIView):
    """One document, not paginated: `get` parses the query, `document` builds what `serializer_class`
    turns into the answer. A plain APIView, so the schema shows one object without being told."""

    query_serializer_class: type[serializers.Serializer] | None = None
    serializer_class: type[serializers.Serializer]

    def query_serializer(self) -> type[serializers.Serializer] | None:
        return self.query_serializer_class

    def document(self, query: dict[str, Any]) -> Any:
        """The object (or dict) that `serializer_class` represents, for the validated query."""
        raise NotImplementedError

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.serializer_class(self.document(self.query())).data)
