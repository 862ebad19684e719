"""Template helpers of the run panel."""

from __future__ import annotations

from django import template

from atlas.runs.models import Run, RunStatus

register = template.Library()


@register.simple_tag
def recent_runs(recipe_slug: str, limit: int = 5) -> list[Run]:
    """The latest finished runs of a recipe (one query), for the panel's 'earlier runs' list."""
    finished = (RunStatus.SUCCEEDED, RunStatus.TIMED_OUT)
    return list(
        Run.objects.filter(recipe=recipe_slug, status__in=finished)
        .only("public_id", "dataset", "seed", "status", "metrics", "finished_at", "samples_png")
        .order_by("-finished_at")[:limit]
    )


@register.filter
def headline(run: Run) -> str:
    """One line of the run's key numbers: modes/HQ for mixtures, the likelihood otherwise."""
    metrics = run.metrics or {}
    parts = []
    if "modes_captured" in metrics:
        parts.append(f"{metrics['modes_captured']}/{metrics['num_modes']} modes")
        parts.append(f"{100 * metrics['hq_fraction']:.1f}% HQ")
    likelihood = metrics.get("likelihood") or {}
    if likelihood.get("value") is not None:
        parts.append(f"NLL {likelihood['value']:.3f} {likelihood.get('unit', '')} ({likelihood.get('kind')})")
    elif likelihood.get("kind") == "unavailable":
        parts.append("no likelihood")
    return " · ".join(parts) or run.status
