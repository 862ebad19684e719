"""/results/<dataset>/score/: the score-your-own form and its answer, without JavaScript;
/results/<dataset>/sweep/: the equal-effort tuning behind the board (and its file, sweep.json)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from atlas.results import scoring, sweep, targets
from atlas.runs import board as boards


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
    board = boards.build(dataset)
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
    configs = [
        {**config, "chosen": config["index"] == chosen.get("index")} for config in entry.get("configs", [])
    ]
    return {
        "key": key,
        "family": family,
        "family_name": family_name,
        "label": label,
        "recipe": entry.get("recipe"),
        "base": entry.get("base", {}),
        "space": entry.get("space", {}),
        "current": key in sweep.SPACES and entry.get("space_digest") == sweep.space_digest(dataset, key),
        "configs": configs,
        "chosen": chosen,
    }


@require_GET
def sweep_json(request: HttpRequest, dataset: str) -> HttpResponse:
    response = JsonResponse(_sweep_or_404(dataset), json_dumps_params={"indent": 1})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="sweep-{dataset}.json"'
    return response
