"""Shared fixtures for the compute tests: one thread, tiny model configs, trained-model cache.

No Django here; run with ``pytest tests/compute -p no:django``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from compute import datasets, registry
from compute.families.base import Family
from compute.trainer import Budget, train

# Two cores are shared by several engineers: keep every compute test single-threaded.
torch.set_num_threads(1)

DATASET_FOR_KIND = {"points2d": "ring8", "image": "digits", "tokens": "text"}

# Small configs so that the contract suite stays under a minute for all models together.
# Keys a family's Config does not have are ignored, so one table serves every family; a family
# author may add a name-specific entry below.
TINY_COMMON: dict[str, Any] = {
    "hidden": 32,
    "depth": 2,
    "layers": 1,
    "n_layers": 2,
    "num_layers": 2,
    "n_layer": 1,
    "d_model": 32,
    "n_embd": 32,
    "n_head": 2,
    "channels": 16,
    "time_dim": 16,
    "T": 100,
    "sample_nfe": 10,
    "nfe": 10,
    "elbo_timesteps": 10,
    "eval_samples": 4,
    "num_masks": 4,
    "eval_masks": 2,
    "fourier_features": 8,
    "mixture_components": 4,
    "ode_steps": 10,
    "sample_steps": 10,
    "mcmc_steps": 10,
    "langevin_steps": 10,
    "grid_n": 64,
}
TINY_BY_NAME: dict[str, dict[str, Any]] = {
    "ar-grid": {"bins": 32},
    "diffusion": {"warmup_steps": 10},
    "ebm": {"sgld_steps": 10, "grid_size": 64, "buffer_size": 1000},
}


def tiny_overrides(name: str) -> dict[str, Any]:
    """The entries of TINY_COMMON and TINY_BY_NAME[name] that ``name``'s Config has."""
    fields = {f.name for f in dataclasses.fields(registry.get(name).Config)}
    wanted = {**TINY_COMMON, **TINY_BY_NAME.get(name, {})}
    return {k: v for k, v in wanted.items() if k in fields}


def load_for_kind(kind: str) -> datasets.Dataset:
    name = DATASET_FOR_KIND[kind]
    try:
        return datasets.load(name)
    except ValueError as err:  # e.g. the text corpus is still too small
        pytest.skip(f"dataset {name} unavailable: {err}")


def build_tiny(name: str, kind: str, seed: int = 0) -> tuple[Family, datasets.Dataset]:
    data = load_for_kind(kind)
    model = registry.build(name, data.spec, seed=seed, device="cpu", **tiny_overrides(name))
    return model, data


class LossRecorder:
    """Trainer callback that keeps every step's losses (progress_every_s=0)."""

    def __init__(self) -> None:
        self.losses: list[dict[str, float]] = []

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        self.losses.append(dict(losses))


_trained: dict[tuple[str, str], tuple[Family, datasets.Dataset, list[dict[str, float]], Any]] = {}
TRAIN_STEPS = 150


def trained_tiny(name: str, kind: str) -> tuple[Family, datasets.Dataset, list[dict[str, float]], Any]:
    """(model, dataset, per-step losses, TrainResult) after TRAIN_STEPS steps, cached per session."""
    key = (name, kind)
    if key not in _trained:
        model, data = build_tiny(name, kind)
        rec = LossRecorder()
        result = train(
            model,
            data,
            budget=Budget(TRAIN_STEPS),
            batch_size=64,
            callbacks=[rec],
            seed=0,
            preview_n=0,
            progress_every_s=0.0,
        )
        _trained[key] = (model, data, rec.losses, result)
    return _trained[key]
