"""A recipe's defaults are what a visitor runs first: they must not undo a model's tuned 2-D defaults."""

from atlas.runs import recipes
from compute import datasets, registry


def test_the_wgan_gp_recipe_keeps_the_toy_gradient_penalty_of_the_model() -> None:
    recipe = recipes.get("wgan-gp-2d")
    config, errors = recipe.validate({})
    assert errors == {}
    overrides, _ = recipe.split(config)
    spec = datasets.load(config["dataset"]).spec
    from_recipe = registry.build(recipe.model, spec, seed=0, **overrides)
    untouched = registry.build(recipe.model, spec, seed=0, variant="wgan-gp")
    assert from_recipe.gp_lambda == untouched.gp_lambda == 0.1
