"""Serializers shared by every app's API (a JSON object field, the 404 body) and those of the
results endpoints (which stay here while the results API is being rewritten).

Each app's own serializers live beside it (`atlas/<app>/serializers.py`). Every field is typed
and described (the descriptions are the OpenAPI schema's).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object whose keys depend on the record (typed `object` in the schema)."""


# --- Results -----------------------------------------------------------------------------------


class ScoreSerializer(serializers.Serializer):
    metric = serializers.CharField(allow_blank=True, help_text="The ranking metric; empty when none applies.")
    value = serializers.FloatField(allow_null=True, help_text="The run's value of it; null when it lacks it.")
    better = serializers.ChoiceField(
        choices=["lower", "higher"], allow_null=True, help_text="Whether lower or higher values are better."
    )


class RunResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="run.public_id", help_text="Public id of the run.")
    url = serializers.SerializerMethodField(help_text="The run in the API.")
    recipe = serializers.CharField(source="run.recipe", help_text="Slug of the recipe.")
    model = serializers.CharField(source="run.model", help_text="Compute registry name of the model.")
    family = serializers.CharField(source="run.family", help_text="Family of the model.")
    dataset = serializers.CharField(source="run.dataset", help_text="Dataset trained and evaluated on.")
    config = JSONObjectField(source="run.config", help_text="The canonical configuration of the run.")
    seed = serializers.IntegerField(source="run.seed", help_text="Random seed.")
    code_version = serializers.CharField(
        source="run.code_version", help_text="Version of the code that ran it."
    )
    finished_at = serializers.DateTimeField(
        source="run.finished_at", allow_null=True, help_text="When it finished."
    )
    score = serializers.SerializerMethodField(help_text="The run's value of the ranking metric.")
    metrics = JSONObjectField(source="run.metrics", help_text="Every metric of the run (by data kind).")
    result = JSONObjectField(
        source="run.result", help_text="Wall time, steps, NFE, parameters, device and versions."
    )

    def get_url(self, scored) -> str:
        return f"/api/runs/{scored.run.public_id}/"

    @extend_schema_field(ScoreSerializer)
    def get_score(self, scored) -> dict[str, Any]:
        metric = scored.metric
        return {
            "metric": metric.key if metric else "",
            "value": scored.value,
            "better": metric.better if metric else None,
        }


class ResultGroupSerializer(serializers.Serializer):
    recipe = serializers.CharField(help_text="Slug of the recipe.")
    dataset = serializers.CharField(help_text="The dataset.")
    family = serializers.CharField(help_text="Family of the recipe's model.")
    model = serializers.CharField(help_text="Compute registry name of the model.")
    runs = serializers.IntegerField(help_text="Succeeded runs in this group.")
    metric = serializers.SerializerMethodField(
        help_text="The metric that chose `best`; empty when none applies."
    )
    code_versions = serializers.ListField(
        child=serializers.CharField(), help_text="Code versions of the group's runs, sorted."
    )
    best = serializers.SerializerMethodField(help_text="The best run by `metric` (ties: the newest).")
    latest = serializers.SerializerMethodField(help_text="The most recently finished run.")

    def get_metric(self, group) -> str:
        return group.metric.key if group.metric else ""

    @extend_schema_field(RunResultSerializer)
    def get_best(self, group) -> dict[str, Any]:
        return RunResultSerializer(group.best).data

    @extend_schema_field(RunResultSerializer)
    def get_latest(self, group) -> dict[str, Any]:
        return RunResultSerializer(group.latest).data


class ComparisonEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 for the best family.")
    family = serializers.CharField(help_text="The family.")
    runs = serializers.IntegerField(help_text="Succeeded runs of the family on the dataset.")
    best = RunResultSerializer(help_text="The family's best run on the dataset.")


class ComparisonSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="The dataset compared on.")
    metric = serializers.CharField(
        allow_blank=True, help_text="The ranking metric; empty when no run has one."
    )
    better = serializers.ChoiceField(
        choices=["lower", "higher"], allow_null=True, help_text="Whether lower or higher values are better."
    )
    entries = ComparisonEntrySerializer(many=True, help_text="One entry per family with results, best first.")
    missing_families = serializers.ListField(
        child=serializers.CharField(), help_text="Families with no succeeded run on the dataset."
    )


# --- Errors ------------------------------------------------------------------------------------


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")
