"""The results pages, mounted at /results/ (atlas/results/urls.py): the boards, /results/ and
/results/<dataset>/, with their CSV, JSON and SVG charts; /results/<dataset>/score/, the
score-your-own form and its answer, without JavaScript; /results/<dataset>/sweep/, the equal-effort
tuning behind the board (and its file, sweep.json).

Each view parses the URL, asks `atlas.results.aggregate` for the board (two queries) and renders it.
"""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from atlas.results import aggregate, boards, charts, export, scoring, sweep, targets

SVG = "image/svg+xml; charset=utf-8"


def _board_or_404(dataset: str) -> aggregate.Board:
    if dataset not in boards.BOARDS:
        raise Http404(f"no results board for {dataset!r}")
    return aggregate.build(dataset)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    items = [aggregate.build(dataset) for dataset in boards.BOARDS]
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
    csv.writer(buffer).writerows(export.csv_rows(board))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="results-{dataset}.csv"'
    return response


@require_GET
def board_json(request: HttpRequest, dataset: str) -> HttpResponse:
    board = _board_or_404(dataset)
    response = JsonResponse(export.as_json(board), json_dumps_params={"indent": 1})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="results-{dataset}.json"'
    return response


@require_GET
def board_plot(request: HttpRequest, dataset: str, metric: str) -> HttpResponse:
    board = _board_or_404(dataset)
    if metric == "ranks":
        svg = charts.ranks_svg(board)
    else:
        chosen = board.metric(metric)
        if chosen is None:
            raise Http404(f"no metric {metric!r} on the {dataset} board")
        svg = charts.bar_chart_svg(board, chosen)
    response = HttpResponse(svg, content_type=SVG)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="results-{dataset}-{metric}.svg"'
    return response


@require_http_methods(["GET", "POST"])
def score_page(request: HttpRequest, dataset: str) -> HttpResponse:
    if dataset not in scoring.SCORABLE:
        raise Http404(f"no results board for {dataset!r}")
    context = {"spec": boards.BOARDS[dataset], "dataset": dataset, "limits": _limits(), "errors": []}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("samples")
        try:
            if upload is None:
                raise scoring.ScoreError("samples", "Choose a .npy file to upload.")
            context["scored"] = scoring.score_upload(dataset, upload.read(scoring.MAX_UPLOAD_BYTES + 1))
        except scoring.ScoreError as exc:
            context["errors"] = [m for messages in exc.errors.values() for m in messages]
            status = 400
    return render(request, "results/score.html", context, status=status)


def _limits() -> dict[str, int]:
    return {"min": scoring.MIN_SAMPLES, "max": scoring.MAX_SAMPLES, "bytes": scoring.MAX_UPLOAD_BYTES}


def _sweep_or_404(dataset: str) -> dict:
    if dataset not in boards.BOARDS:
        raise Http404(f"no results board for {dataset!r}")
    try:
        payload = sweep.read(dataset)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    if payload is None:
        raise Http404(f"no published sweep for {dataset!r}")
    return payload


@require_GET
def sweep_page(request: HttpRequest, dataset: str) -> HttpResponse:
    payload = _sweep_or_404(dataset)
    board = aggregate.build(dataset)
    labels = {row.key: (row.family, row.family_name, row.label) for row in board.rows}
    models = [_sweep_model(dataset, key, entry, labels) for key, entry in payload["entries"].items()]
    context = {
        "spec": boards.BOARDS[dataset],
        "dataset": dataset,
        "protocol": payload.get("protocol", {}),
        "models": models,
        "targets": {t.key: t for t in targets.check(board)},
    }
    return render(request, "results/sweep.html", context)


def _sweep_model(dataset: str, key: str, entry: dict, labels: dict) -> dict:
    family, family_name, label = labels.get(key, ("", key, key))
    chosen = entry.get("chosen") or {}
    finals = (entry.get("finals") or {}).get("configs", [])
    picked = {config["index"] for config in finals}
    configs = [{**config, "finalist": config["index"] in picked} for config in entry.get("configs", [])]
    return {
        "key": key,
        "family": family,
        "family_name": family_name,
        "label": label,
        "recipe": entry.get("recipe"),
        # the board's fixed overrides; steps are the trial's budget's and then the finals' to set
        "base": {k: v for k, v in entry.get("base", {}).items() if k not in sweep.TRIAL_ONLY},
        "space": entry.get("space", {}),
        "current": sweep.is_current(dataset, key, entry),
        "configs": configs,
        "finals": [{**config, "chosen": config["index"] == chosen.get("index")} for config in finals],
        "chosen": chosen,
    }


@require_GET
def sweep_json(request: HttpRequest, dataset: str) -> HttpResponse:
    response = JsonResponse(_sweep_or_404(dataset), json_dumps_params={"indent": 1})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="sweep-{dataset}.json"'
    return response
