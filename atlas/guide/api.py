"""The decision guide's API: the whole tree, and a walk through it (every state has a URL).

Their OpenAPI declarations are in `atlas.guide.api_schema`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError

from atlas.api import filters
from atlas.api.base import DocumentAPIView
from atlas.guide import api_schema as schema
from atlas.guide import serializers as s
from atlas.guide import services as guide


def load_tree() -> guide.Tree:
    """The guide from content, or a 404 saying why there is none."""
    try:
        return guide.load_tree()
    except guide.GuideMissing as exc:
        raise NotFound(str(exc)) from None


@schema.TREE
class GuideTreeView(DocumentAPIView):
    """The decision guide from content: every question and every recommendation."""

    serializer_class = s.GuideTreeSerializer

    def document(self, query: dict[str, Any]) -> guide.Tree:
        return load_tree()


@schema.WALK
class GuideWalkView(DocumentAPIView):
    """A walk through the decision guide: the answers so far in, the next question or the
    recommendation out."""

    query_serializer_class = filters.GuideAnswerQuery
    serializer_class = s.GuideStateSerializer

    def document(self, query: dict[str, Any]) -> guide.State:
        tree = load_tree()
        try:
            return guide.walk(guide.parse_answers(query.get("answers")), tree)
        except guide.InvalidAnswer as exc:
            raise ValidationError({"answers": [str(exc)]}) from None
