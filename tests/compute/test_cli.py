"""The command line: list, a tiny train run with every artifact, and exit status 2 on bad input."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from compute import registry
from compute.__main__ import main
from compute.families.base import DataSpec, Family, LogLikelihood


@dataclass(frozen=True)
class ToyConfig:
    variant: str = "plain"
    lr: float = 0.05
    hidden: int = 8


class Toy(Family):
    """A learnable isotropic Gaussian (exact likelihood) registered for the CLI tests only."""

    name: ClassVar[str] = "toy-cli"
    family: ClassVar[str] = "flow"
    variants: ClassVar[tuple[str, ...]] = ("plain", "other")
    data_kinds: ClassVar[tuple[str, ...]] = ("points2d", "image")
    Config: ClassVar[type] = ToyConfig

    def __init__(self, config: ToyConfig, spec: DataSpec, seed: int = 0, device: str = "cpu"):
        super().__init__(config, spec, seed, device)
        self.mu = torch.nn.Parameter(torch.zeros(spec.dim))
        self.log_std = torch.nn.Parameter(torch.zeros(spec.dim))
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    def _nll(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1)
        z = (x - self.mu) / self.log_std.exp()
        return 0.5 * (z**2).sum(1) + self.log_std.sum() + 0.5 * x.shape[1] * math.log(2 * math.pi)

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        loss = self._nll(batch).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, **knobs: Any) -> torch.Tensor:
        z = torch.randn(n, self.spec.dim, generator=self.generator)
        return (self.mu + self.log_std.exp() * z).reshape(n, *self.spec.shape)

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        return LogLikelihood(values=-self._nll(x).detach(), kind="exact")


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(registry._TARGETS, "toy-cli", "tests.compute.test_cli:Toy")
    monkeypatch.setitem(registry._cache, "toy-cli", Toy)
    torch.set_num_threads(1)
    yield


def test_list_prints_models_and_datasets(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in registry.names():
        assert name in out
    for name in ("ring8", "grid25", "digits", "text"):
        assert name in out


def test_train_writes_every_artifact(tmp_path, toy_registered) -> None:
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "toy-cli",
            "--dataset",
            "ring8",
            "--steps",
            "30",
            "--seed",
            "1",
            "--out",
            str(out),
            "--set",
            "lr=0.1",
            "--eval-n",
            "500",
        ]
    )
    assert rc == 0
    for f in ("metrics.json", "samples.npy", "samples.png", "losses.json", "losses.png"):
        assert (out / f).stat().st_size > 0, f
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 30 and m["seed"] == 1 and m["config"]["lr"] == 0.1
    assert m["parameters"] == 4 and m["nfe"] == 1 and m["device"] == "cpu"
    assert m["torch_version"] == torch.__version__ and m["wall_time_s"] > 0
    assert m["metrics"]["likelihood"] == {
        "value": m["metrics"]["likelihood"]["value"],
        "kind": "exact",
        "unit": "nats/example",
    }
    assert m["metrics"]["kl_data_model"]["value"] > 0  # one Gaussian vs a ring of 8
    assert m["metrics"]["num_modes"] == 8
    assert np.load(out / "samples.npy").shape == (500, 2)
    assert "loss" in json.loads((out / "losses.json").read_text())


def test_train_on_digits_writes_a_grid(tmp_path, toy_registered) -> None:
    out = tmp_path / "digits"
    argv = ["train", "toy-cli", "--dataset", "digits", "--steps", "5", "--out", str(out), "--eval-n", "200"]
    assert main(argv) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["metrics"]["likelihood"]["unit"] == "bits/dim"
    assert "frechet_distance" in m["metrics"] and "classes_covered" in m["metrics"]
    assert (out / "samples.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "no-such-model"], "unknown model"),
        (["train", "toy-cli", "--dataset", "mnist"], "unknown dataset"),
        (["train", "toy-cli", "--dataset", "text"], "does not support"),
        (["train", "toy-cli", "--variant", "nope"], "unknown variant"),
        (["train", "toy-cli", "--set", "depth=3"], "unknown config key"),
        (["train", "toy-cli", "--set", "hidden=wide"], "cannot parse"),
        (["train", "toy-cli", "--set", "hidden"], "key=value"),
        (["train", "toy-cli", "--steps", "0"], "positive"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, capsys, toy_registered, tmp_path) -> None:
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_registry_build_validates(toy_registered) -> None:
    spec = DataSpec(kind="points2d", shape=(2,))
    model = registry.build("toy-cli", spec, variant="other", hidden=4)
    assert model.config.variant == "other" and model.config.hidden == 4
    with pytest.raises(ValueError, match="unknown config key"):
        registry.build("toy-cli", spec, width=3)
    with pytest.raises(ValueError, match="does not support"):
        registry.build("toy-cli", DataSpec(kind="tokens", shape=(8,), vocab_size=5))
    with pytest.raises(KeyError, match="valid names"):
        registry.get("nope")
    assert registry.coerce_overrides("toy-cli", {"lr": "1e-3", "hidden": "7"}) == {"lr": 1e-3, "hidden": 7}
    entry = next(e for e in registry.describe() if e["name"] == "toy-cli")
    assert entry["available"] and entry["variants"] == ["plain", "other"]
    assert {"name": "hidden", "default": 8, "type": "int"} in entry["config"]


def test_describe_marks_missing_modules_unavailable(monkeypatch) -> None:
    monkeypatch.setitem(registry._TARGETS, "ghost", "compute.families.ghost:Ghost")
    entry = next(e for e in registry.describe() if e["name"] == "ghost")
    assert entry["available"] is False and "ghost" in entry["error"]
    assert "ghost" in registry.names()


# --------------------------------------------------------------------------------------------
# score: every 2-D metric of saved samples


def _save(tmp_path, arr: np.ndarray, name: str = "s.npy") -> str:
    path = tmp_path / name
    np.save(path, arr)
    return str(path)


def _grid25(n: int = 1000, seed: int = 0) -> np.ndarray:
    from compute import datasets

    return datasets.load("grid25").sample(n, torch.Generator().manual_seed(seed)).numpy()


def test_score_prints_every_metric_and_the_judgement(tmp_path, capsys) -> None:
    assert main(["score", _save(tmp_path, _grid25()), "--dataset", "grid25"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"mmd2", "energy_distance", "sliced_wasserstein", "prdc", "mean_true_log_density"} <= set(out)
    assert out["literature"]["modes_captured"] == 25 and out["judgement"]["meets"] is True


def test_score_judges_noise_as_failing(tmp_path, capsys) -> None:
    noise = np.random.default_rng(0).uniform(-5, 5, size=(1000, 2))
    assert main(["score", _save(tmp_path, noise), "--dataset", "grid25"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["judgement"]["meets"] is False and out["judgement"]["diagnosis"] == "noise"


def test_score_leaves_out_the_judgement_on_a_set_without_modes(tmp_path, capsys) -> None:
    assert main(["score", _save(tmp_path, _grid25()), "--dataset", "moons"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "judgement" not in out and "mmd2" in out


@pytest.mark.parametrize(
    ("make", "dataset", "message"),
    [
        (lambda: np.zeros((100, 3)), "grid25", "(N, 2)"),
        (lambda: np.zeros(100), "grid25", "(N, 2)"),
        (lambda: np.full((100, 2), np.nan), "grid25", "NaN"),
        (lambda: np.zeros((100, 2)), "nope", "unknown dataset"),
        (lambda: np.zeros((100, 2)), "digits", "2-D sets"),
    ],
)
def test_score_rejects_bad_input_with_one_line_and_exit_2(tmp_path, capsys, make, dataset, message) -> None:
    assert main(["score", _save(tmp_path, make()), "--dataset", dataset]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_score_rejects_an_unreadable_file(tmp_path, capsys) -> None:
    path = tmp_path / "junk.npy"
    path.write_text("not an array")
    assert main(["score", str(path), "--dataset", "grid25"]) == 2
    assert main(["score", str(tmp_path / "missing.npy"), "--dataset", "grid25"]) == 2
    assert capsys.readouterr().err.count("\n") == 2
