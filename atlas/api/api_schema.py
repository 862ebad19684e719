"""OpenAPI declarations shared by every app's read API: the 400 and 404 answers, the validator
headers and `read_operation`, which puts them together.

Each app declares its operations (summaries, parameters, examples) in its own `api_schema`
module with these helpers; its `api` module only names them, so that request handling and
documentation are read (and changed) apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from atlas.api.serializers import DetailSerializer

FIELD_ERRORS = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Field-keyed messages: each offending parameter or field maps to its messages.",
    },
    description="Invalid input: the body maps each offending parameter to its messages.",
    examples=[
        OpenApiExample(
            "Unknown parameter and a bad integer",
            value={
                "colour": ["Unknown query parameter. Valid parameters: page, page_size, year."],
                "year": ["A whole number (digits only) is required."],
            },
            status_codes=["400"],
        )
    ],
)
NOT_FOUND = OpenApiResponse(DetailSerializer, description="No such resource (or a page past the last one).")
CACHE_HEADERS = [
    OpenApiParameter(
        "ETag", str, OpenApiParameter.HEADER, response=[200], description="Validator for conditional GETs."
    ),
    OpenApiParameter(
        "Last-Modified",
        str,
        OpenApiParameter.HEADER,
        response=[200],
        description="When the data behind the response last changed (content load or finished run).",
    ),
]


def read_operation(
    *,
    summary: str,
    ok: Any,
    description: str | None = None,
    parameters: Sequence[Any] = (),
    examples: Sequence[OpenApiExample] = (),
    not_found: bool = True,
) -> Callable:
    """`extend_schema` of a read operation: its 200 answer (or `{(200, media type): answer}`), the
    400 that every one may give, the 404 unless `not_found` is False, and the validator headers."""
    responses = dict(ok) if isinstance(ok, dict) else {200: ok}
    responses[400] = FIELD_ERRORS
    if not_found:
        responses[404] = NOT_FOUND
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[*parameters, *CACHE_HEADERS],
        responses=responses,
        examples=list(examples) or None,
    )


def response_example(name: str, value: Any, **kwargs: Any) -> OpenApiExample:
    """An example of an answer (never offered as a request body)."""
    return OpenApiExample(name, value=value, response_only=True, **kwargs)
