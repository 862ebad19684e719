"""Figure pieces shared by the failure-mode and unification experiments.

matplotlib (Agg) is imported on first use, so listing or importing an experiment stays cheap; the
drawing primitives themselves are those of the run figures (compute/plots.py).
"""

from __future__ import annotations

from typing import Any

from compute.experiments.base import png


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display on workers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def panel_row(n: int, figsize: tuple[float, float] = (15, 3.9)) -> tuple[Any, Any]:
    """(figure, axes): ``n`` panels side by side."""
    return pyplot().subplots(1, n, figsize=figsize)


def to_png(fig: Any) -> bytes:
    """PNG bytes of a finished figure (tight layout; the figure is closed)."""
    fig.tight_layout()
    return png(fig)


def scatter(ax: Any, samples: Any, dataset: Any, title: str, n: int = 1500) -> None:
    """The first ``n`` samples (N, 2) as red dots over the true log density (or the data), on the
    dataset's box."""
    from compute.plots import draw_data, finite_points, square_box

    draw_data(ax, dataset, grid=200)
    x = finite_points(samples[:n])
    ax.scatter(x[:, 0], x[:, 1], s=2, c="#d62728", alpha=0.6, linewidths=0)
    square_box(ax, dataset.spec.bounds, ticks=False)
    ax.set_title(title, fontsize=8)


def digits(ax: Any, images: Any, title: str, nrow: int = 8, rows: int | None = None) -> None:
    """The first nrow^2 digits (N, 1, 8, 8) in [0, 1] as one grey grid, without axes."""
    from compute.plots import digit_canvas

    ax.imshow(digit_canvas(images, nrow, rows), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
