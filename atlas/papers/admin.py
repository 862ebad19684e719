"""Admin for papers: read-only, like all content (it changes only through pull requests)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from atlas.core.admin import ReadOnlyAdmin
from atlas.papers.models import Paper


@admin.register(Paper)
class PaperAdmin(ReadOnlyAdmin):
    list_display = ["key", "year", "title", "venue", "arxiv"]
    list_filter = ["year"]
    search_fields = ["key", "title", "venue", "arxiv", "doi"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # Django 6 default, no warning
