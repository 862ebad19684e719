"""The OpenAPI declarations of the decision guide's endpoints: the tree and a walk through it.
`atlas.guide.api` applies them by name."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema_view

from atlas.api import filters
from atlas.api.api_schema import read_operation, response_example
from atlas.guide import serializers as s

TREE = extend_schema_view(
    get=read_operation(
        summary="The decision guide",
        description="The whole question tree: root question id, every question with its answers, each leaf.",
        ok=s.GuideTreeSerializer,
    ),
)

WALK = extend_schema_view(
    get=read_operation(
        summary="Walk the decision guide",
        description=(
            "Answers given so far in, the next question or the recommendation (with its reasoning) out. "
            "GET, so that every state of the wizard has a URL: `?answers=goal:modality,modality:text`. Each "
            "answer is its stable id (the id of the question or leaf it leads to) or its 0-based index, "
            "optionally prefixed with the question id; an answer that does not fit is a 400 naming it."
        ),
        parameters=[
            OpenApiParameter(
                "answers",
                {"type": "string", "maxLength": 2000, "pattern": r"^[^\u0000]*$"},
                description=filters.GuideAnswerQuery().fields["answers"].help_text,
            ),
        ],
        ok=s.GuideStateSerializer,
        examples=[
            response_example(
                "Recommendation reached",
                value={
                    "done": True,
                    "answers": ["goal:likelihood", "likelihood:exact-likelihood"],
                    "path": [
                        {
                            "question": "goal",
                            "question_text": "What is the primary goal?",
                            "answer": "likelihood",
                            "index": 0,
                            "label": "Density estimation, OOD detection or compression",
                        },
                        {
                            "question": "likelihood",
                            "question_text": "Do you need a tractable, exact likelihood?",
                            "answer": "exact-likelihood",
                            "index": 0,
                            "label": "Yes, exact",
                        },
                    ],
                    "question": None,
                    "leaf": {
                        "id": "exact-likelihood",
                        "title": "Classical flow or autoregressive model",
                        "why": "Both give exact likelihood by construction.",
                        "why_html": "Both give exact likelihood by construction.",
                        "recommends": ["realnvp", "autoregressive"],
                        "watch_out": ["ood-likelihood"],
                        "recipe": "realnvp",
                    },
                    "recommends": [
                        {
                            "slug": "realnvp",
                            "kind": "method",
                            "title": "RealNVP",
                            "summary": "Affine coupling flow.",
                            "url": "/api/nodes/realnvp/",
                        }
                    ],
                    "watch_out": [],
                    "recipes": [],
                    "reasons": [
                        "What is the primary goal? Density estimation, OOD detection or compression.",
                        "Do you need a tractable, exact likelihood? Yes, exact.",
                        "Both give exact likelihood by construction.",
                    ],
                },
            )
        ],
    ),
)
