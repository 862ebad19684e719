"""The results board pages: /results/, /results/<dataset>/ and its CSV, JSON and SVG plots.

Each view parses the URL, asks `atlas.runs.board` for the board (two queries) and renders it.
"""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from atlas.results import sweep, targets
from atlas.runs import board as boards

SVG = "image/svg+xml; charset=utf-8"


def _board_or_404(dataset: str) -> boards.Board:
    if dataset not in boards.BOARDS:
        raise Http404(f"no results board for {dataset!r}")
    return boards.build(dataset)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    items = [boards.build(dataset) for dataset in boards.BOARDS]
    return render(request, "results/index.html", {"boards": items})


@require_GET
def board_page(request: HttpRequest, dataset: str) -> HttpResponse:
    board = _board_or_404(dataset)
    sort = request.GET.get("sort", "")
    error = ""
    if sort and board.metric(sort) is None:
        error = f"Cannot sort by {sort[:60]!r}: not a metric of this board."
        sort = ""
    rows = board.ranking(sort) if sort else board.rows
    tuning = sweep.summary(dataset)
    tuned = (tuning or {}).get("models", {})
    table = [
        (
            row,
            [row.cells[m.key] for m in board.metrics],
            [row.cells[m.key] for m in board.cost_metrics],
            tuned.get(row.key),
        )
        for row in rows
    ]
    context = {
        "board": board,
        "table": table,
        "sort": sort,
        "sort_metric": board.metric(sort) if sort else None,
        "error": error,
        # model, seeds, metrics, likelihood, costs, device, produced, code
        "span_nodemo": 1 + len(board.metrics) + 1 + len(board.cost_metrics) + 3,
        "span_noruns": len(board.metrics) + 1 + len(board.cost_metrics) + 3,
        "boards": boards.BOARDS,
        "targets": targets.check(board),
        "tuning": tuning,
    }
    return render(request, "results/board.html", context, status=400 if error else 200)


@require_GET
def board_csv(request: HttpRequest, dataset: str) -> HttpResponse:
    board = _board_or_404(dataset)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(boards.csv_rows(board))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="results-{dataset}.csv"'
    return response


@require_GET
def board_json(request: HttpRequest, dataset: str) -> HttpResponse:
    board = _board_or_404(dataset)
    response = JsonResponse(boards.as_json(board), json_dumps_params={"indent": 1})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="results-{dataset}.json"'
    return response


@require_GET
def board_plot(request: HttpRequest, dataset: str, metric: str) -> HttpResponse:
    board = _board_or_404(dataset)
    if metric == "ranks":
        svg = boards.ranks_svg(board)
    else:
        chosen = board.metric(metric)
        if chosen is None:
            raise Http404(f"no metric {metric!r} on the {dataset} board")
        svg = boards.bar_chart_svg(board, chosen)
    response = HttpResponse(svg, content_type=SVG)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="results-{dataset}-{metric}.svg"'
    return response
