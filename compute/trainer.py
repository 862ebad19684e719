"""The training loop shared by every family; it knows nothing about any of them.

It seeds everything, draws batches reproducibly, calls ``model.train_step`` until a step or
wall-clock budget runs out, and reports through callbacks (the CLI's progress bar, the Celery
task's websocket messages, the benchmark's periodic evaluation):

    on_start(info)                       once, before the first step
    on_progress(step, losses, elapsed)   at most every ``progress_every_s`` (and at the last step)
    on_preview(step, samples)            right after the first step, then every ``preview_every_s``
    on_end(result)                       once, with the TrainResult
    should_stop() -> bool                polled every step; True cancels the run
    converged() -> bool                  polled every step; True ends the run as done (a declared
                                         stopping rule, e.g. compute.stopping.QualityStop)

A callback object implements any subset of these. Stop reasons: ``completed`` (step budget),
``converged`` (a callback's stopping rule), ``time_budget``, ``cancelled`` and ``non_finite``
(a NaN/inf loss: stop and report, never crash).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from compute.datasets import Dataset
from compute.families.base import Family

StopReason = Literal["completed", "converged", "time_budget", "cancelled", "non_finite"]
MAX_HISTORY = 500  # loss-history points kept per key


@dataclass(frozen=True)
class Budget:
    """Stop after ``steps`` optimisation steps or ``seconds`` of wall time, whichever comes first."""

    steps: int
    seconds: float | None = None


@dataclass
class TrainResult:
    steps: int  # optimisation steps done (including resumed ones)
    stop_reason: StopReason
    wall_time_s: float  # this call's wall time, previews included
    train_time_s: float  # time spent inside train_step only
    final_losses: dict[str, float]  # mean over the last ~50 steps
    history: dict[str, list[tuple[int, float]]]  # key -> [(step, mean loss over a window)]
    device: str
    seed: int
    message: str = ""  # why a run stopped early (e.g. which loss became non-finite)
    resumed_from: int = 0
    batch_size: int = 0

    @property
    def steps_per_s(self) -> float:
        return (self.steps - self.resumed_from) / max(self.train_time_s, 1e-9)


class Callback:
    """No-op base; subclass and override what you need (duck-typed objects work too)."""

    def on_start(self, info: dict[str, Any]) -> None: ...
    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None: ...
    def on_preview(self, step: int, samples: Tensor) -> None: ...
    def on_end(self, result: TrainResult) -> None: ...
    def should_stop(self) -> bool:
        return False

    def converged(self) -> bool:
        return False


def pick_device() -> str:
    """``ATLAS_DEVICE`` if set, else CUDA when available, else CPU."""
    forced = os.environ.get("ATLAS_DEVICE")
    if forced:
        return forced
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class LossHistory:
    """Windowed means of each loss, at most ``max_points`` per key.

    Each point is the mean over a window of ``stride`` steps; when a key's list grows past
    ``max_points`` neighbouring points are merged pairwise and the stride doubles, so the
    history of a 100-step and a 100,000-step run both fit in a few kilobytes.
    """

    def __init__(self, max_points: int = MAX_HISTORY):
        self.max_points = max_points
        self.stride = 1
        self.points: dict[str, list[tuple[int, float]]] = {}
        self._sum: dict[str, float] = {}
        self._count = 0
        self.recent: list[dict[str, float]] = []  # last 50 raw loss dicts, for final_losses

    def add(self, step: int, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self._sum[k] = self._sum.get(k, 0.0) + v
        self._count += 1
        self.recent = (self.recent + [losses])[-50:]
        if self._count >= self.stride:
            self._flush(step)

    def _flush(self, step: int) -> None:
        if self._count == 0:
            return
        for k, s in self._sum.items():
            self.points.setdefault(k, []).append((step, s / self._count))
        self._sum, self._count = {}, 0
        if max(len(p) for p in self.points.values()) > self.max_points:
            # Merge pairs: keep the later step, average the values.
            for k, p in self.points.items():
                merged = [(p[i + 1][0], (p[i][1] + p[i + 1][1]) / 2) for i in range(0, len(p) - 1, 2)]
                self.points[k] = merged + ([p[-1]] if len(p) % 2 else [])
            self.stride *= 2

    def finish(self, step: int) -> dict[str, list[tuple[int, float]]]:
        self._flush(step)
        return self.points

    def final(self) -> dict[str, float]:
        keys = {k for d in self.recent for k in d}
        return {k: float(np.mean([d[k] for d in self.recent if k in d])) for k in sorted(keys)}


def batches(dataset: Dataset, batch_size: int, seed: int) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Endless reproducible batches: fresh draws for the 2-D sets, else reshuffled epochs of the
    train set (with labels when the dataset has them)."""
    g = torch.Generator().manual_seed(seed)
    if dataset.can_sample:
        while True:
            yield dataset.sample(batch_size, g), None
    n = len(dataset.train)
    batch_size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n - batch_size + 1, batch_size):  # drop the ragged last batch
            idx = perm[i : i + batch_size]
            labels = dataset.train_labels[idx] if dataset.train_labels is not None else None
            yield dataset.train[idx], labels


def _emit(callbacks: Sequence[Any], name: str, *args: Any) -> None:
    for cb in callbacks:
        fn = getattr(cb, name, None)
        if fn is not None:
            fn(*args)


def _stop_requested(callbacks: Sequence[Any]) -> bool:
    return any(bool(getattr(cb, "should_stop", lambda: False)()) for cb in callbacks)


def _converged(callbacks: Sequence[Any]) -> bool:
    return any(bool(getattr(cb, "converged", lambda: False)()) for cb in callbacks)


@contextmanager
def isolated_rng(model: Family, seed: int | None = None) -> Iterator[None]:
    """Sample without disturbing training: the global torch RNGs (CPU, and the model's CUDA device)
    and the model's own ``generator`` are restored on exit, optionally seeded on entry.

    Without this, a preview or a mid-run evaluation would consume (or, seeded, reset) the noise
    stream that training draws from, and a run's result would depend on wall-clock timing.
    """
    gen = getattr(model, "generator", None)
    saved = gen.get_state() if isinstance(gen, torch.Generator) else None
    cuda = [model.device.index or 0] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if seed is not None:
            torch.manual_seed(seed)
            if saved is not None:
                gen.manual_seed(seed)
        try:
            yield
        finally:
            if saved is not None:
                gen.set_state(saved)


@torch.no_grad()
def preview_samples(model: Family, n: int, seed: int | None = 0) -> Tensor:
    """n samples in eval mode (dropout/batch-norm off), back in train mode afterwards.

    With a fixed ``seed`` every preview of a run uses the same noise, so successive previews show
    the model changing rather than the noise; training randomness is left untouched.
    """
    was_training = model.training
    model.eval()
    try:
        with isolated_rng(model, seed):
            return model.sample(n).detach().cpu()
    finally:
        model.train(was_training)


def save_checkpoint(path: str | Path, model: Family, step: int) -> None:
    """state_dict + step, written atomically. The optimiser is not part of the Family contract,
    so a resumed run restarts its optimiser state (Adam moments warm up again)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"model": model.state_dict(), "step": step}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, model: Family) -> int:
    """Load a checkpoint into ``model``; returns the step it was saved at."""
    state = torch.load(path, map_location=model.device, weights_only=True)
    model.load_state_dict(state["model"])
    return int(state["step"])


def train(
    model: Family,
    dataset: Dataset,
    *,
    budget: Budget,
    batch_size: int | None = None,
    callbacks: Sequence[Any] = (),
    seed: int = 0,
    preview_every_s: float = 2.0,
    preview_n: int = 512,
    progress_every_s: float = 0.2,
    checkpoint_path: str | Path | None = None,
    checkpoint_every_s: float = 60.0,
) -> TrainResult:
    """Train ``model`` on ``dataset`` until ``budget`` runs out, a callback cancels, or a loss
    becomes non-finite. ``batch_size`` defaults to ``model.config.batch_size`` when the family
    has one, else 256. ``preview_every_s <= 0`` disables previews after the first one;
    ``preview_n = 0`` disables previews altogether."""
    seed_everything(seed)
    device = model.device
    if batch_size is None:
        batch_size = int(getattr(model.config, "batch_size", 256))
    start_step = 0
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        start_step = load_checkpoint(checkpoint_path, model)
    model.train()
    history = LossHistory()
    data = batches(dataset, batch_size, seed + start_step)
    _emit(
        callbacks,
        "on_start",
        {
            "model": getattr(model, "name", type(model).__name__),
            "variant": getattr(model.config, "variant", None),
            "dataset": dataset.name,
            "device": str(device),
            "seed": seed,
            "batch_size": batch_size,
            "budget_steps": budget.steps,
            "budget_seconds": budget.seconds,
            "parameters": model.parameter_count(),
            "resumed_from": start_step,
        },
    )

    t0 = time.perf_counter()
    train_time = 0.0
    last_progress = last_preview = last_ckpt = t0
    step = start_step
    reason: StopReason = "completed"
    message = ""
    losses: dict[str, float] = {}
    while step < budget.steps:
        if _stop_requested(callbacks):
            reason = "cancelled"
            break
        if _converged(callbacks):
            reason = "converged"
            break
        if budget.seconds is not None and time.perf_counter() - t0 >= budget.seconds:
            reason = "time_budget"
            break
        batch, labels = next(data)
        batch = batch.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True) if labels is not None else None
        ts = time.perf_counter()
        losses = {k: float(v) for k, v in model.train_step(batch, labels).items()}
        train_time += time.perf_counter() - ts
        step += 1
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            reason, message = "non_finite", f"non-finite loss {', '.join(bad)} at step {step}"
            _emit(callbacks, "on_progress", step, losses, time.perf_counter() - t0)
            break
        history.add(step, losses)

        now = time.perf_counter()
        if now - last_progress >= progress_every_s or step == budget.steps:
            _emit(callbacks, "on_progress", step, losses, now - t0)
            last_progress = now
        first = step == start_step + 1
        if preview_n > 0 and (first or (preview_every_s > 0 and now - last_preview >= preview_every_s)):
            _emit(callbacks, "on_preview", step, preview_samples(model, preview_n, seed))
            last_preview = time.perf_counter()
        if checkpoint_path is not None and now - last_ckpt >= checkpoint_every_s:
            save_checkpoint(checkpoint_path, model, step)
            last_ckpt = now

    if checkpoint_path is not None and reason != "non_finite":
        save_checkpoint(checkpoint_path, model, step)
    result = TrainResult(
        steps=step,
        stop_reason=reason,
        wall_time_s=time.perf_counter() - t0,
        train_time_s=train_time,
        final_losses=history.final() or losses,
        history=history.finish(step),
        device=str(device),
        seed=seed,
        message=message,
        resumed_from=start_step,
        batch_size=batch_size,
    )
    _emit(callbacks, "on_end", result)
    return result
