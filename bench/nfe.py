"""Quality against sampling cost: the demos' NFE default, chosen from a measured curve.

    .venv/bin/python bench/nfe.py [--seconds 8] [--seeds 0,1,2] [--nfe 10,20,50,100,250]

For the two ODE/SDE samplers of the 2-D demos (DDPM, `ddpm-2d`; flow matching, `flow-matching-2d`)
on ring8 and grid25: train the recipe's default configuration for ``--seconds`` of CPU time on one
thread, then draw 2,000 samples at each NFE from the same trained model and the same noise seed,
and judge each set with the verdict-grade criterion (compute.metrics.judge_2d). Printed per NFE:
seeds at the bar, mean HQ share, mean mode-weight TV, mean spread ratio and sampling seconds per
1,000 samples. The recipe's default should be the smallest NFE whose seeds-at-the-bar and HQ share
match the largest NFE's (a cheaper sampler that loses nothing a reader can see).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from atlas.results.sweep import train_for_cpu  # noqa: E402  (plain Python: no Django needed)
from atlas.runs import recipes  # noqa: E402
from compute import metrics  # noqa: E402

RECIPES = ("ddpm-2d", "flow-matching-2d")
N = 2000


def trained(recipe: recipes.Recipe, dataset: str, seed: int, seconds: float):
    config, errors = recipe.validate({"dataset": dataset, "seed": seed, "stop": "budget"})
    assert not errors, errors
    model, data, _, _ = train_for_cpu(recipe, {**config, "steps": recipe.steps_max}, seconds)
    return model, data, config["sample_nfe"]


def judged_at(model, data, nfe: int, seed: int) -> tuple[dict, float]:
    started = time.perf_counter()
    with torch.no_grad():
        samples = model.sample(N, nfe=nfe, seed=10_000 + seed)
    seconds = time.perf_counter() - started
    return metrics.judge_2d(samples, data).as_dict(), 1000 * seconds / N


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="CPU seconds of training per model")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--nfe", default="10,20,50,100,250")
    parser.add_argument("--datasets", default="ring8,grid25")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    nfes = [int(n) for n in args.nfe.split(",")]
    print(f"one thread, {args.seconds:g} s of CPU training per model, {N} samples per judgement")
    for slug in RECIPES:
        recipe = recipes.get(slug)
        for dataset in args.datasets.split(","):
            rows: dict[int, list[tuple[dict, float]]] = {n: [] for n in nfes}
            default = None
            for seed in seeds:
                model, data, default = trained(recipe, dataset, seed, args.seconds)
                for nfe in nfes:
                    rows[nfe].append(judged_at(model, data, nfe, seed))
            print(f"\n{slug} on {dataset} (recipe default NFE {default})")
            print(f"  {'NFE':>5} {'at bar':>7} {'HQ':>7} {'TV':>7} {'spread':>7} {'s/1000':>8}")
            for nfe, judged in rows.items():
                js = [j for j, _ in judged]
                print(
                    f"  {nfe:>5} {sum(j['meets'] for j in js):>4}/{len(js):<2}"
                    f"{statistics.fmean(j['hq_fraction'] for j in js):>7.3f}"
                    f"{statistics.fmean(j['hq_mode_tv'] for j in js):>8.3f}"
                    f"{statistics.fmean(j['spread_ratio'] for j in js):>8.2f}"
                    f"{statistics.fmean(s for _, s in judged):>9.3f}"
                )


if __name__ == "__main__":
    main()
