"""Recipes are consistent with compute/ and validate untrusted input."""

from __future__ import annotations

import dataclasses
import math

import pytest

from atlas.runs import recipes
from compute import datasets, registry


@pytest.mark.parametrize("recipe", recipes.RECIPES, ids=lambda r: r.slug)
def test_every_recipe_runs_an_existing_model_on_data_it_supports(recipe):
    cls = registry.get(recipe.model)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    for param in recipe.params:
        if param.target == "config":
            assert param.name in fields, (
                f"{recipe.slug}: {param.name} is not a field of {cls.__name__}.Config"
            )
    assert set(recipe.fixed) <= fields
    for name in recipe.datasets:
        assert datasets.kind_of(name) in cls.data_kinds, (recipe.slug, name)


@pytest.mark.parametrize("recipe", recipes.RECIPES, ids=lambda r: r.slug)
def test_every_default_is_within_its_bounds(recipe):
    config, errors = recipe.validate({})
    assert errors == {}
    assert set(config) == {p.name for p in recipe.all_params()}


def test_every_family_has_a_recipe():
    families = {registry.get(r.model).family for r in recipes.RECIPES}
    assert families == {"vae", "gan", "diffusion", "flow", "ebm", "autoregressive"}


RECIPE = recipes.get("ddpm-2d")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"steps": "100"}, "steps"),
        ({"steps": True}, "steps"),
        ({"steps": 10**30}, "steps"),
        ({"steps": 0}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"lr": math.nan}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"seed": -1}, "seed"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_it_rejects_bad_values_with_a_message_per_field(raw, field):
    _, errors = RECIPE.validate(raw)
    assert field in errors and errors[field][0]


def test_it_accepts_an_integral_float_for_an_integer():
    config, errors = RECIPE.validate({"steps": 100.0})
    assert errors == {} and config["steps"] == 100 and isinstance(config["steps"], int)


def test_the_json_schema_carries_types_defaults_and_bounds():
    schema = RECIPE.json_schema()
    assert schema["additionalProperties"] is False
    steps = schema["properties"]["steps"]
    assert steps["type"] == "integer" and steps["minimum"] == 1 and steps["maximum"] == RECIPE.steps_max
    assert schema["properties"]["dataset"]["enum"] == list(RECIPE.datasets)
