"""Do the recipes' default runs fit their budgets? Every recipe's default config, measured here.

    .venv/bin/python bench/recipes.py [--seconds 6] [--threads 2] [--only ddpm-2d,vae-2d]

For each recipe (its first dataset, its default parameters, exactly as a click on Run would
configure it) the script trains for ``--seconds`` through compute's trainer, measures steps/s, then
runs the same final evaluation a run does (``compute.evaluate.evaluate`` on the recipe's
``eval_samples``). The projected wall time of the default run is

    min(steps_default / (steps/s), the demo's seconds) + evaluation seconds

printed beside the issue's target (2-D demos 10 s, digits 60 s) and the recipe's wall-time cap
(``seconds_max``; a run that hits it ends ``timed_out`` with partial metrics). A projection without
the quality checks, previews and the worker: ``bench/demos.py`` measures POST -> end on the stack.
Throughput depends on how busy the machine is: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from atlas.runs import recipes  # noqa: E402  (plain dataclasses: no Django needed)
from compute.evaluate import evaluate  # noqa: E402
from compute.trainer import Budget, train  # noqa: E402

TARGET_S = {"points2d": 10.0, "image": 60.0, "tokens": 120.0}


def measure(recipe: recipes.Recipe, seconds: float) -> tuple[str, float, float, float]:
    """(dataset, steps/s, evaluation seconds, projected seconds of the default run)."""
    config, errors = recipe.validate({})
    assert not errors, errors
    model, data, settings = recipe.build(config)
    result = train(model, data, budget=Budget(steps=settings["steps"], seconds=seconds), seed=0, preview_n=0)
    start = time.perf_counter()
    evaluate(model, data, n=recipe.eval_samples, seed=0)
    eval_s = time.perf_counter() - start
    train_s = settings["steps"] / result.steps_per_s
    demo_s = recipe.demo_budget_s(settings)
    return data.spec.kind, result.steps_per_s, eval_s, min(train_s, demo_s or train_s) + eval_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="training seconds per recipe")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--only", default="", help="comma-separated recipe slugs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = [r for r in recipes.RECIPES if not args.only or r.slug in args.only.split(",")]
    print(f"load average {os.getloadavg()[0]:.2f}, torch threads {torch.get_num_threads()}")
    header = f"{'recipe':<26} {'dataset':<8} {'steps':>6} {'steps/s':>8} {'eval s':>7}"
    print(f"{header} {'projected s':>12} {'target s':>9} {'cap s':>6}  verdict")
    for recipe in chosen:
        kind, rate, eval_s, projected = measure(recipe, args.seconds)
        target = TARGET_S[kind]
        verdict = (
            "ok"
            if projected <= target
            else ("over target" if projected <= recipe.seconds_max else "over cap")
        )
        print(
            f"{recipe.slug:<26} {recipe.datasets[0]:<8} {recipe.steps_default:>6} {rate:>8.1f} "
            f"{eval_s:>7.1f} {projected:>12.1f} {target:>9.0f} {recipe.seconds_max:>6.0f}  {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
