"""BibTeX as a representation of papers: `Accept: application/x-bibtex` or `?format=bibtex`."""

from __future__ import annotations

from rest_framework.renderers import BaseRenderer


class BibTeXRenderer(BaseRenderer):
    media_type = "application/x-bibtex"
    format = "bibtex"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        """`data` is the .bib text the view built; views answer errors as JSON instead."""
        if data is None:
            return b""
        if not isinstance(data, str):
            raise TypeError("BibTeXRenderer renders the text a view built, not serializer data")
        return data.encode(self.charset)
