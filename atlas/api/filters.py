"""Query parameters of the read endpoints: declared as serializers, parsed strictly.

Every list or query endpoint names its parameters in one serializer (which also documents them
in the OpenAPI schema). `parse_query` turns the request's query string into validated values or
a 400 with field-keyed messages: unknown parameters, repeated parameters, wrong types, NaN,
booleans for numbers and out-of-range integers are all rejected, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from atlas.api import queries
from atlas.content.schema import FAMILIES
from atlas.graph.models import EdgeKind, NodeKind
from atlas.results.queries import AUTO, AUTO_ORDER
from atlas.runs import recipes

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# The kinds of the comparison tables (named LensKindEnum in the schema: SPECTACULAR ENUM_NAME_OVERRIDES).
LENS_KIND_CHOICES = [(NodeKind.LENS.value, NodeKind.LENS.label), (NodeKind.AXIS.value, NodeKind.AXIS.label)]
NO_NUL = RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")
_INTEGER = re.compile(r"[+-]?\d{1,30}")
# Parameters every endpoint accepts besides its own: DRF's renderer override.
COMMON_PARAMS = frozenset({"format"})
# The metrics /api/results/ ranks by (the board's cost columns NFE and parameters are not offered).
RESULT_METRICS = (
    "frechet_distance",
    "kid",
    "sliced_wasserstein",
    "mmd2",
    "energy_distance",
    "mode_weight_tv",
    "hq_fraction",
    "modes_captured",
    "precision",
    "recall",
    "coverage",
    "nll",
    "kl_data_model",
    "unigram_tv",
    "class_tv",
    "wall_time_s",
)
RESULT_DATASETS = tuple(sorted({name for recipe in recipes.RECIPES for name in recipe.datasets}))
RECIPE_SLUGS = tuple(recipe.slug for recipe in recipes.RECIPES)


class QueryIntegerField(serializers.IntegerField):
    """An integer written as digits only: "1.5", "1e3", "NaN", "true" and "" are type errors."""

    default_error_messages = {"invalid": "A whole number (digits only) is required."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not (isinstance(data, int) or _INTEGER.fullmatch(str(data).strip())):
            self.fail("invalid")
        return super().to_internal_value(data)


class SlugParamField(serializers.RegexField):
    """A node slug: lowercase kebab-case."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 100)
        kwargs.setdefault(
            "error_messages", {"invalid": "Not a slug (lowercase letters, digits and hyphens)."}
        )
        super().__init__(SLUG_PATTERN, **kwargs)


class TextParamField(serializers.CharField):
    """Free text for searching: bounded length, no NUL characters (the pattern says so in the schema;
    DRF's own validators also reject NULs and surrogates)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("trim_whitespace", False)  # " " is a (useless) search, not an error
        super().__init__(**kwargs)
        self.validators.append(NO_NUL)


def ordering_field(choices: Iterable[str], default: str, what: str) -> serializers.ChoiceField:
    choices = list(choices)
    return serializers.ChoiceField(
        choices=choices,
        required=False,
        default=default,
        help_text=(
            f"Sort order of the {what}; a leading '-' reverses it. The unique key breaks ties, "
            f"so pages never overlap. Default: {default}."
        ),
    )


def parse_query(
    request: Request, serializer_class: type[serializers.Serializer] | None, extra: Iterable[str] = ()
) -> dict[str, Any]:
    """The validated query parameters, or ValidationError {param: [messages]} (→ 400)."""
    fields = serializer_class._declared_fields if serializer_class else {}  # names only, no deep copies
    aliases: dict[str, str] = getattr(serializer_class, "aliases", {})
    allowed = set(fields) | set(extra) | COMMON_PARAMS
    errors: dict[str, list[str]] = {}
    data: dict[str, str] = {}
    for given, values in request.query_params.lists():
        name = aliases.get(given, given)
        if name not in allowed:
            valid = ", ".join(sorted(allowed - COMMON_PARAMS)) or "none"
            errors[given] = [f"Unknown query parameter. Valid parameters: {valid}."]
        elif len(values) > 1 or name in data:
            errors[given] = ["Give this parameter once (under one of its names)."]
        elif name in fields:
            data[name] = _canonical_choice(fields[name], values[0])
    if serializer_class is None:
        validated: dict[str, Any] = {}
    else:
        serializer = serializer_class(data=data)
        if serializer.is_valid():
            validated = dict(serializer.validated_data)
        else:
            validated = {}
            for name, messages in serializer.errors.items():
                errors.setdefault(name, []).extend(str(m) for m in _flatten(messages))
                errors[name].extend(_valid_choices_hint(fields.get(name), data.get(name)))
    if errors:
        raise ValidationError(errors)
    return validated


def _canonical_choice(field: serializers.Field, value: str) -> str:
    """One vocabulary: a choice spelled with '-' where the API says '_' (or the reverse) is the
    same choice (`variant-of` = `variant_of`, `failure_mode` = `failure-mode`)."""
    if not isinstance(field, serializers.ChoiceField) or value in field.choices:
        return value
    for spelling in (value.replace("-", "_"), value.replace("_", "-")):
        if spelling in field.choices:
            return spelling
    return value


def _valid_choices_hint(field: serializers.Field | None, value: str | None) -> list[str]:
    """A rejected choice names the valid ones, like an unknown parameter does."""
    if not isinstance(field, serializers.ChoiceField) or value is None or value in field.choices:
        return []
    return [f"Valid values: {', '.join(str(choice) for choice in field.choices)}."]


def _flatten(messages: Any) -> list[Any]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [messages]


# --- The parameters of each endpoint -------------------------------------------------------


class NodeQuery(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=NodeKind.choices, required=False, help_text="Only nodes of this kind."
    )
    family = serializers.ChoiceField(
        choices=FAMILIES,
        required=False,
        help_text="Only nodes that belong to this family (its tag on the map).",
    )
    q = TextParamField(
        required=False,
        help_text=(
            "Text search: every word must occur in the node's slug, title, aliases, summary or body "
            "(case-insensitive)."
        ),
    )
    ordering = ordering_field(queries.NODE_ORDERINGS, "kind", "nodes")


class EdgeQuery(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=EdgeKind.choices, required=False, help_text="Only edges of this kind."
    )
    source = SlugParamField(required=False, help_text="Only edges leaving this node (slug).")
    target = SlugParamField(required=False, help_text="Only edges entering this node (slug).")
    node = SlugParamField(required=False, help_text="Only edges touching this node at either end (slug).")
    ordering = ordering_field(queries.EDGE_ORDERINGS, "source", "edges")

    # The names /api/path/ uses for the same ends are accepted too.
    aliases = {"from": "source", "to": "target"}


class LensQuery(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=LENS_KIND_CHOICES,
        required=False,
        help_text="`lens` for the three lenses, `axis` for the comparison axes.",
    )
    family = serializers.ChoiceField(
        choices=FAMILIES, required=False, help_text="Keep only this family's rows in each table."
    )
    facet = SlugParamField(
        required=False, help_text="Only tables with a row tagged with this facet (e.g. `forward-kl`)."
    )


class LensDetailQuery(serializers.Serializer):
    family = serializers.ChoiceField(
        choices=FAMILIES, required=False, help_text="Keep only this family's rows."
    )


class PaperQuery(serializers.Serializer):
    year = QueryIntegerField(
        required=False, min_value=1000, max_value=3000, help_text="Only papers of this year."
    )
    year_min = QueryIntegerField(
        required=False, min_value=1000, max_value=3000, help_text="Only papers of this year or later."
    )
    year_max = QueryIntegerField(
        required=False, min_value=1000, max_value=3000, help_text="Only papers of this year or earlier."
    )
    node = SlugParamField(required=False, help_text="Only papers cited by this node (slug).")
    author = TextParamField(
        required=False, max_length=100, help_text="Only papers with an author whose name contains this text."
    )
    q = TextParamField(
        required=False,
        help_text="Text search: every word must occur in the key, title, authors, venue or note.",
    )
    ordering = ordering_field(queries.PAPER_ORDERINGS, "key", "papers")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("year_min"), attrs.get("year_max")
        if low is not None and high is not None and low > high:
            raise ValidationError({"year_max": ["Must not be smaller than year_min."]})
        return attrs


class GraphQuery(serializers.Serializer):
    around = SlugParamField(
        required=False,
        help_text="Return only the subgraph within `depth` hops of this node (slug); omit for the whole map.",
    )
    depth = QueryIntegerField(
        required=False,
        default=2,
        min_value=0,
        max_value=6,
        help_text="Hops around `around` (0-6, default 2); only with `around`.",
    )
    include = serializers.ChoiceField(
        choices=["map"],
        required=False,
        help_text=(
            "`map`: also what the site's map draws with the graph: lens facets, lens titles, reading "
            "tours and the labels of node and edge kinds."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "depth" in self.initial_data and "around" not in attrs:
            raise ValidationError({"depth": ["Only meaningful with `around`."]})
        return attrs


def _path_query() -> type[serializers.Serializer]:
    # `from` is a Python keyword: build the class from a namespace.
    namespace = {
        "from": SlugParamField(help_text="Slug of the node the paths start from."),
        "to": SlugParamField(help_text="Slug of the node the paths end at."),
        "k": QueryIntegerField(
            required=False, default=3, min_value=1, max_value=10, help_text="How many paths at most (1-10)."
        ),
        "__doc__": "Parameters of /api/path/.",
        "__module__": __name__,
        # The names /api/edges/ uses for the same ends are accepted too.
        "aliases": {"source": "from", "target": "to"},
    }
    return serializers.SerializerMetaclass("PathQuery", (serializers.Serializer,), namespace)


PathQuery = _path_query()


class GuideAnswerQuery(serializers.Serializer):
    """Documented by `GUIDE_ANSWERS_PARAMETER` (drf-spectacular would turn blank + pattern into a
    `oneOf` that the empty string matches twice)."""

    answers = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        trim_whitespace=False,
        validators=[NO_NUL],
        help_text=(
            "The answers given so far, in order, separated by commas. Each is `question-id:answer` or "
            "just `answer`, where `answer` is the answer's stable id (the id of the question or leaf "
            "it leads to) or its 0-based index. Empty or omitted: the first question."
        ),
    )


def result_metric_field(ranks: str, auto_scope: str, reported_by: str) -> serializers.ChoiceField:
    """The `metric` parameter of the results endpoints: a name from RESULT_METRICS, or `auto`."""
    return serializers.ChoiceField(
        choices=(AUTO, *RESULT_METRICS),
        required=False,
        default=AUTO,
        help_text=(
            f"The metric that {ranks}; `auto` (default) picks{auto_scope} the first of "
            f"{', '.join(AUTO_ORDER)} that {reported_by}."
        ),
    )


class ResultQuery(serializers.Serializer):
    recipe = serializers.ChoiceField(
        choices=RECIPE_SLUGS, required=False, help_text="Only results of this recipe (slug)."
    )
    dataset = serializers.ChoiceField(
        choices=RESULT_DATASETS, required=False, help_text="Only results on this dataset."
    )
    family = serializers.ChoiceField(
        choices=FAMILIES, required=False, help_text="Only results of this family."
    )
    metric = result_metric_field("decides the best run of each group", "", "the group's runs report")


class ComparisonQuery(serializers.Serializer):
    dataset = serializers.ChoiceField(
        choices=RESULT_DATASETS, help_text="The dataset on which the families are compared."
    )
    metric = result_metric_field("ranks the families", ", for the whole dataset,", "any run reports")
