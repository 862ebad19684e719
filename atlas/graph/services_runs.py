"""What a node page offers to run: the node's own recipes, else the presets of its experiment."""

from __future__ import annotations

from atlas.experiments.models import ExperimentRecord
from atlas.runs import recipes
from atlas.runs.recipes import Recipe


def experiment_recipes(slug: str) -> list[Recipe]:
    """The run presets stored with the node's published experiment (those that still validate)."""
    record = ExperimentRecord.objects.filter(slug=slug).only("recipes").first()
    runnable: list[Recipe] = []
    for item in record.recipes if record else []:
        try:
            runnable.append(
                recipes.with_preset(recipes.get(item["recipe"]), item.get("config", {}), item.get("role", ""))
            )
        except (KeyError, ValueError):
            continue  # a stored preset that no longer validates is not offered
    return runnable
