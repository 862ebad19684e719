"""What a visitor's Run button costs: POST a recipe's default demo, wait for its end, time it.

    .venv/bin/python bench/demos.py [--only ddpm-2d,flow-matching-2d] [--kind points2d|image|all]
    .venv/bin/python bench/demos.py --only ddpm-2d,flow-matching-2d,ar-grid-2d --dataset grid25

Starts the real stack (Redis, one Celery worker with 2 pool processes, Daphne) exactly as
`make run` does, then, one at a time so each run has the machine to itself, POSTs every recipe's
default configuration with a fresh seed and polls `GET /api/runs/<id>/` until the run ends. Printed
per recipe: wall seconds from POST to the end (metrics and samples stored), the status and why,
the steps trained, when the quality bar first held (2-D mixtures), and the issue's target beside
it: ≤ 10 s for a 2-D demo, ≤ 60 s for digits. Misses are printed as misses.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from atlas.runs import recipes  # noqa: E402
from tests.stack import RunningStack, start_stack  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
TARGET_S = {"points2d": 10.0, "image": 60.0}
NO_CAPS = {"ATLAS_RUNS_THROTTLE": "10000/min", "ATLAS_RUNS_MAX_PER_CLIENT": "1000"}


def request(stack: RunningStack, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{stack.url}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def kind_of(recipe: recipes.Recipe) -> str:
    return (
        "image" if recipe.datasets[0] == "digits" else "points2d" if recipe.datasets[0] != "text" else "text"
    )


def demo(stack: RunningStack, recipe: recipes.Recipe, seed: int, dataset: str | None = None) -> dict:
    started = time.perf_counter()
    config = {"seed": seed, **({"dataset": dataset} if dataset else {})}
    run = request(stack, "/api/runs/", {"recipe": recipe.slug, "config": config})
    while run["status"] not in TERMINAL:
        time.sleep(0.1)
        run = request(stack, f"/api/runs/{run['id']}/")
    return {"wall_s": time.perf_counter() - started, **run}


def row(recipe: recipes.Recipe, run: dict, dataset: str | None = None) -> str:
    kind = kind_of(recipe)
    target = TARGET_S.get(kind)
    result = run.get("result") or {}
    quality = result.get("quality") or {}
    converged = quality.get("converged_at_train_s")
    verdict = (
        ""
        if target is None
        else ("met" if run["wall_s"] <= target and run["status"] == "succeeded" else "MISSED")
    )
    judgement = (run.get("metrics") or {}).get("judgement") or {}
    return (
        f"  {recipe.slug:<24}{dataset or recipe.datasets[0]:<8}{run['wall_s']:>7.1f} s  {run['status']:<10}"
        f"{result.get('steps', '—'):>6} steps  {result.get('stop_reason', '—'):<12}"
        f"{(f'bar at {converged:.1f} s' if converged is not None else ''):<14}"
        f"{judgement.get('diagnosis', ''):<11}≤ {target or '—'} s {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated recipe slugs")
    parser.add_argument("--kind", default="points2d", choices=["points2d", "image", "all"])
    parser.add_argument("--seed", type=int, default=424_242, help="a seed no cached run has")
    parser.add_argument("--dataset", default=None, help="instead of each recipe's first dataset")
    args = parser.parse_args()
    chosen = [r for r in recipes.RECIPES if not args.only or r.slug in args.only.split(",")]
    chosen = [r for r in chosen if args.kind == "all" or kind_of(r) == args.kind]
    chosen = [r for r in chosen if args.dataset is None or args.dataset in r.datasets]
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), env=NO_CAPS)
        try:
            print(f"stack at {stack.url}; one demo at a time, default config, seed {args.seed}")
            for recipe in chosen:
                run = demo(stack, recipe, args.seed, args.dataset)
                print(row(recipe, run, args.dataset), flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
