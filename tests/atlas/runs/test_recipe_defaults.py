"""A recipe's defaults are what a visitor runs first: they must not undo a model's tuned 2-D defaults."""

import contextlib

import pytest
import torch

from atlas.runs import recipes
from compute import datasets, metrics, registry, trainer


def test_the_wgan_gp_recipe_keeps_the_toy_gradient_penalty_of_the_model() -> None:
    recipe = recipes.get("wgan-gp-2d")
    config, errors = recipe.validate({})
    assert errors == {}
    overrides, _ = recipe.split(config)
    spec = datasets.load(config["dataset"]).spec
    from_recipe = registry.build(recipe.model, spec, seed=0, **overrides)
    untouched = registry.build(recipe.model, spec, seed=0, variant="wgan-gp")
    assert from_recipe.gp_lambda == untouched.gp_lambda == 0.1


def demo_model(slug: str, dataset: str, steps: int, **change):
    """The model a visitor's Run button trains (the recipe's defaults, plus ``change``), trained for
    ``steps`` on seed 0 with one thread."""
    recipe = recipes.get(slug)
    config, errors = recipe.validate({"dataset": dataset, **change})
    assert errors == {}
    model, data, _ = recipe.build(config)
    with torch_threads(1):
        trainer.train(model, data, budget=trainer.Budget(steps), seed=0, preview_n=0)
    return model, data


def judged(model, data) -> metrics.Judgement2D:
    return metrics.judge_2d(trainer.preview_samples(model, 2000, seed=10_000), data)


@contextlib.contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# The fast demo defaults (issue 15) reach the bar within these steps on both mixtures; on one thread
# that is about 2 s of training (bench/families.py --recipes). Same steps, lr 1e-4: the control.
FAST_DEMOS = [("ddpm-2d", 2500), ("flow-matching-2d", 1500)]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
@pytest.mark.parametrize(("slug", "steps"), FAST_DEMOS)
def test_the_fast_demo_defaults_meet_the_bar_within_a_few_thousand_steps(slug, steps, dataset) -> None:
    model, data = demo_model(slug, dataset, steps)
    judgement = judged(model, data)
    assert judgement.meets, judgement.diagnosis


@pytest.mark.slow
@pytest.mark.parametrize(("slug", "steps"), FAST_DEMOS)
def test_the_same_steps_at_a_small_learning_rate_miss_the_bar(slug, steps) -> None:
    model, data = demo_model(slug, "grid25", steps, lr=1e-4)
    assert not judged(model, data).meets


def test_an_experiments_preset_trains_the_reference_configuration_not_the_demo_defaults() -> None:
    recipe = recipes.get("gan-2d")
    preset = recipes.with_preset(recipe, {"variant": "minimax", "hidden": 128, "steps": 1500}, "reproduce")
    config, errors = preset.validate({})
    assert errors == {}
    assert config["hidden"] == 128 and config["steps"] == 1500  # what the preset names
    assert (config["lr"], config["depth"], config["ema"]) == (1e-3, 3, 0.995)  # the reference for the rest
    assert config["stop"] == "budget"  # a reproduction trains its steps; it is not a demo
    demo, _ = recipe.validate({})
    assert (demo["lr"], demo["depth"], demo["stop"]) == (4e-3, 2, "converged")


def test_a_preset_without_a_reference_keeps_the_recipe_defaults() -> None:
    recipe = recipes.get("ebm-dsm-2d")
    config, _ = recipes.with_preset(recipe, {"dataset": "ring8"}).validate({})
    assert {k: v for k, v in config.items() if k != "stop"} == {
        k: v for k, v in recipe.validate({"dataset": "ring8"})[0].items() if k != "stop"
    }
