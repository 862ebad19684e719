"""The trainer with a toy family (a learnable Gaussian), independent of the real families."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import torch

from compute import datasets
from compute.families.base import DataSpec, Family, LogLikelihood
from compute.trainer import Budget, Callback, LossHistory, pick_device, train


@dataclass(frozen=True)
class ToyConfig:
    variant: str = "plain"
    lr: float = 0.05
    nan_at: int | None = None  # return a NaN loss at this step


class Toy(Family):
    """x ~ N(mu, exp(log_std)^2 I): fits a Gaussian by maximum likelihood."""

    name: ClassVar[str] = "toy"
    family: ClassVar[str] = "flow"
    variants: ClassVar[tuple[str, ...]] = ("plain",)
    data_kinds: ClassVar[tuple[str, ...]] = ("points2d", "image")
    Config: ClassVar[type] = ToyConfig

    def __init__(self, config: ToyConfig, spec: DataSpec, seed: int = 0, device: str = "cpu"):
        super().__init__(config, spec, seed, device)
        self.mu = torch.nn.Parameter(torch.randn(spec.dim, generator=self.generator) + 3.0)
        self.log_std = torch.nn.Parameter(torch.zeros(spec.dim))
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)
        self.steps = 0
        self.seen_labels: list[torch.Tensor | None] = []

    def _nll(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1)
        z = (x - self.mu) / self.log_std.exp()
        return 0.5 * (z**2).sum(1) + self.log_std.sum() + 0.5 * x.shape[1] * math.log(2 * math.pi)

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.steps += 1
        self.seen_labels.append(labels)
        loss = self._nll(batch).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.config.nan_at == self.steps:
            return {"loss": float("nan")}
        return {"loss": loss.item(), "std": self.log_std.exp().mean().item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        z = torch.randn(n, self.spec.dim, generator=self.generator)
        return (self.mu + self.log_std.exp() * z).reshape(n, *self.spec.shape)

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        return LogLikelihood(values=-self._nll(x).detach(), kind="exact")


class Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.stop_after = stop_after
        self.steps_seen = 0

    def on_start(self, info: dict[str, Any]) -> None:
        self.events.append(("start", info))

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        self.steps_seen = step
        self.events.append(("progress", step))

    def on_preview(self, step: int, samples: torch.Tensor) -> None:
        self.events.append(("preview", (step, tuple(samples.shape))))

    def on_end(self, result: Any) -> None:
        self.events.append(("end", result))

    def should_stop(self) -> bool:
        return self.stop_after is not None and self.steps_seen >= self.stop_after

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.events if k == kind]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _toy(seed: int = 0, **cfg: Any) -> tuple[Toy, datasets.Dataset]:
    data = datasets.load("ring8")
    return Toy(ToyConfig(**cfg), data.spec, seed=seed), data


def test_completes_the_step_budget_and_reports_in_order() -> None:
    model, data = _toy()
    rec = Recorder()
    result = train(
        model,
        data,
        budget=Budget(300),
        batch_size=64,
        callbacks=[rec],
        seed=0,
        preview_every_s=1e9,
        preview_n=16,
        progress_every_s=0.0,
    )
    assert result.stop_reason == "completed" and result.steps == 300
    assert [k for k, _ in rec.events][0] == "start" and [k for k, _ in rec.events][-1] == "end"
    assert rec.of("start")[0]["parameters"] == 4 and rec.of("start")[0]["dataset"] == "ring8"
    assert rec.of("preview") == [(1, (16, 2))]  # the first preview right after the first step
    assert rec.of("progress") == list(range(1, 301))
    assert rec.of("end")[0] is result
    losses = [v for _, v in result.history["loss"]]
    assert losses[-1] < losses[0]
    assert abs(result.final_losses["std"] - math.sqrt(2)) < 0.3  # ring of radius 2: std per axis sqrt(2)
    assert result.steps_per_s > 0 and result.batch_size == 64


def test_progress_is_throttled_but_the_last_step_is_reported() -> None:
    model, data = _toy()
    rec = Recorder()
    train(model, data, budget=Budget(50), batch_size=8, callbacks=[rec], preview_n=0, progress_every_s=1e9)
    assert rec.of("progress") == [50]
    assert rec.of("preview") == []


def test_time_budget_stops_the_run() -> None:
    model, data = _toy()
    result = train(model, data, budget=Budget(10**9, seconds=0.3), batch_size=8, preview_n=0)
    assert result.stop_reason == "time_budget"
    assert 0 < result.steps < 10**9 and result.wall_time_s < 5


def test_should_stop_cancels() -> None:
    model, data = _toy()
    rec = Recorder(stop_after=7)
    result = train(
        model, data, budget=Budget(1000), batch_size=8, callbacks=[rec], preview_n=0, progress_every_s=0.0
    )
    assert result.stop_reason == "cancelled" and result.steps == 7


def test_non_finite_loss_stops_and_reports() -> None:
    model, data = _toy(nan_at=4)
    rec = Recorder()
    result = train(model, data, budget=Budget(100), batch_size=8, callbacks=[rec], preview_n=0)
    assert result.stop_reason == "non_finite" and result.steps == 4
    assert "loss" in result.message and "step 4" in result.message
    assert rec.of("end")[0].stop_reason == "non_finite"


def test_same_seed_same_history() -> None:
    runs = []
    for _ in range(2):
        model, data = _toy(seed=1)
        runs.append(train(model, data, budget=Budget(40), batch_size=16, seed=5, preview_n=0).history)
    assert runs[0] == runs[1]
    model, data = _toy(seed=1)
    other = train(model, data, budget=Budget(40), batch_size=16, seed=6, preview_n=0).history
    assert other != runs[0]


def test_labelled_datasets_are_shuffled_with_their_labels() -> None:
    data = datasets.load("digits")
    model = Toy(ToyConfig(lr=0.01), data.spec)
    result = train(model, data, budget=Budget(30), batch_size=100, preview_n=0)
    assert result.steps == 30
    assert all(lb is not None and lb.shape == (100,) for lb in model.seen_labels)
    # 14 full batches per epoch of 1,437 images: step 15 starts a new shuffled epoch
    assert not torch.equal(model.seen_labels[0], model.seen_labels[14])


def test_checkpoint_save_and_resume(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    model, data = _toy()
    train(model, data, budget=Budget(20), batch_size=8, preview_n=0, checkpoint_path=path)
    assert path.exists()
    resumed, _ = _toy(seed=7)
    result = train(resumed, data, budget=Budget(30), batch_size=8, preview_n=0, checkpoint_path=path)
    assert result.resumed_from == 20 and result.steps == 30 and resumed.steps == 10
    assert torch.load(path, weights_only=True)["step"] == 30


def test_loss_history_is_bounded_and_keeps_the_mean() -> None:
    h = LossHistory(max_points=500)
    for step in range(1, 10_001):
        h.add(step, {"loss": float(step)})
    points = h.finish(10_000)["loss"]
    assert 250 <= len(points) <= 500
    assert points[-1][0] == 10_000
    # each point is a window mean, so the points are increasing and average to the overall mean
    values = [v for _, v in points]
    assert values == sorted(values)
    assert abs(sum(values) / len(values) - 5000.5) < 50


def test_pick_device_honours_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ATLAS_DEVICE", "cpu")
    assert pick_device() == "cpu"
    monkeypatch.delenv("ATLAS_DEVICE")
    assert pick_device() == ("cuda" if torch.cuda.is_available() else "cpu")


def test_previews_do_not_change_training() -> None:
    runs = []
    for preview_every in (0.0, 1e-9):  # no preview after the first vs a preview every step
        model, data = _toy(seed=2)
        result = train(
            model, data, budget=Budget(20), batch_size=16, seed=4, preview_n=8, preview_every_s=preview_every
        )
        runs.append((result.history, model.mu.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_previews_use_fixed_noise_and_leave_the_generator_alone() -> None:
    from compute.trainer import preview_samples

    model, _ = _toy()
    state = model.generator.get_state()
    global_state = torch.get_rng_state()
    a, b = preview_samples(model, 4, seed=0), preview_samples(model, 4, seed=0)
    assert torch.equal(a, b) and not torch.equal(a, preview_samples(model, 4, seed=1))
    assert torch.equal(model.generator.get_state(), state)
    assert torch.equal(torch.get_rng_state(), global_state)
