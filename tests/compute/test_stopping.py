"""QualityStop: a 2-D demo ends once the verdict-grade bar holds at consecutive checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import torch

from compute import datasets
from compute.families.base import DataSpec, Family, LogLikelihood
from compute.stopping import QualityStop
from compute.trainer import Budget, train


@dataclass(frozen=True)
class SwitchConfig:
    good_after: int | None = 5  # exact samples from this step on; None: always collapsed
    dataset: str = "ring8"


class Switch(Family):
    """A stand-in whose samples collapse onto one mode until ``good_after`` steps, then are exact."""

    name: ClassVar[str] = "switch"
    family: ClassVar[str] = "flow"
    variants: ClassVar[tuple[str, ...]] = ("plain",)
    data_kinds: ClassVar[tuple[str, ...]] = ("points2d",)
    Config: ClassVar[type] = SwitchConfig

    def __init__(self, config: SwitchConfig, spec: DataSpec, seed: int = 0, device: str = "cpu"):
        super().__init__(config, spec, seed, device)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.data = datasets.load(config.dataset)
        self.steps = 0

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        self.steps += 1
        return {"loss": 1.0 / self.steps}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        exact = self.data.sample(n, self.generator)
        good = self.config.good_after is not None and self.steps >= self.config.good_after
        return exact if good else self.data.modes[0] + 0.01 * torch.randn(n, 2, generator=self.generator)

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        return LogLikelihood(values=torch.zeros(len(x)), kind="unavailable")


def run(good_after: int | None, steps: int = 40) -> tuple[Any, QualityStop]:
    data = datasets.load("ring8")
    model = Switch(SwitchConfig(good_after), data.spec)
    stop = QualityStop(model, data, seed=0, every_s=0.0, n=1000, patience=2)
    result = train(
        model, data, budget=Budget(steps), batch_size=4, callbacks=[stop], preview_n=0, progress_every_s=0.0
    )
    return result, stop


def test_it_stops_a_run_once_quality_holds_at_two_checks():
    result, stop = run(good_after=5)
    assert result.stop_reason == "converged" and result.steps == 6
    assert [check.meets for check in stop.history] == [False] * 4 + [True, True]
    assert stop.converged_at is not None and stop.converged_at.step == 5


def test_it_lets_a_run_that_never_meets_the_bar_use_its_budget():
    result, stop = run(good_after=None, steps=12)
    assert result.stop_reason == "completed" and result.steps == 12
    assert stop.converged_at is None
    assert {check.diagnosis for check in stop.history} == {"collapse"}


def test_it_rejects_a_dataset_without_modes():
    data = datasets.load("moons")
    with pytest.raises(ValueError, match="Gaussian-mixture"):
        QualityStop(Switch(SwitchConfig(dataset="ring8"), data.spec), data, seed=0)
