"""Request and response of POST /api/results/score/."""

from __future__ import annotations

from rest_framework import serializers

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
