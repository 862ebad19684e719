"""/results/<dataset>/score/: the score-your-own form and its answer, without JavaScript."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from atlas.results import scoring
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
