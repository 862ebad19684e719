"""Executing one run inside a worker: the bridge from compute.trainer's callbacks to the database
and the run's websocket group. Called by atlas/runs/tasks.py once it holds the run's lease."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import platform
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection

from atlas.runs import live, recipes, services
from atlas.runs.models import Run, RunStatus
from compute import datasets, evaluate, plots, trainer
from compute.stopping import QualityCheck, QualityStop
from compute.version import code_version

log = logging.getLogger(__name__)
PREVIEW_N = {"points2d": 512, "image": 36, "tokens": 4}


def rss_mb() -> float:
    """Resident memory of this process in MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def encode_preview(samples: torch.Tensor, dataset: datasets.Dataset) -> dict[str, Any]:
    kind = dataset.spec.kind
    if kind == "points2d":
        pts = samples.double().numpy()
        pts = pts[np.isfinite(pts).all(1)]
        return {
            "kind": kind,
            "points": np.round(pts, 3).tolist(),
            "bounds": list(dataset.spec.bounds or (-4, 4)),
        }
    if kind == "image":
        levels = (dataset.spec.levels or 17) - 1
        imgs = (samples.float().clamp(0, 1) * levels).round().to(torch.int64).reshape(len(samples), -1)
        return {
            "kind": kind,
            "levels": levels + 1,
            "shape": list(dataset.spec.shape),
            "images": imgs.tolist(),
        }
    return {"kind": kind, "texts": [dataset.decode(row) for row in samples]}


def density_grid(dataset: datasets.Dataset, n: int = 48, oversample: int = 4) -> dict[str, Any] | None:
    """The true density's mass per cell of an n×n grid over the data's bounds (for the preview's
    contours). Cell means of a finer grid, so that modes narrower than a cell still show."""
    if dataset.spec.true_log_density is None or dataset.spec.bounds is None:
        return None
    lo, hi = dataset.spec.bounds
    fine = n * oversample
    step = (hi - lo) / fine
    axis = torch.linspace(lo + step / 2, hi - step / 2, fine)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([gx.flatten(), gy.flatten()], 1)  # (fine², 2)
    dens = dataset.spec.true_log_density(points).exp().reshape(fine, fine)
    cells = dens.reshape(n, oversample, n, oversample).mean(dim=(1, 3))  # [row = y, col = x]
    cells = (cells / cells.max().clamp_min(1e-12)).sqrt().double()  # sqrt: faint modes stay visible
    return {"n": n, "bounds": [lo, hi], "values": np.round(cells.numpy(), 3).tolist()}


class Heartbeat(threading.Thread):
    """Writes the heartbeat and the latest progress every second, reads the cancel flag, and
    watches the memory cap — in its own thread, so a slow step or evaluation keeps the lease."""

    def __init__(self, lease: services.Lease):
        super().__init__(daemon=True, name=f"heartbeat-{lease.run_id}")
        self.lease = lease
        self.pending: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.lost = self.cancelled = False
        self.cap: str = ""
        self.interrupted: str = ""  # why a shutdown stopped the run, e.g. SIGTERM to the worker

    def push(self, **fields: Any) -> None:
        with self.lock:
            self.pending.update(fields)

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.ATLAS_RUN_HEARTBEAT_EVERY):
                self.beat()
        finally:
            connection.close()

    def beat(self) -> None:
        with self.lock:
            fields, self.pending = self.pending, {}
        try:
            held, cancel = services.heartbeat(self.lease, **fields)
        except Exception as exc:  # the database is briefly unreachable: try again next beat
            log.warning("heartbeat of run %s failed: %s", self.lease.run_id, exc)
            return
        self.lost, self.cancelled = not held, cancel
        memory = rss_mb()
        if memory > settings.ATLAS_RUN_MAX_RSS_MB:
            self.cap = f"memory cap: {memory:.0f} MiB > {settings.ATLAS_RUN_MAX_RSS_MB} MiB"

    @property
    def must_stop(self) -> bool:
        return self.lost or self.cancelled or bool(self.cap) or bool(self.interrupted)


class LiveReporter(trainer.Callback):
    """Trainer callbacks → websocket messages (every call) and the heartbeat's pending fields."""

    def __init__(self, run: Run, dataset: datasets.Dataset, beat: Heartbeat, total: int):
        self.run, self.dataset, self.beat, self.total = run, dataset, beat, total
        self.last_progress: dict[str, Any] = {}
        self.quality: list[dict[str, Any]] = []
        self.density = density_grid(dataset)  # persisted with each preview for late viewers

    def on_start(self, info: dict[str, Any]) -> None:
        worker = {"parameters": info["parameters"], "device": info["device"], "worker_pid": os.getpid()}
        self.beat.push(result=worker)
        live.publish(self.run.public_id, {"type": "status", "status": "running", "info": info})

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        rate = step / max(elapsed, 1e-9)
        progress = {
            "phase": "training",
            "step": step,
            "total": self.total,
            "elapsed": round(elapsed, 2),
            "steps_per_s": round(rate, 1),
            "eta_s": round((self.total - step) / rate, 1) if rate > 0 else None,
            "losses": {k: _finite_or_none(v) for k, v in losses.items()},
        }
        self.last_progress = progress
        self.beat.push(progress={**progress, "quality": self.quality} if self.quality else progress)
        live.publish(self.run.public_id, {"type": "progress", **progress})

    def announce(self, phase: str) -> None:
        """After training: tell viewers the run is now "scoring" or "sampling" (not stuck at 100 %)."""
        self.last_progress = {**self.last_progress, "phase": phase, "eta_s": None}
        self.beat.push(progress=self.last_progress)
        live.publish(self.run.public_id, {"type": "progress", **self.last_progress})

    def on_preview(self, step: int, samples: torch.Tensor) -> None:
        preview = {"step": step, **encode_preview(samples, self.dataset)}
        self.beat.push(preview={**preview, "density": self.density} if self.density else preview)
        live.publish(self.run.public_id, {"type": "preview", **preview})

    def on_quality(self, check: QualityCheck) -> None:
        """A quality check of the stopping rule: streamed, and kept with the run for late viewers."""
        self.quality.append(_json_safe(check.as_dict()))
        self.beat.push(progress={**self.last_progress, "quality": self.quality})
        live.publish(self.run.public_id, {"type": "quality", **self.quality[-1]})

    def should_stop(self) -> bool:
        return self.beat.must_stop


def _finite_or_none(value: float) -> float | None:
    return round(value, 5) if np.isfinite(value) else None


def execute(lease: services.Lease) -> str:
    """Train, evaluate and store one run; returns the final status (or "lost")."""
    run = Run.objects.get(pk=lease.run_id)
    recipe = recipes.get(run.recipe)
    beat = Heartbeat(lease)
    beat.start()
    try:
        with _interrupted_by_shutdown(beat):
            return _train_and_store(run, recipe, beat, lease)
    except Exception as exc:
        log.exception("run %s failed", run.pk)
        reason = _timeout_reason(exc) or f"{type(exc).__name__}: {exc}"
        status = RunStatus.TIMED_OUT if _timeout_reason(exc) else RunStatus.FAILED
        services.transition(run.pk, status, reason, from_states=(RunStatus.RUNNING,), lease_token=lease.token)
        live.publish(run.public_id, {"type": "status", "status": status, "reason": reason})
        return status
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
        close_old_connections()


@contextlib.contextmanager
def _interrupted_by_shutdown(beat: Heartbeat) -> Iterator[None]:
    """While the run trains, SIGTERM (the stack or the container is stopping; Celery's pool process
    would otherwise die at once) stops it at the next step, to be recorded as interrupted. Only the
    main thread may set signal handlers: elsewhere (tests in threads) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, _frame: Any) -> None:
        beat.interrupted = f"interrupted: the worker was stopped ({signal.Signals(signum).name}) while it ran"

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wall_cap(recipe: recipes.Recipe) -> float:
    return min(recipe.seconds_max, settings.ATLAS_RUN_MAX_SECONDS)


def _binding_demo_s(recipe: recipes.Recipe, train_settings: dict[str, Any]) -> float | None:
    """The demo's seconds when they end training before the wall-time cap would (reaching them is
    a demo's normal end, succeeded; reaching the cap is timed_out)."""
    demo = recipe.demo_budget_s(train_settings)
    return demo if demo is not None and demo < wall_cap(recipe) else None


def _timeout_reason(exc: Exception) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    return "the worker's time limit was reached" if isinstance(exc, SoftTimeLimitExceeded) else ""


def _train_and_store(run, recipe, beat: Heartbeat, lease: services.Lease) -> str:
    model, dataset, train_settings = recipe.build(run.config, device=trainer.pick_device())
    reporter = LiveReporter(run, dataset, beat, train_settings["steps"])
    if reporter.density is not None:
        live.publish(run.public_id, {"type": "density", **reporter.density})
        beat.push(preview={"density": reporter.density})
    quality = _quality_stop(model, dataset, train_settings, reporter)
    demo_s = _binding_demo_s(recipe, train_settings)  # a demo's seconds, when they end it before the cap
    result = trainer.train(
        model,
        dataset,
        budget=trainer.Budget(train_settings["steps"], demo_s or wall_cap(recipe)),
        callbacks=[reporter, *quality],
        seed=train_settings["seed"],
        preview_n=PREVIEW_N[dataset.spec.kind],
        preview_every_s=settings.ATLAS_RUN_PREVIEW_EVERY,
        progress_every_s=settings.ATLAS_RUN_PROGRESS_EVERY,
    )
    if beat.lost:
        return "lost"  # another attempt or the reaper owns the run now: write nothing
    if beat.interrupted:
        return _interrupt(run, lease, beat.interrupted, reporter.last_progress)
    status, reason = _outcome(result, beat, demo_s)
    if result.steps:  # the trained model's samples first: scoring (likelihoods, features) takes longer
        reporter.on_preview(
            result.steps, trainer.preview_samples(model, PREVIEW_N[dataset.spec.kind], run.seed)
        )
    reporter.announce("scoring")
    metrics = (
        evaluate.evaluate(
            model,
            dataset,
            n=recipe.eval_samples,
            seed=train_settings["seed"],
            nll_n=recipe.nll_n(train_settings),
        )
        if result.steps
        else {}
    )
    reporter.announce("sampling")
    fields = _artifacts(run, model, dataset, result, metrics)
    fields["result"] = _result_info(run, model, result)
    if quality:
        fields["result"]["quality"] = _quality_info(quality[0])
    fields["progress"] = {**reporter.last_progress, "step": result.steps, "total": train_settings["steps"]}
    if reporter.quality:
        fields["progress"]["quality"] = reporter.quality  # the run page draws quality over time from it
    if not services.transition(
        run.pk,
        status,
        reason,
        from_states=(RunStatus.RUNNING,),
        lease_token=lease.token,
        metrics=_json_safe(metrics),
        loss_history=_history(result),
        **fields,
    ):
        return "lost"
    live.publish(run.public_id, {"type": "status", "status": status, "reason": reason})
    return status


def _interrupt(run: Run, lease: services.Lease, why: str, progress: dict[str, Any]) -> str:
    """Record the interruption (no evaluation, no artifacts: the run starts again when re-queued)."""
    reason = f"{why}; re-queued by the next start or the reaper"
    if not services.interrupt(lease, reason, progress=progress):
        return "lost"
    live.publish(run.public_id, {"type": "status", "status": RunStatus.INTERRUPTED, "reason": reason})
    return RunStatus.INTERRUPTED


def _quality_stop(model, dataset: datasets.Dataset, train_settings: dict[str, Any], reporter: LiveReporter):
    """The demo's stopping rule (a list: empty when the run trains its whole budget)."""
    if train_settings.get("stop") != "converged" or dataset.modes is None:
        return []
    return [
        QualityStop(
            model,
            dataset,
            seed=train_settings["seed"],
            every_s=settings.ATLAS_RUN_QUALITY_EVERY,
            on_check=reporter.on_quality,
        )
    ]


def _quality_info(stop: QualityStop) -> dict[str, Any]:
    first = stop.converged_at
    return {
        "rule": f"verdict-grade bar (judge_2d) on {stop.n} fresh samples, {stop.patience} checks in a row",
        "converged_at_step": first.step if first else None,
        "converged_at_train_s": round(first.train_s, 2) if first else None,
        "history": [_json_safe(check.as_dict()) for check in stop.history],
    }


def _outcome(result: trainer.TrainResult, beat: Heartbeat, demo_s: float | None) -> tuple[str, str]:
    if beat.cap:
        return RunStatus.TIMED_OUT, beat.cap + "; partial metrics kept"
    if result.stop_reason == "cancelled":
        return RunStatus.CANCELLED, "cancelled while running; partial metrics kept"
    if result.stop_reason == "time_budget" and demo_s is not None:
        return (
            RunStatus.SUCCEEDED,
            f"trained for the demo's {demo_s:g} s ({result.steps} steps); stop: budget trains every step",
        )
    if result.stop_reason == "time_budget":
        return RunStatus.TIMED_OUT, f"wall-time cap reached after {result.steps} steps; partial metrics kept"
    if result.stop_reason == "non_finite":
        return RunStatus.FAILED, result.message
    if result.stop_reason == "converged":
        return (
            RunStatus.SUCCEEDED,
            f"converged after {result.steps} steps: the quality bar held at two checks in a row",
        )
    return RunStatus.SUCCEEDED, f"completed {result.steps} steps"


def _artifacts(
    run: Run, model, dataset: datasets.Dataset, result: trainer.TrainResult, metrics
) -> dict[str, Any]:
    """Sample figure, raw samples and loss curves, saved through the configured storage backend."""
    samples, _ = evaluate.draw(model, 512 if dataset.spec.kind == "points2d" else 100, seed=run.seed)
    buffer = io.BytesIO()
    np.save(buffer, samples.numpy())
    run.samples_npy.save("samples.npy", ContentFile(buffer.getvalue()), save=False)
    with tempfile.TemporaryDirectory(prefix="atlas-run-") as tmp:
        figure = Path(tmp) / "samples.png"
        if dataset.spec.kind == "points2d":
            plots.scatter_2d(samples, dataset, figure, title=f"{run.recipe} · {run.dataset}")
        elif dataset.spec.kind == "image":
            plots.digit_grid(samples, figure, title=run.recipe)
        if figure.exists():
            run.samples_png.save("samples.png", ContentFile(figure.read_bytes()), save=False)
        if result.history:
            curves = Path(tmp) / "losses.png"
            plots.loss_curves(result.history, curves, title=run.recipe)
            run.losses_png.save("losses.png", ContentFile(curves.read_bytes()), save=False)
    return {
        "samples_npy": run.samples_npy.name,
        "samples_png": run.samples_png.name,
        "losses_png": run.losses_png.name,
    }


def _result_info(run: Run, model, result: trainer.TrainResult) -> dict[str, Any]:
    return {
        "steps": result.steps,
        "stop_reason": result.stop_reason,
        "wall_time_s": round(result.wall_time_s, 3),
        "train_time_s": round(result.train_time_s, 3),
        "steps_per_s": round(result.steps_per_s, 2),
        "nfe": model.nfe,
        "parameters": model.parameter_count(),
        "device": result.device,
        "seed": run.seed,
        "batch_size": result.batch_size,
        "final_losses": _json_safe(result.final_losses),
        "versions": {
            "code": code_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def _history(result: trainer.TrainResult) -> dict[str, list]:
    return {k: [[s, _finite_or_none(v)] for s, v in points] for k, points in result.history.items()}


def _json_safe(value: Any) -> Any:
    """NaN and inf are not JSON: they become null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
