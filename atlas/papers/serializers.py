"""Serializers of the papers API. Every field is typed and described (the descriptions are the
OpenAPI schema's)."""

from __future__ import annotations

from rest_framework import serializers


class PaperSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable key: first author's surname, year and a word.")
    title = serializers.CharField(help_text="Title.")
    authors = serializers.ListField(
        child=serializers.CharField(), help_text="`Surname, Given` strings; may end with `others`."
    )
    year = serializers.IntegerField(help_text="Year of publication.")
    venue = serializers.CharField(allow_blank=True, help_text="Venue; empty when not certain.")
    arxiv = serializers.CharField(
        allow_blank=True, help_text="arXiv identifier, e.g. `2006.11239`; may be empty."
    )
    doi = serializers.CharField(allow_blank=True, help_text="DOI without URL prefix; may be empty.")
    url = serializers.CharField(allow_blank=True, help_text="The paper's own URL; may be empty.")
    link = serializers.CharField(
        allow_blank=True, help_text="Best link to read it: the URL, else DOI, else arXiv."
    )
    note = serializers.CharField(allow_blank=True, help_text="Editorial note; may be empty.")
    cited_by = serializers.SerializerMethodField(help_text="Slugs of the nodes citing the paper, sorted.")
    api_url = serializers.SerializerMethodField(help_text="This paper in the API.")
    bibtex_url = serializers.SerializerMethodField(help_text="This paper as BibTeX.")

    def get_cited_by(self, paper) -> list[str]:
        return sorted(c.node.slug for c in paper.citations.all())

    def get_api_url(self, paper) -> str:
        return f"/api/papers/{paper.key}/"

    def get_bibtex_url(self, paper) -> str:
        return f"/api/papers/{paper.key}/?format=bibtex"
