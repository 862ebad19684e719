"""Admin for the knowledge graph: read-only, because content changes only through pull requests
(`content/` → `manage.py content load`); an edit here would be overwritten by the next load."""

from __future__ import annotations

from django.contrib import admin

from atlas.core.admin import ReadOnlyAdmin, ReadOnlyInline
from atlas.graph.models import ContentVersion, Edge, LensValue, Node, NodePaper


class CitationInline(ReadOnlyInline):
    model = NodePaper
    fields = ["position", "paper"]


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ["slug", "kind", "title", "order", "source_path"]
    list_filter = ["kind"]
    search_fields = ["slug", "title", "search_text"]
    ordering = ["kind", "order", "slug"]
    inlines = [CitationInline]


@admin.register(Edge)
class EdgeAdmin(ReadOnlyAdmin):
    list_display = ["source", "kind", "target", "style", "origin", "text"]
    list_filter = ["kind", "style", "origin"]
    search_fields = ["source__slug", "target__slug", "text"]
    list_select_related = ["source", "target"]


@admin.register(LensValue)
class LensValueAdmin(ReadOnlyAdmin):
    list_display = ["lens", "family", "variant", "order"]
    list_filter = ["lens", "family"]
    search_fields = ["lens__slug", "family__slug", "variant", "text"]
    list_select_related = ["lens", "family"]


@admin.register(ContentVersion)
class ContentVersionAdmin(ReadOnlyAdmin):
    list_display = ["hash", "files", "loaded_at"]
