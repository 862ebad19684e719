"""Run lifecycle: request (validate, dedup, caps, enqueue), leases and heartbeats, cancel, reaping.

Every state change goes through :func:`transition`, a conditional UPDATE that names the states it
may leave (and the lease that must still hold), so terminal states are immutable and a late write
from a dead attempt changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from atlas.runs import recipes
from atlas.runs.models import ACTIVE_STATES, REUSABLE_STATES, TERMINAL_STATES, Run, RunEvent, RunStatus
from compute.version import code_version

log = logging.getLogger(__name__)


class RunRequestError(Exception):
    """Bad input: field-keyed messages for an HTTP 400."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class Backpressure(Exception):
    """Too many active runs: nothing was enqueued. ``status`` is 429 (this client) or 503 (everyone)."""

    def __init__(self, status: int, message: str, retry_after: int):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True)
class Lease:
    run_id: int
    token: str
    attempt: int


# --- requesting ------------------------------------------------------------------------------


def canonical_hash(recipe_slug: str, config: dict[str, Any], version: str) -> str:
    payload = json.dumps({"recipe": recipe_slug, "config": config, "code": version}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def request_run(
    recipe_slug: Any, raw_config: Any, client_key: str = "", *, dispatch: bool = True
) -> tuple[Run, bool]:
    """The run for this request and whether it is new. An identical request (same recipe, config,
    seed and code version) returns the existing queued, running or succeeded run instead.
    ``dispatch=False`` records the run without sending it to the workers (its caller executes it)."""
    recipe = _recipe_or_error(recipe_slug)
    if not isinstance(raw_config, dict):
        raise RunRequestError({"config": ["must be an object of parameter values"]})
    config, errors = recipe.validate(raw_config)
    if errors:
        raise RunRequestError(
            {"config": [f"{k}: {m}" for k, ms in errors.items() for m in ms]}
            | {f"config.{k}": ms for k, ms in errors.items()}
        )
    version = code_version()
    digest = canonical_hash(recipe.slug, config, version)
    existing = _reusable(digest)
    if existing is not None:
        return existing, False
    _check_capacity(client_key)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                recipe=recipe.slug,
                model=recipe.model,
                family=_family_of(recipe.model),
                dataset=config["dataset"],
                config=config,
                seed=config["seed"],
                code_version=version,
                config_hash=digest,
                queue=recipe.queue,
                client_key=client_key[:64],
                max_attempts=settings.ATLAS_RUN_MAX_ATTEMPTS,
            )
            RunEvent.objects.create(run=run, to_status=RunStatus.QUEUED, reason="requested")
            if dispatch:
                transaction.on_commit(lambda: enqueue(run))
    except IntegrityError:
        # A concurrent identical request won the unique constraint: answer with its run.
        existing = _reusable(digest)
        if existing is None:
            raise
        return existing, False
    return run, True


def _recipe_or_error(slug: Any) -> recipes.Recipe:
    if not isinstance(slug, str):
        raise RunRequestError({"recipe": ["must be a recipe slug (a string)"]})
    try:
        return recipes.get(slug)
    except KeyError:
        raise RunRequestError({"recipe": [f"unknown recipe {slug[:100]!r}"]}) from None


def _family_of(model: str) -> str:
    from compute import registry

    return registry.get(model).family


def _reusable(digest: str) -> Run | None:
    return Run.objects.filter(config_hash=digest, status__in=REUSABLE_STATES).first()


def _check_capacity(client_key: str) -> None:
    active = Run.objects.filter(status__in=ACTIVE_STATES)
    if client_key and active.filter(client_key=client_key).count() >= settings.ATLAS_RUNS_MAX_PER_CLIENT:
        raise Backpressure(429, "You have too many runs queued or running; wait for one to finish.", 30)
    if active.count() >= settings.ATLAS_RUNS_MAX_ACTIVE:
        raise Backpressure(503, "The workers are busy; try again shortly.", 60)


# The task's registered name (atlas/runs/tasks.py). Sent by name, so this module never imports
# the tasks module, which imports execution, which imports this module.
EXECUTE_RUN_TASK = "compute.tasks.execute_run"


def enqueue(run: Run) -> None:
    from atlas.celery import app

    app.send_task(EXECUTE_RUN_TASK, args=[run.pk], queue=run.queue)


# --- transitions -----------------------------------------------------------------------------


def transition(
    run_id: int,
    to: str,
    reason: str,
    *,
    from_states: tuple[str, ...],
    lease_token: str | None = None,
    **fields: Any,
) -> bool:
    """Move a run to ``to`` if it is in one of ``from_states`` (and still held by ``lease_token``).
    Returns whether it moved; records the event when it did."""
    now = timezone.now()
    updates: dict[str, Any] = {"status": to, "status_reason": reason[:2000], **fields}
    if to in TERMINAL_STATES:
        updates.setdefault("finished_at", now)
    query = Run.objects.filter(pk=run_id, status__in=from_states)
    if lease_token is not None:
        query = query.filter(lease_token=lease_token)
    with transaction.atomic():
        row = query.values("status", "attempts").first()
        if row is None or not query.update(**updates):
            return False
        RunEvent.objects.create(
            run_id=run_id,
            from_status=row["status"],
            to_status=to,
            reason=reason[:2000],
            attempt=row["attempts"],
        )
    return True


def acquire(run_id: int, worker: str = "") -> tuple[Lease | None, str]:
    """Take the lease of a queued run, or of a running one whose holder stopped heartbeating.
    ``worker`` (the Celery node name, e.g. cpu@host-a) is recorded in the event of the start.
    Returns (lease, "") or (None, why): "terminal", "held" (alive elsewhere), "missing", "exhausted"."""
    token = str(uuid.uuid4())
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ATLAS_RUN_HEARTBEAT_TIMEOUT)
    takeable = Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale)
    fields = ("status", "attempts", "max_attempts", "cancel_requested", "heartbeat_at", "lease_token")
    run = Run.objects.filter(pk=run_id).values(*fields).first()
    if run is None:
        return None, "missing"
    if run["status"] in TERMINAL_STATES:
        return None, "terminal"
    if run["status"] == RunStatus.RUNNING and run["heartbeat_at"] and run["heartbeat_at"] >= stale:
        return None, "held"  # alive elsewhere: a duplicate delivery must not touch it
    # Only the state just read may be ended, so a concurrent take-over is never overwritten.
    guard = {"from_states": (run["status"],), "lease_token": run["lease_token"]}
    if run["cancel_requested"]:
        transition(run_id, RunStatus.CANCELLED, "cancelled before it started", **guard)
        return None, "terminal"
    if run["attempts"] >= run["max_attempts"]:
        reason = f"gave up after {run['attempts']} attempt(s): the worker died each time"
        transition(run_id, RunStatus.FAILED, reason, **guard)
        return None, "exhausted"
    with transaction.atomic():
        moved = Run.objects.filter(takeable, pk=run_id).update(
            status=RunStatus.RUNNING,
            lease_token=token,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            started_at=now,
            status_reason="running",
            # A new attempt starts from scratch: nothing of a dead attempt's progress is kept.
            progress={},
            preview={},
            result={},
        )
        if not moved:
            return None, "held"
        attempt = Run.objects.values_list("attempts", flat=True).get(pk=run_id)
        RunEvent.objects.create(
            run_id=run_id,
            from_status=run["status"],
            to_status=RunStatus.RUNNING,
            reason=("started" if attempt == 1 else f"attempt {attempt} took over")
            + (f" on {worker}" if worker else ""),
            attempt=attempt,
        )
    return Lease(run_id, token, attempt), ""


def heartbeat(lease: Lease, **fields: Any) -> tuple[bool, bool]:
    """Write a heartbeat (and progress fields). Returns (still holds the lease, cancel requested)."""
    held = Run.objects.filter(pk=lease.run_id, status=RunStatus.RUNNING, lease_token=lease.token).update(
        heartbeat_at=timezone.now(), **fields
    )
    if not held:
        return False, True
    cancel = Run.objects.filter(pk=lease.run_id).values_list("cancel_requested", flat=True).first()
    return True, bool(cancel)


def cancel(run: Run) -> Run:
    """A queued or interrupted run ends now; a running one is flagged and stops at its next heartbeat."""
    Run.objects.filter(pk=run.pk, status__in=ACTIVE_STATES).update(cancel_requested=True)
    transition(run.pk, RunStatus.CANCELLED, "cancelled while queued", from_states=(RunStatus.QUEUED,))
    transition(
        run.pk, RunStatus.CANCELLED, "cancelled while interrupted", from_states=(RunStatus.INTERRUPTED,)
    )
    run.refresh_from_db()
    return run


# --- reaping ---------------------------------------------------------------------------------


def reap(*, stale_after_s: float | None = None, requeue_after_s: float | None = None) -> dict[str, int]:
    """Re-queue interrupted runs, end or re-queue runs whose worker stopped heartbeating, and
    re-send queued runs whose message was lost (e.g. Redis restarted). Safe to run from several
    processes at once."""
    now = timezone.now()
    stale_after_s = settings.ATLAS_RUN_HEARTBEAT_TIMEOUT if stale_after_s is None else stale_after_s
    requeue_after_s = settings.ATLAS_RUN_REQUEUE_AFTER if requeue_after_s is None else requeue_after_s
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "resent": 0, "resumed": resume_interrupted()}
    stale = Run.objects.filter(
        status=RunStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_after_s)
    )
    for run in stale.only("pk", "attempts", "max_attempts", "cancel_requested", "lease_token", "queue"):
        counts[_reap_one(run)] += 1
    lost = Run.objects.filter(
        status=RunStatus.QUEUED, created_at__lt=now - timedelta(seconds=requeue_after_s)
    )
    for run in lost.filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=requeue_after_s))
    ):
        # heartbeat_at on a queued run records when it was last (re-)sent.
        if Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(heartbeat_at=now):
            enqueue(run)
            counts["resent"] += 1
    return counts


def _reap_one(run: Run) -> str:
    lease = {"from_states": (RunStatus.RUNNING,), "lease_token": run.lease_token}
    if run.cancel_requested:
        transition(run.pk, RunStatus.CANCELLED, "cancelled; its worker stopped responding", **lease)
        return "cancelled"
    if run.attempts >= run.max_attempts:
        reason = f"worker lost {run.attempts} time(s) (no heartbeat); giving up"
        transition(run.pk, RunStatus.FAILED, reason, **lease)
        return "failed"
    reason = f"worker lost on attempt {run.attempts} (no heartbeat); re-queued"
    if transition(run.pk, RunStatus.QUEUED, reason, **lease):
        enqueue(run)
    return "requeued"


def interrupt(lease: Lease, reason: str, **fields: Any) -> bool:
    """The attempt holding ``lease`` was stopped by a shutdown (not by its own fault)."""
    return transition(
        lease.run_id,
        RunStatus.INTERRUPTED,
        reason,
        from_states=(RunStatus.RUNNING,),
        lease_token=lease.token,
        **fields,
    )


def resume_interrupted() -> int:
    """Re-queue every interrupted run (one whose cancel was asked for ends cancelled instead).
    An interruption does not use up one of the run's attempts: its cap grows by one."""
    runs = Run.objects.filter(status=RunStatus.INTERRUPTED).only("pk", "queue", "cancel_requested")
    return sum(requeue_interrupted(run) for run in runs)


def requeue_interrupted(run: Run, *, send: bool = True) -> bool:
    """Queue one interrupted run again (its attempt cap grows by one), or end it cancelled if its
    cancel was asked for. ``send``: enqueue it for a worker; a caller that runs it in its own
    process (`manage.py results report`) takes the lease itself instead."""
    if run.cancel_requested:
        transition(run.pk, RunStatus.CANCELLED, "cancelled while interrupted", from_states=(run.status,))
        return False
    requeued = transition(
        run.pk,
        RunStatus.QUEUED,
        "re-queued after an interruption",
        from_states=(RunStatus.INTERRUPTED,),
        max_attempts=F("max_attempts") + 1,
        heartbeat_at=timezone.now(),  # on a queued run: when it was last sent
    )
    if requeued and send:
        enqueue(run)
    return requeued


def recover_orphans(*, everything: bool = False) -> int:
    """At start-up. ``everything``: the stack owns a fresh Redis and no worker is alive, so every
    active run is an orphan of the stack that stopped: running ones are interrupted, and they and
    the queued ones (whose messages went with the old Redis) are sent again. Otherwise only
    interrupted runs and runs whose heartbeat went stale are handled (:func:`reap`)."""
    if not everything:
        return sum(reap().values())
    count = 0
    for run in Run.objects.filter(status=RunStatus.RUNNING).only("pk"):
        transition(
            run.pk,
            RunStatus.INTERRUPTED,
            "interrupted: the stack stopped while it ran",
            from_states=(RunStatus.RUNNING,),
        )
    for run in Run.objects.filter(status=RunStatus.QUEUED).only("pk", "queue"):
        if Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(heartbeat_at=timezone.now()):
            enqueue(run)
            count += 1
    return count + resume_interrupted()
