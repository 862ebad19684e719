"""The papers API: the papers behind the atlas's claims, as JSON or as BibTeX.

Its OpenAPI declarations are in `atlas.papers.api_schema`.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from atlas.api import filters, queries
from atlas.api.base import ListAPIView
from atlas.api.pagination import AtlasPagination
from atlas.api.renderers import BibTeXRenderer
from atlas.papers import api_schema as schema
from atlas.papers import serializers as s
from atlas.papers.bibtex import bibtex_for
from atlas.papers.models import Paper

PAPER_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@schema.PAPERS
class PaperViewSet(ListAPIView):
    """Papers, technical reports and other resources cited by the atlas; BibTeX on request."""

    lookup_field = "key"
    lookup_value_regex = "[^/]+"
    serializer_class = s.PaperSerializer
    query_serializers = {"list": filters.PaperQuery}
    renderer_classes = [JSONRenderer, BibTeXRenderer, BrowsableAPIRenderer]

    def get_queryset(self) -> QuerySet[Paper]:
        return queries.paper_records()

    def select(self, query: dict[str, Any]) -> QuerySet[Paper]:
        return queries.papers(query)

    def _wants_bibtex(self) -> bool:
        return isinstance(self.request.accepted_renderer, BibTeXRenderer)

    def list(self, request: Request) -> Response:
        if not self._wants_bibtex():
            return super().list(request)
        # One .bib file of every match, unless a page was asked for explicitly.
        papers = self.select(self.query())
        paginated = any(name in request.query_params for name in AtlasPagination.query_params)
        chosen = self.paginate_queryset(papers) if paginated else list(papers)
        text = bibtex_for(chosen) or "% No paper of the Generative Atlas matches these filters.\n"
        return self._bibtex(text, "papers.bib")

    def retrieve(self, request: Request, key: str | None = None) -> Response:
        self.query()
        paper = self.find(queries.paper_records(), PAPER_KEY_RE, key=key)
        if paper is None:
            raise NotFound(f"No paper with key {key!r}.")
        if self._wants_bibtex():
            return self._bibtex(paper.bibtex(), f"{paper.key}.bib")
        return Response(s.PaperSerializer(paper).data)

    @staticmethod
    def _bibtex(text: str, filename: str) -> Response:
        return Response(text, headers={"Content-Disposition": f'inline; filename="{filename}"'})
