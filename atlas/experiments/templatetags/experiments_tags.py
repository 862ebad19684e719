"""`{% experiment_panel node %}`: the stored experiment of a failure-mode or unification node."""

from __future__ import annotations

from django import template
from django.core.files.storage import default_storage

from atlas.experiments.models import ExperimentRecord
from atlas.runs import recipes
from compute.version import code_version

register = template.Library()


@register.inclusion_tag("experiments/panel.html")
def experiment_panel(node) -> dict:
    record = ExperimentRecord.objects.filter(slug=node.slug).first()
    if record is None:
        return {"node": node, "record": None}
    figures = [{"name": f["name"], "url": default_storage.url(f["path"])} for f in record.figures]
    runnable = []
    for item in record.recipes:
        try:
            runnable.append(
                recipes.with_preset(recipes.get(item["recipe"]), item.get("config", {}), item.get("role", ""))
            )
        except (KeyError, ValueError):
            continue  # a stored preset that no longer validates is not offered
    return {
        "node": node,
        "record": record,
        "figures": figures,
        "recipes": runnable,
        "current_version": code_version(),
    }
