"""The serializers of /api/results/: its groups and comparison, and POST /api/results/score/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from atlas.api.serializers import JSONObjectField
from atlas.results import scoring


class ScoreRequestSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(
        choices=scoring.SCORABLE,
        help_text="The board to score against.",
        error_messages={
            "invalid_choice": '"{input}" is not a valid choice. Valid values: '
            + ", ".join(scoring.SCORABLE)
            + "."
        },
    )
    samples = serializers.FileField(
        help_text=(
            f".npy file (no pickles): {scoring.MIN_SAMPLES}-{scoring.MAX_SAMPLES} samples, shape (n, 2) for "
            "ring8/grid25, (n, 64), (n, 8, 8) or (n, 1, 8, 8) in [0, 1] for digits; at most "
            f"{scoring.MAX_UPLOAD_BYTES} bytes."
        )
    )


class PlacementSerializer(serializers.Serializer):
    metric = serializers.CharField(source="metric.key", help_text="Key of the board's metric.")
    label = serializers.CharField(source="metric.label", help_text="The metric's name on the board.")
    better = serializers.ChoiceField(
        source="metric.better", choices=["lower", "higher"], help_text="Which direction is better."
    )
    value = serializers.FloatField(help_text="The upload's value.")
    rank = serializers.IntegerField(help_text="Where the upload would rank (1 = best; ties share).")
    of = serializers.IntegerField(help_text="Rows ranked, the upload included (complete rows only).")


class ScoreResponseSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="The board scored against.")
    n_samples = serializers.IntegerField(help_text="How many samples were scored.")
    metrics = serializers.DictField(help_text="Every metric the board's runs report, except likelihoods.")
    placements = PlacementSerializer(many=True, help_text="Where the samples would rank, per metric.")
    stored = serializers.BooleanField(default=False, help_text="Always false: uploads are never kept.")


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


class RowScoreSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The row's key on the board (as in /results/<dataset>.json).")
    label = serializers.CharField(help_text="The row's model, as the board names it.")
    mean = serializers.FloatField(
        allow_null=True, help_text="Mean of the metric over the row's seeds (what was ranked)."
    )
    std = serializers.FloatField(
        allow_null=True, help_text="Sample standard deviation (n - 1) over the seeds; null below two."
    )
    seeds = serializers.ListField(child=serializers.IntegerField(), help_text="The seeds aggregated.")


class ComparisonEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 for the best; on a board, ties share the better rank.")
    family = serializers.CharField(help_text="The family.")
    runs = serializers.IntegerField(
        help_text="Runs behind the entry: a board row's seeds (off the boards: the family's succeeded runs)."
    )
    best = RunResultSerializer(help_text="The entry's best run by the metric.")
    row = RowScoreSerializer(
        allow_null=True, help_text="The board row ranked (its seed mean and std); null off the boards."
    )


class ComparisonSerializer(serializers.Serializer):
    dataset = serializers.CharField(help_text="The dataset compared on.")
    metric = serializers.CharField(
        source="metric_key", allow_blank=True, help_text="The ranking metric; empty when no run has one."
    )
    better = serializers.ChoiceField(
        choices=["lower", "higher"], allow_null=True, help_text="Whether lower or higher values are better."
    )
    entries = ComparisonEntrySerializer(
        many=True,
        help_text="Best first: on a board, one entry per complete board row; elsewhere one per family.",
    )
    missing_families = serializers.ListField(
        source="missing",
        child=serializers.CharField(),
        help_text="Families without an entry: no complete board row, or off the boards no succeeded run.",
    )
    ranked_from = serializers.ChoiceField(
        source="source",
        choices=["board", "runs"],
        help_text="`board`: the board's rows (seed means, as /results/<dataset>/); `runs`: single runs.",
    )
