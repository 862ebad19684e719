"""Stored results of the failure-mode and unification experiments (one row per experiment)."""

from __future__ import annotations

from django.db import models


class ExperimentRecord(models.Model):
    slug = models.SlugField(max_length=100, unique=True)  # the content node it belongs to
    kind = models.CharField(max_length=16)  # failure-mode | unification
    title = models.CharField(max_length=300)
    verdict = models.CharField(max_length=20)
    verdict_text = models.TextField()
    tables = models.JSONField(default=list)
    measurements = models.JSONField(default=dict)
    params = models.JSONField(default=dict)
    recipes = models.JSONField(default=list)  # "run it yourself": [{role, recipe, config}]
    # {claim, prediction, outcome, control, control_outcome, control_rejected, identities}; {} for
    # records measured before experiments carried a negative control (issue 13)
    evidence = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(default=list)  # [{name, path}] in the default storage
    scale = models.CharField(max_length=10)
    code_version = models.CharField(max_length=64)
    wall_time_s = models.FloatField(default=0.0)
    produced_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "slug"]

    def __str__(self) -> str:
        return f"{self.slug}: {self.verdict}"

    @property
    def has_evidence(self) -> bool:
        return bool(self.evidence and self.evidence.get("prediction"))

    @property
    def verdict_label(self) -> str:
        """The verdict code as words ("partly-reproduced" -> "partly reproduced")."""
        return self.verdict.replace("-", " ")

    @property
    def previous_verdict_label(self) -> str:
        """The verdict before the last republication, when it changed (``evidence.revision``)."""
        revision = (self.evidence or {}).get("revision") or {}
        return str(revision.get("previous_verdict", "")).replace("-", " ")
