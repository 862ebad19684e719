"""Benchmark every family on ring8, grid25, moons and digits under a fixed wall-clock budget.

Not a timed test: a script that prints, side by side and measured in one run, the evaluation
metrics at the end of the budget, the training time to reach the 2-D quality bar (the
verdict-grade criterion of compute.metrics.judge_2d on 2,500 fresh samples, checked every
--eval-every seconds of training: every mode holds >= 50 % of its high-quality mass, >= 90 % of
the samples within 3 std, mode-weight TV on them <= 0.10, spread ratio in [0.8, 1.25]), the
throughput, the sampling time per 1,000 samples, each as mean +- std over seeds, and the
targets from the issue beside them. Misses are printed as misses.

    .venv/bin/python bench/families.py                  # defaults: 2-D 30 s, digits 120 s, 3 seeds
    .venv/bin/python bench/families.py --quick          # smoke run: seconds per model, 1 seed
    .venv/bin/python bench/families.py --models diffusion,flow-matching --datasets ring8 --device cuda
    .venv/bin/python bench/families.py --recipes ddpm-2d,flow-matching-2d,ar-grid-2d --datasets ring8,grid25 \
        --threads 1,2 --seconds-2d 8 --eval-every 0.5           # the demos' time to quality (issue 15)

--recipes trains each recipe's default configuration (what a visitor's Run button trains) instead of
the models' own defaults; issue 15's targets apply to both.

Time to threshold counts training only (the periodic evaluations are excluded) and is resolved
to --eval-every seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402

from compute import datasets, metrics, registry  # noqa: E402
from compute.evaluate import draw, evaluate  # noqa: E402
from compute.trainer import Budget, Callback, pick_device, train  # noqa: E402

THRESHOLD = "judge_2d: every mode >= 50 % of its HQ mass, HQ >= 90 %, HQ TV <= 0.10, spread in [0.8, 1.25]"
# Issue 15's measurements of two public peers on the same bar (one torch thread, 3 seeds; seeds at the
# bar after 3 / 6 / 12 s of training). Printed as reported there, not re-measured by this script.
PEERS = (
    ("tiny-diffusion (T = 50)", "ring8: 1/3, 1/3, 2/3 seeds", "grid25: 0/3 at every budget"),
    ("torchcfm I-CFM tutorial", "ring8: 0/3 at every budget", "grid25: 0/3 at every budget"),
)


@dataclass
class Outcome:
    """One (model, variant, dataset, seed) run."""

    model: str
    variant: str
    dataset: str
    seed: int
    steps: int
    train_s: float  # training wall time, evaluations excluded
    steps_per_s: float
    t_threshold: float | None  # training seconds to the first check meeting THRESHOLD
    metrics: dict[str, Any]
    checks: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    error: str = ""
    spread_at_threshold: float = float("nan")  # spread ratio at that first check
    threads: int = 0


@dataclass(frozen=True)
class Target:
    text: str  # as the issue states it
    met: Callable[[list[Outcome]], bool | None]  # None: cannot tell from these runs


def _all_within(seconds: float, spread_min: float = 0.0) -> Callable[[list[Outcome]], bool | None]:
    def met(runs: list[Outcome]) -> bool:
        return all(
            r.t_threshold is not None and r.t_threshold <= seconds and r.spread_at_threshold >= spread_min
            for r in runs
        )

    return met


def _modes_at_least(k: int) -> Callable[[list[Outcome]], bool | None]:
    return lambda runs: all(r.metrics.get("modes_captured", 0) >= k for r in runs)


def _bpd_at_most(b: float) -> Callable[[list[Outcome]], bool | None]:
    def met(runs: list[Outcome]) -> bool | None:
        vals = [r.metrics.get("likelihood", {}).get("value") for r in runs]
        return None if any(v is None for v in vals) else all(v <= b for v in vals)

    return met


# (model, variant or None for the default, dataset) -> target from the issue.
TARGETS: dict[tuple[str, str | None, str], Target] = {
    # issue 15: one CPU thread, all three seeds
    ("diffusion", None, "ring8"): Target("bar <= 3 s", _all_within(3)),
    ("diffusion", None, "grid25"): Target("bar <= 5 s", _all_within(5)),
    ("flow-matching", None, "ring8"): Target("bar <= 3 s, spread >= 0.8", _all_within(3, spread_min=0.8)),
    ("flow-matching", None, "grid25"): Target("bar <= 5 s, spread >= 0.8", _all_within(5, spread_min=0.8)),
    ("ar-grid", None, "ring8"): Target("bar <= 5 s", _all_within(5)),
    ("ar-grid", None, "grid25"): Target("bar <= 5 s", _all_within(5)),
    ("gan", "wgan-gp", "grid25"): Target(">= 20/25 modes in 30 s", _modes_at_least(20)),
    ("made", None, "digits"): Target("<= 2.10 bits/dim (test)", _bpd_at_most(2.10)),
}
# Variants run beside each model's default because a target names them.
EXTRA_VARIANTS = [("gan", "wgan-gp")]


class Watch(Callback):
    """Stops training after ``budget_s`` seconds of training time and, every ``every_s`` seconds
    of it, checks the mode statistics (mixtures only) until the threshold is first met."""

    def __init__(
        self, model: Any, data: datasets.Dataset, budget_s: float, every_s: float, n: int, seed: int
    ) -> None:
        self.model, self.data, self.n, self.seed = model, data, n, seed
        self.budget_s, self.every_s = budget_s, every_s
        self.t0 = time.perf_counter()
        self.eval_s = 0.0
        self.last_check = 0.0
        self.t_threshold: float | None = None
        self.spread_at_threshold = float("nan")
        self.checks: list[tuple[float, int, dict[str, Any]]] = []

    def train_elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.eval_s

    def on_start(self, info: dict[str, Any]) -> None:
        self.t0 = time.perf_counter()

    def on_progress(self, step: int, losses: dict[str, float], elapsed: float) -> None:
        t = self.train_elapsed()
        if self.data.modes is None or self.t_threshold is not None or t - self.last_check < self.every_s:
            return
        te = time.perf_counter()
        samples, _ = draw(self.model, self.n, self.seed)
        judgement = metrics.judge_2d(samples, self.data)
        self.checks.append((t, step, judgement.as_dict()))
        if judgement.meets:
            self.t_threshold, self.spread_at_threshold = t, judgement.spread_ratio
        self.last_check = t
        self.eval_s += time.perf_counter() - te

    def should_stop(self) -> bool:
        return self.train_elapsed() >= self.budget_s


def run_one(
    name: str,
    variant: str | None,
    data_name: str,
    seed: int,
    args: argparse.Namespace,
    overrides: dict[str, Any] | None = None,
) -> Outcome:
    data = datasets.load(data_name, seed=seed)
    config = {"variant": variant, **(overrides or {})}
    model = registry.build(name, data.spec, seed=seed, device=args.device, **config)
    budget_s = args.seconds_digits if data.spec.kind == "image" else args.seconds_2d
    if data.spec.kind == "tokens":
        budget_s = args.seconds_text
    watch = Watch(model, data, budget_s, args.eval_every, args.eval_n, seed)
    result = train(
        model,
        data,
        budget=Budget(steps=10**9),
        callbacks=[watch],
        seed=seed,
        preview_n=0,
        progress_every_s=0.05,
    )
    ran = (
        name,
        model.config.variant,
        data_name,
        seed,
        result.steps,
        watch.train_elapsed(),
        result.steps_per_s,
    )
    if result.stop_reason == "non_finite":
        return Outcome(*ran, None, {}, watch.checks, error=result.message)
    final = evaluate(model, data, n=args.eval_n, seed=seed, nll_n=args.nll_n)
    t_hit, spread = watch.t_threshold, watch.spread_at_threshold
    judged = final.get("judgement") or {}
    if t_hit is None and judged.get("meets"):
        t_hit, spread = watch.train_elapsed(), judged["spread_ratio"]  # met only at the end of the budget
    return Outcome(
        *ran, t_hit, final, watch.checks, spread_at_threshold=spread, threads=torch.get_num_threads()
    )


def _mean_std(values: list[float | None], fmt: str = "{:.3g}") -> str:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt.format(vals[0])
    return f"{fmt.format(np.mean(vals))}+-{fmt.format(np.std(vals))}"


def _threshold_cell(runs: list[Outcome], data: datasets.Dataset) -> str:
    if data.modes is None:
        return "n/a"
    hits = [r.t_threshold for r in runs if r.t_threshold is not None]
    if len(hits) == len(runs):
        return _mean_std(hits, "{:.1f}") + f" s (all by {max(hits):.1f} s)"
    hit = f" (hit {_mean_std(hits, '{:.1f}')} s)" if hits else ""
    return f"miss {len(runs) - len(hits)}/{len(runs)}{hit}"


def summarise(
    name: str, variant: str | None, data_name: str, runs: list[Outcome], label: str = ""
) -> dict[str, str]:
    data = datasets.load(data_name)
    ok = [r for r in runs if not r.error]
    m = [r.metrics for r in ok]
    row = {
        "model": label or name,
        "variant": runs[0].variant,
        "data": data_name,
        "threads": str(runs[0].threads),
        "seeds": f"{len(ok)}/{len(runs)}",
        "steps/s": _mean_std([r.steps_per_s for r in ok], "{:.0f}"),
        "t_thresh": _threshold_cell(ok, data) if ok else "error",
        "sample s/1k": _mean_std([x.get("sample_s_per_1000") for x in m]),
    }
    if data.modes is not None:
        row["modes"] = _mean_std([x.get("modes_captured") for x in m], "{:.1f}") + f"/{len(data.modes)}"
        row["HQ %"] = _mean_std([100 * x["hq_fraction"] for x in m if "hq_fraction" in x], "{:.1f}")
        row["TV"] = _mean_std([x.get("mode_weight_tv") for x in m])
        row["spread"] = _mean_std([(x.get("judgement") or {}).get("spread_ratio") for x in m])
        row["bar"] = f"{sum(bool((x.get('judgement') or {}).get('meets')) for x in m)}/{len(m)} at end"
    if data.spec.kind == "points2d":
        row["MMD2"] = _mean_std([x.get("mmd2") for x in m], "{:.2g}")
        row["SW"] = _mean_std([x.get("sliced_wasserstein") for x in m])
        row["KL"] = _mean_std([(x.get("kl_data_model") or {}).get("value") for x in m])
    if data.spec.kind == "image":
        row["FD"] = _mean_std([x.get("frechet_distance") for x in m])
        row["classes"] = _mean_std([x.get("classes_covered") for x in m])
    lik = [x.get("likelihood", {}) for x in m]
    unit = f" {lik[0]['unit']} ({lik[0]['kind']})" if lik else ""
    row["NLL"] = _mean_std([x.get("value") for x in lik]) + unit
    target = TARGETS.get((name, variant, data_name)) or (
        TARGETS.get((name, None, data_name)) if label else None
    )
    if target is None:
        row["target"] = ""
    else:
        met = target.met(ok) if ok else False
        row["target"] = f"{target.text}: " + {True: "MET", False: "MISSED", None: "?"}[met]
    if any(r.error for r in runs):
        row["target"] += " errors: " + "; ".join(sorted({r.error for r in runs if r.error}))
    return row


def print_table(rows: list[dict[str, str]]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    widths = {k: max(len(k), *(len(r.get(k, "")) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    print("  ".join("-" * widths[k] for k in keys))
    for r in rows:
        print("  ".join(r.get(k, "").ljust(widths[k]) for k in keys))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(registry.names()), help="comma-separated registry names")
    p.add_argument("--recipes", default=None, help="recipe slugs: train their default configurations instead")
    p.add_argument("--datasets", default="ring8,grid25,moons,digits", help="add 'text' for char-transformer")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seconds-2d", type=float, default=30.0)
    p.add_argument("--seconds-digits", type=float, default=120.0)
    p.add_argument("--seconds-text", type=float, default=60.0)
    p.add_argument("--eval-every", type=float, default=2.0, help="training seconds between threshold checks")
    p.add_argument("--eval-n", type=int, default=2500, help="samples per evaluation (PacGAN protocol: 2,500)")
    p.add_argument("--nll-n", type=int, default=None, help="test examples for the NLL (default: all/2,500)")
    p.add_argument("--device", default=None, help="cpu / cuda (default: ATLAS_DEVICE, else CUDA if present)")
    p.add_argument("--threads", default=None, help="torch.set_num_threads (CPU); a list (1,2) runs each")
    p.add_argument("--quick", action="store_true", help="smoke run: 2-D 3 s, digits 5 s, 1 seed, n=500")
    p.add_argument("--json", default=None, help="also write every run's numbers to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.seconds_2d, args.seconds_digits, args.seconds_text = 1, 3.0, 5.0, 5.0
        args.eval_every, args.eval_n, args.nll_n = 1.0, 500, 100
    args.device = args.device or pick_device()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    thread_counts = [int(t) for t in str(args.threads).split(",")] if args.threads else [0]
    rows: list[dict[str, str]] = []
    raw: list[dict[str, Any]] = []
    skipped: list[str] = []
    for threads in thread_counts:
        if threads:
            torch.set_num_threads(threads)
        run_plan(args, rows, raw, skipped)
    print()
    print_table(rows)
    print()
    print("Peers on the same bar, as reported in issue 15 (not re-measured here):")
    for peer in PEERS:
        print("  " + "; ".join(peer))
    for s in sorted(set(skipped)):
        print(f"skipped {s}")
    if args.json:
        from compute.__main__ import jsonable

        Path(args.json).write_text(json.dumps(jsonable(raw), indent=1))
    return 0


def run_plan(
    args: argparse.Namespace, rows: list[dict[str, str]], raw: list[dict[str, Any]], skipped: list[str]
) -> None:
    data_names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for d in data_names:
        datasets.kind_of(d)
    print(
        f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} "
        f"seeds={args.seeds} budgets: 2-D {args.seconds_2d:g} s, digits {args.seconds_digits:g} s"
    )
    print(f"threshold: {THRESHOLD}")
    for item in recipe_plan(args) if args.recipes else model_plan(args, data_names, skipped):
        for data_name in data_names if args.recipes else item.datasets:
            if args.recipes and data_name not in item.datasets:
                skipped.append(f"{item.label}: does not run on {data_name}")
                continue
            runs = [run_seed(item, data_name, seed, args) for seed in range(args.seeds)]
            rows.append(summarise(item.name, item.variant, data_name, runs, label=item.label))
            raw += [vars(r) for r in runs]


@dataclass(frozen=True)
class PlanItem:
    name: str  # registry name
    variant: str | None
    datasets: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # the recipe's slug when the item trains a recipe's defaults


def model_plan(args: argparse.Namespace, data_names: list[str], skipped: list[str]) -> list[PlanItem]:
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    for n in names:
        registry.target(n)  # KeyError with the valid names for a typo
    items = []
    for name, variant in [(n, None) for n in names] + [(n, v) for n, v in EXTRA_VARIANTS if n in names]:
        if not registry.is_available(name):
            skipped.append(f"{name}: module not available")
            continue
        kinds = registry.get(name).data_kinds
        todo = [d for d in data_names if datasets.kind_of(d) in kinds]
        if variant is not None:  # extra variants only where a target names them
            todo = [d for d in todo if (name, variant, d) in TARGETS]
            if not todo:
                wanted = [d for (n, v, d) in TARGETS if (n, v) == (name, variant)]
                skipped.append(f"{name}/{variant}: its target dataset {', '.join(wanted)} is not selected")
                continue
        if not todo:
            skipped.append(f"{name}: supports {', '.join(kinds)}, none of {', '.join(data_names)}")
            continue
        items.append(PlanItem(name, variant, tuple(todo)))
    return items


def recipe_plan(args: argparse.Namespace) -> list[PlanItem]:
    """Each recipe's default configuration (the demo a visitor's Run button trains)."""
    from atlas.runs import recipes  # plain Python: no Django settings needed

    items = []
    for slug in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        recipe = recipes.get(slug)
        config, _ = recipe.validate({})
        overrides, _ = recipe.split(config)
        variant = overrides.pop("variant", None)
        items.append(PlanItem(recipe.model, variant, recipe.datasets, overrides, label=slug))
    return items


def run_seed(item: PlanItem, data_name: str, seed: int, args: argparse.Namespace) -> Outcome:
    t0 = time.perf_counter()
    try:
        out = run_one(item.name, item.variant, data_name, seed, args, item.overrides)
    except Exception as err:  # report and go on: one broken model must not hide the others
        out = Outcome(
            item.name,
            item.variant or "?",
            data_name,
            seed,
            0,
            0.0,
            0.0,
            None,
            {},
            error=f"{type(err).__name__}: {err}",
        )
    print(
        f"  {item.label or item.name}/{out.variant} {data_name} seed {seed}: {out.steps} steps, "
        f"threshold {'-' if out.t_threshold is None else f'{out.t_threshold:.1f} s'}"
        f"{' ERROR ' + out.error if out.error else ''} ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
