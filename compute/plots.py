"""Figures for runs: 2-D samples over the true density, digit grids, loss curves (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on workers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from compute.datasets import Dataset  # noqa: E402

DEFAULT_BOX = (-4.0, 4.0)  # the square shown for 2-D data without ``spec.bounds``


def scatter_2d(samples: Tensor, dataset: Dataset, path: str | Path, title: str = "") -> None:
    """Samples (N, 2) as dots over contours of the true log density (where known), on spec.bounds."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    draw_data(ax, dataset, grid=300)
    x = finite_points(samples)
    ax.scatter(x[:, 0], x[:, 1], s=3, c="#d62728", alpha=0.6, linewidths=0, label="samples")
    square_box(ax, dataset.spec.bounds)
    ax.set_title(title or dataset.name, fontsize=10)
    _save(fig, path)


def draw_data(ax: Any, dataset: Dataset, grid: int) -> None:
    """The true log density's contours on a grid x grid mesh of the box, or, where there is no
    closed form, 2,000 test points."""
    if dataset.spec.true_log_density is None:
        ref = dataset.test[:2000].numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="#9ecae1", alpha=0.5, linewidths=0)
        return
    lo, hi = dataset.spec.bounds or DEFAULT_BOX
    axis = torch.linspace(lo, hi, grid)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    logp = dataset.spec.true_log_density(torch.stack([gx.flatten(), gy.flatten()], 1)).reshape(grid, grid)
    # Contours of log p over 8 nats below the peak: narrow modes stay visible as discs.
    top = float(logp[torch.isfinite(logp)].max())
    logp = logp.clamp(min=top - 8).nan_to_num(neginf=top - 8).numpy()
    levels = np.linspace(top - 8, top + 1e-6, 9)
    ax.contourf(gx.numpy(), gy.numpy(), logp, levels=levels, cmap="Blues", alpha=0.5)


def finite_points(samples: Any) -> np.ndarray:
    """Samples (N, 2) as a float numpy array without the rows that hold NaN or inf."""
    x = np.asarray(samples.detach().cpu().float().numpy() if hasattr(samples, "detach") else samples)
    return x[np.isfinite(x).all(1)]


def square_box(ax: Any, bounds: tuple[float, float] | None, ticks: bool = True) -> None:
    """Equal axes on the data's square box (``DEFAULT_BOX`` without bounds), optionally no ticks."""
    lo, hi = bounds or DEFAULT_BOX
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])


def digit_canvas(images: Tensor, nrow: int, rows: int | None = None) -> np.ndarray:
    """The first nrow^2 images (N, 1, 8, 8) in [0, 1] as one grey canvas, dark ink on white, nrow per
    row; ``rows`` fixes the number of rows (default: as many as the images fill)."""
    imgs = images.detach().cpu().float().reshape(-1, 8, 8).clamp(0, 1)[: nrow * nrow].numpy()
    rows = rows or max(1, math.ceil(len(imgs) / nrow))
    canvas = np.ones((rows * 9 + 1, nrow * 9 + 1))
    for i, img in enumerate(imgs):
        r, c = divmod(i, nrow)
        canvas[1 + r * 9 : 9 + r * 9, 1 + c * 9 : 9 + c * 9] = 1 - img
    return canvas


def digit_grid(samples: Tensor, path: str | Path, nrow: int = 10, title: str = "") -> None:
    """The first nrow^2 images (N, 1, 8, 8) in [0, 1] as one grey grid."""
    canvas = digit_canvas(samples, nrow)
    nrows, ncol = (len(canvas) - 1) // 9, nrow
    fig, ax = plt.subplots(figsize=(5, 5 * nrows / ncol + 0.3), dpi=100)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)


def loss_curves(history: dict[str, list[tuple[int, float]]], path: str | Path, title: str = "") -> None:
    """One line per loss key against the step (symlog y when a loss goes negative)."""
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    negative = False
    for key, points in sorted(history.items()):
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, label=key, lw=1.2)
        negative |= min(values) < 0
    ax.set_xlabel("step")
    ax.set_yscale("symlog" if negative else "log" if _all_positive(history) else "linear")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def _all_positive(history: dict[str, list[tuple[int, float]]]) -> bool:
    return all(v > 0 for points in history.values() for _, v in points)


def _save(fig: plt.Figure, path: str | Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
