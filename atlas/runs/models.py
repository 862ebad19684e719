"""Runs of recipes: their lifecycle, live progress, results and artifacts.

States: queued → running → succeeded | failed | cancelled | timed_out, and running → interrupted →
queued when the stack or a worker is shut down while the run trains (an interruption is not the
run's fault: it is re-queued, at the next start or by the reaper). Terminal states never change:
every transition is a conditional UPDATE whose WHERE clause names the states it may leave (and,
for a running run, the lease of the attempt that holds it), so a late write from a dead attempt
matches no row.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


ACTIVE_STATES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.INTERRUPTED)
TERMINAL_STATES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT)
# A stored result answers an identical request: these states are never recomputed.
REUSABLE_STATES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.SUCCEEDED)


def artifact_path(run: Run, filename: str) -> str:
    return f"runs/{run.public_id}/{filename}"


class Run(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipe = models.CharField(max_length=100, db_index=True)
    model = models.CharField(max_length=50, db_index=True)  # compute registry name
    family = models.CharField(max_length=30, db_index=True)  # one of the six families
    dataset = models.CharField(max_length=50, db_index=True)
    config = models.JSONField()  # canonical: every recipe parameter, defaults filled in
    seed = models.PositiveIntegerField()
    code_version = models.CharField(max_length=64)
    config_hash = models.CharField(max_length=64, db_index=True)
    queue = models.CharField(max_length=10, default="cpu")
    client_key = models.CharField(max_length=64, blank=True, db_index=True)

    status = models.CharField(
        max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    status_reason = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The lease: which attempt may write, and until when it is presumed alive.
    lease_token = models.CharField(max_length=36, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)

    progress = models.JSONField(default=dict, blank=True)  # step, total, losses, elapsed, steps_per_s
    preview = models.JSONField(default=dict, blank=True)  # the latest sample preview
    loss_history = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)  # wall time, steps, NFE, params, device, versions

    # Only runs requested for a results board (`manage.py results refresh`) or promoted by an
    # operator enter the boards and /api/results/: a visitor's demo click never does by itself.
    on_board = models.BooleanField(default=False, db_index=True)
    samples_png = models.FileField(upload_to=artifact_path, blank=True, max_length=200)
    samples_npy = models.FileField(upload_to=artifact_path, blank=True, max_length=200)
    losses_png = models.FileField(upload_to=artifact_path, blank=True, max_length=200)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Identical requests share one run while it is queued, running, interrupted (it will be
            # re-queued) or succeeded; a failed or cancelled one may be tried again. Enforced by the
            # database, so it holds under concurrent requests.
            models.UniqueConstraint(
                fields=["config_hash"],
                condition=Q(status__in=["queued", "running", "interrupted", "succeeded"]),
                name="runs_unique_reusable_config",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["recipe", "status"])]

    def __str__(self) -> str:
        return f"{self.recipe} #{self.pk} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATES


class RunEvent(models.Model):
    """Every state change, with its time and reason."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    reason = models.TextField(blank=True)
    attempt = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}: {self.reason}"
