"""Specs and network sizes shared by the diffusion and flow-matching tests: both families train the
same networks (compute/families/denoising.py) on the same kinds of data."""

from __future__ import annotations

from typing import Any

import torch

from compute.families.base import DataSpec, Family

POINTS = DataSpec(kind="points2d", shape=(2,))  # no bounds: z = x
RING_SPEC = DataSpec(kind="points2d", shape=(2,), bounds=(-3.0, 3.0))
DIGITS = DataSpec(kind="image", shape=(1, 8, 8), levels=17, num_classes=10)

SMALL_NETWORK: dict[str, Any] = {
    "hidden": 32,
    "depth": 2,
    "time_dim": 16,
    "fourier_features": 8,
    "channels": 16,
}


def small_config(config_cls: type, **kw: Any) -> Any:
    """``config_cls`` with the small network above, overridden by ``kw``."""
    return config_cls(**{**SMALL_NETWORK, **kw})


def two_blob_losses(model: Family, steps: int = 150) -> list[float]:
    """``model.train_step`` losses on batches of two 0.05-wide blobs at (+-2, 0), one per step."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])
    losses = []
    for _ in range(steps):
        x = centres[torch.randint(0, 2, (128,), generator=g)] + 0.05 * torch.randn(128, 2, generator=g)
        losses.append(model.train_step(x)["loss"])
    return losses
