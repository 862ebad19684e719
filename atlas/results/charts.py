"""The board's SVG charts: a bar chart per metric and a bump chart of the ranks.

This module only computes geometry (coordinates as the strings the SVG shows); the markup is in
`frontend/templates/results/charts/`, rendered by Django's autoescaping templates, so a label
or description can never inject markup into a chart served as `image/svg+xml`.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from atlas.graph import families
from atlas.results.aggregate import Board, Cell, Row
from atlas.results.metrics import Metric, fmt

BAR_WIDTH, BAR_LEFT, BAR_RIGHT, BAR_TOP, BAR_STEP = 760, 190, 170, 54, 30
RANK_WIDTH, RANK_LEFT, RANK_RIGHT, RANK_TOP, RANK_STEP = 780, 60, 150, 120, 34
DASHES = ("", "6 3", "2 3", "8 3 2 3")  # told apart without colour


def _colours() -> list[tuple[str, families.Colours]]:
    return list(families.COLOURS.items())


def bar_chart_svg(board: Board, metric: Metric) -> str:
    """Mean ± std per row (best first) with each seed's value as a dot; rows without a value say why."""
    rows = board.ranking(metric.key)
    width, left, right, top, step = BAR_WIDTH, BAR_LEFT, BAR_RIGHT, BAR_TOP, BAR_STEP
    height = top + step * len(rows) + 30
    stats = [row.cells[metric.key].stat for row in rows]
    extent = [v for s in stats for _, v, _ in s.values] + [
        (s.mean or 0) + (s.std or 0) for s in stats if s.mean is not None
    ]
    lo = min([0.0, *extent])
    hi = max([0.0, *extent]) or 1.0
    scale = (width - left - right) / ((hi - lo) or 1.0)

    def x(v: float) -> float:
        return left + (v - lo) * scale

    context = {
        "width": width,
        "height": height,
        "title": f"{board.spec.title}: {metric.label} ({metric.better} is better)",
        "metric": metric,
        "seeds": str(board.seeds),
        "version": board.version,
        "colours": _colours(),
        "axis_x": f"{x(0):.1f}",
        "axis_top": top - 6,
        "axis_bottom": height - 24,
        "label_x": left - 8,
        "why_x": left + 4,
        "value_x": width - right + 6,
        "bars": [_bar(row, metric, top + i * step, x) for i, row in enumerate(rows)],
        "label_x_axis": left,
        "value_end": width - right,
        "foot_y": height - 8,
        "lo": fmt(lo),
        "hi": fmt(hi),
    }
    return render_to_string("results/charts/bars.svg", context)


def _bar(row: Row, metric: Metric, y: int, x: Any) -> dict[str, Any]:
    """One row of the bar chart at height `y`; `x` maps a value to its abscissa."""
    cell = row.cells[metric.key]
    stat = cell.stat
    bar: dict[str, Any] = {
        "family": row.family,
        "label": (f"{cell.rank}. " if cell.rank else "") + row.label,
        "text_y": y + 15,
    }
    if stat.mean is None:
        bar["why"] = "no demo yet" if not row.has_demo else "no runs yet" if not row.runs else "not reported"
        return bar
    x0, x1 = sorted((x(0), x(stat.mean)))
    bar.update(
        x=f"{x0:.1f}",
        width=f"{max(x1 - x0, 1):.1f}",
        rect_y=y + 3,
        mid_y=y + 12,
        value_y=y + 16,
        dots=[f"{x(v):.1f}" for _, v, _ in stat.values],
        value=Cell(metric, stat).text + ("  (stale)" if row.stale else ""),
        error="",
    )
    if stat.std is not None:
        a, b = x(stat.mean - stat.std), x(stat.mean + stat.std)
        bar["error"] = f"M{a:.1f} {y + 12}H{b:.1f}M{a:.1f} {y + 7}V{y + 17}M{b:.1f} {y + 7}V{y + 17}"
    return bar


def ranks_svg(board: Board) -> str:
    """A bump chart: each row's rank under every quality metric; crossing lines are disagreements."""
    metrics = [m for m in board.metrics if any(row.cells[m.key].rank for row in board.rows)]
    ranked = [row for row in board.rows if any(row.cells[m.key].rank for m in metrics)]
    width, left, top = RANK_WIDTH, RANK_LEFT, RANK_TOP
    height = top + RANK_STEP * max(len(ranked), 2) + 20
    col = (width - left - RANK_RIGHT) / max(len(metrics) - 1, 1)
    context: dict[str, Any] = {
        "width": width,
        "height": height,
        "title": f"{board.spec.title}: rank of each family model under each metric (1 = best)",
        "colours": _colours(),
        "top": top,
        "empty": not metrics or not ranked,
    }
    if context["empty"]:
        return render_to_string("results/charts/ranks.svg", context)

    def y(rank: int) -> float:
        return top + 10 + (rank - 1) * RANK_STEP

    n_ranks = max((row.cells[m.key].rank or 0) for row in ranked for m in metrics)
    context.update(
        axis_bottom=height - 20,
        column_label_y=top - 10,
        ranks=[{"n": r, "x": left - 24, "y": f"{y(r) + 4:.1f}"} for r in range(1, n_ranks + 1)],
        columns=[
            {
                "x": f"{left + j * col:.1f}",
                "label_x": f"{left + j * col - 4:.1f}",
                "label": m.label,
                "arrow": m.arrow,
            }
            for j, m in enumerate(metrics)
        ],
        lines=[_line(row, metrics, i, left, col, y) for i, row in enumerate(ranked)],
    )
    return render_to_string("results/charts/ranks.svg", context)


def _line(row: Row, metrics: list[Metric], i: int, left: int, col: float, y: Any) -> dict[str, Any]:
    """The `i`-th ranked row's polyline through its ranks; `y` maps a rank to its ordinate."""
    points = [
        (left + j * col, y(row.cells[m.key].rank)) for j, m in enumerate(metrics) if row.cells[m.key].rank
    ]
    return {
        "family": row.family,
        "label": row.label,
        "dash": DASHES[i % len(DASHES)],
        "path": " ".join(f"{'M' if k == 0 else 'L'}{px:.1f} {py:.1f}" for k, (px, py) in enumerate(points)),
        "points": [(f"{px:.1f}", f"{py:.1f}") for px, py in points],
        "end": (f"{points[-1][0] + 10:.1f}", f"{points[-1][1] + 4:.1f}") if points else None,
    }
