"""Serializers of runs and recipes for the API, the run panel and the websocket snapshot."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atlas.runs import recipes
from atlas.runs.models import Run, RunEvent


class RunEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunEvent
        fields = ["at", "from_status", "to_status", "reason", "attempt"]


class RunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    artifacts = serializers.SerializerMethodField()
    events = RunEventSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "url",
            "recipe",
            "model",
            "family",
            "dataset",
            "config",
            "seed",
            "code_version",
            "queue",
            "status",
            "status_reason",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "progress",
            "preview",
            "metrics",
            "result",
            "loss_history",
            "artifacts",
            "events",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "format": "uri"}})
    def get_artifacts(self, run: Run) -> dict[str, str]:
        names = {"samples_png": run.samples_png, "samples_npy": run.samples_npy, "losses_png": run.losses_png}
        return {key: self._absolute(f.url) for key, f in names.items() if f}

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, run: Run) -> str:
        return self._absolute(reverse("run-detail", kwargs={"public_id": run.public_id}))

    def _absolute(self, path: str) -> str:
        """Absolute, as the schema's `format: uri` promises, when there is a request to say where
        the site is (the websocket snapshot has none and keeps the site-relative path)."""
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class RunListSerializer(RunSerializer):
    """Lists leave out the heavy fields (preview, loss history, events)."""

    class Meta(RunSerializer.Meta):
        fields = [f for f in RunSerializer.Meta.fields if f not in {"preview", "loss_history", "events"}]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    """Only the shape is checked here; the recipe's bounds are checked by runs.services."""

    recipe = serializers.CharField(max_length=100, help_text="slug of a recipe from /api/recipes/")
    config = serializers.DictField(
        required=False, default=dict, help_text="parameter values; see the recipe's config_schema"
    )

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"recipe", "config"})
            if unknown:
                raise serializers.ValidationError({k: ["unknown field"] for k in unknown})
        return super().to_internal_value(data)


def run_request_schema() -> dict[str, Any]:
    """What POST /api/runs/ accepts, as JSON Schema: one variant per recipe, its slug and its
    config's keys, types and bounds (the recipe's config_schema, which runs.services enforces)."""
    return {
        "oneOf": [
            {
                "type": "object",
                "title": recipe.slug,
                "additionalProperties": False,
                "required": ["recipe"],
                "properties": {
                    "recipe": {"type": "string", "enum": [recipe.slug], "description": recipe.title},
                    "config": {**recipe.json_schema(), "description": "parameter values; omitted: defaults"},
                },
            }
            for recipe in recipes.RECIPES
        ]
    }


class RecipeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    nodes = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField()
    datasets = serializers.ListField(child=serializers.CharField())
    queue = serializers.CharField()
    requires_gpu = serializers.BooleanField()
    steps_max = serializers.IntegerField()
    seconds_max = serializers.FloatField()
    config_schema = serializers.SerializerMethodField()

    @extend_schema_field({"type": "object"})
    def get_config_schema(self, recipe) -> dict:
        return recipe.json_schema()
