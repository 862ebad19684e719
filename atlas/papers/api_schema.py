"""The OpenAPI declarations of the papers endpoints: JSON or BibTeX, summaries, parameters,
answers and examples. `atlas.papers.api` applies them by name."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_view

from atlas.api import filters
from atlas.api.api_schema import read_operation, response_example
from atlas.papers import serializers as s

BIBTEX_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR, description="BibTeX (`Accept: application/x-bibtex` or `?format=bibtex`)."
)
FORMAT_PARAM = OpenApiParameter(
    "format",
    str,
    enum=["json", "bibtex"],
    description="Representation: `json` (default) or `bibtex`; the same as `Accept: application/x-bibtex`.",
)


def _json_or_bibtex(json_answer: Any) -> dict[tuple[int, str], Any]:
    return {(200, "application/json"): json_answer, (200, "application/x-bibtex"): BIBTEX_RESPONSE}


PAPERS = extend_schema_view(
    list=read_operation(
        summary="List papers (JSON or BibTeX)",
        description=(
            "Papers behind the atlas's claims, filtered by year, citing node, author or text. As JSON the "
            "list is paginated; as BibTeX it is one .bib file of every paper that matches (or of one page, "
            "when `page` or `page_size` is given), in the same order."
        ),
        parameters=[filters.PaperQuery, FORMAT_PARAM],
        ok=_json_or_bibtex(s.PaperSerializer(many=True)),
        examples=[
            response_example(
                "BibTeX of 2020 papers",
                media_type="application/x-bibtex",
                value=(
                    "@inproceedings{ho2020ddpm,\n  title = {{Denoising Diffusion Probabilistic Models}},\n"
                    "  author = {Ho, Jonathan and Jain, Ajay and Abbeel, Pieter},\n  booktitle = {NeurIPS},\n"
                    "  year = {2020},\n  eprint = {2006.11239},\n  archivePrefix = {arXiv}\n}\n"
                ),
            )
        ],
    ),
    retrieve=read_operation(
        summary="One paper (JSON or BibTeX)",
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="Key of the paper, e.g. `ho2020ddpm`."
            ),
            FORMAT_PARAM,
        ],
        ok=_json_or_bibtex(s.PaperSerializer),
    ),
)
