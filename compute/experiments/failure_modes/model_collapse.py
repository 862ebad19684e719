"""Recursive model collapse: each generation trains on samples of the previous one.

Shumailov et al. (2024, Nature, "AI models collapse when trained on recursively generated data"):
generation 0 is trained on real data; generation k+1 on N samples drawn from generation k. Finite
samples under-represent the tails, the next model cannot put back what it never saw, and the errors
compound: tails thin out and the variance shrinks. Reproduce: *replace* the data by samples every
generation. Fix: keep the real data in the mix (each generation trains on the N real points plus N
samples of the previous generation), which anchors the distribution (Gerstgrasser et al. 2024).

Model: the AR-grid (an exact autoregressive density on a 128 x 128 grid of bins) on the pinwheel, whose
five arms have long radial tails. Every generation gets the same number of training steps; N = 500.
Metrics per generation, on 2,000 samples: the total variance relative to the real data's, the tail
mass (share of samples beyond the radius that holds 95 % of the real data, 5 % for the data itself),
and the exact NLL of 2,000 real test points under the model (how much of the real distribution it
still covers). Verdict per seed, at the last generation: the failure shows when the replace arm's tail
mass and variance have both fallen below 80 % of the real data's (tail < 4 %, variance ratio < 0.8)
or its real-data NLL has risen by more than 0.5 nats over generation 0; the fix beats it when its
last-generation real-data NLL is lower and its tail mass higher than the replace arm's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from compute.experiments.base import Experiment, ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASET = "pinwheel"
MODEL: dict[str, Any] = {"variant": "embedding", "bins": 64, "hidden": 128}
N_TRAIN = 500
GENERATIONS = 8
FULL_STEPS = 250  # per generation
N_EVAL = 2000
TAIL_Q = 0.95
TAIL_FAIL, VAR_FAIL, NLL_RISE = 0.04, 0.8, 0.5


class ModelCollapse(Experiment):
    slug = "model-collapse"
    kind = "failure-mode"
    title = "Recursive model collapse: training on the previous generation's samples, with and without real data"

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        failure, fixed = [], []
        rt, rv, rn = (m["reproduce"][k] for k in ("tail_by_gen", "var_by_gen", "nll_by_gen"))
        ft, fn = m["fix"]["tail_by_gen"], m["fix"]["nll_by_gen"]
        for i in range(len(m["seeds"])):
            shrunk = rt[i][-1] < TAIL_FAIL and rv[i][-1] < VAR_FAIL
            failure.append(bool(shrunk or rn[i][-1] - rn[i][0] > NLL_RISE))
            fixed.append(bool(fn[i][-1] < rn[i][-1] and ft[i][-1] > rt[i][-1]))
        g = len(rt[0]) - 1 if rt else 0

        def last(rows: list[list[float]]) -> list[float]:
            return [r[-1] for r in rows]

        def first(rows: list[list[float]]) -> list[float]:
            return [r[0] for r in rows]

        summary = (
            f"after {g} generations on their own samples the tail mass fell from {common.pm(_pct(first(rt)), 1)} % "
            f"to {common.pm(_pct(last(rt)), 1)} % (real data: 5 %), the variance ratio to {common.pm(last(rv), 2)} and "
            f"the real-data NLL rose from {common.pm(first(rn), 2)} to {common.pm(last(rn), 2)} nats; keeping the real "
            f"data in the mix: tail {common.pm(_pct(last(ft)), 1)} %, variance ratio "
            f"{common.pm(last(m['fix']['var_by_gen']), 2)}, NLL {common.pm(last(fn), 2)} nats"
        )
        return common.pair_verdict(common.PairOutcome(list(m["seeds"]), failure, fixed), summary, "collapse")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets

        steps = scale.steps(FULL_STEPS)
        seeds = common.seeds_of(scale)
        gens = GENERATIONS if scale.name == "full" else 2
        m: dict[str, Any] = {"seeds": seeds, "generations": gens, "n_train": N_TRAIN}
        shown: dict[str, Any] = {}
        for arm in ("reproduce", "fix"):
            m[arm] = {"tail_by_gen": [], "var_by_gen": [], "nll_by_gen": []}
        for seed in seeds:
            real = datasets.load(DATASET, seed)
            real_train = real.train[:N_TRAIN]
            test = real.test[:N_EVAL]
            centre = real.train.mean(0)
            r95 = float(torch.quantile((real.train - centre).norm(dim=1), TAIL_Q))
            real_var = float(real.train.var(0).sum())
            for arm in ("reproduce", "fix"):
                tails, variances, nlls = [], [], []
                train_x = real_train
                for gen in range(gens + 1):
                    data = finite_dataset(real, train_x, f"{DATASET}-gen{gen}")
                    model, _ = common.train_model("ar-grid", data, seed=1000 * seed + gen, steps=steps, **MODEL)
                    x = model.sample(max(N_EVAL, N_TRAIN), seed=100_000 + 1000 * seed + gen)
                    tails.append(float(((x[:N_EVAL] - centre).norm(dim=1) > r95).double().mean()))
                    variances.append(float(x[:N_EVAL].var(0).sum()) / real_var)
                    nlls.append(float(-model.log_likelihood(test).values.double().mean()))
                    if seed == seeds[0] and gen in (0, gens):
                        shown[(arm, gen)] = x[:N_EVAL]
                    fresh = x[:N_TRAIN]
                    train_x = fresh if arm == "reproduce" else torch.cat([real_train, fresh])
                m[arm]["tail_by_gen"].append(tails)
                m[arm]["var_by_gen"].append(variances)
                m[arm]["nll_by_gen"].append(nlls)
                log(f"seed {seed} {arm}: tail {[round(t, 3) for t in tails]} var {[round(v, 2) for v in variances]} "
                    f"nll {[round(v, 2) for v in nlls]}")

        rows = []
        for label, key, digits, scale_by in (("tail mass (data 0.05)", "tail_by_gen", 3, 1),
                                             ("variance ratio (data 1)", "var_by_gen", 2, 1),
                                             ("NLL of real test data, nats", "nll_by_gen", 2, 1)):
            for gen in sorted({0, gens // 2, gens}):
                rows.append([f"{label}, generation {gen}",
                             *[common.pm([run[gen] * scale_by for run in m[a][key]], digits) for a in ("reproduce", "fix")]])
        tables = [Table(f"Mean ± std over {len(seeds)} seeds; N = {N_TRAIN} samples per generation, {steps} steps each",
                        ["metric", "replace with samples (reproduce)", "keep real data in the mix (fix)"], rows)]
        series = {}
        for key, title in (("tail_by_gen", "tail mass"), ("nll_by_gen", "NLL of real data")):
            series[key] = {lab: [list(enumerate(run)) for run in m[a][key]]
                           for a, lab in (("reproduce", "samples only"), ("fix", "real data kept"))}
        data0 = datasets.load(DATASET, seeds[0])
        figures = {
            "samples": common.scatter_panels([("generation 0", shown[("reproduce", 0)]),
                                              (f"generation {gens}, samples only", shown[("reproduce", gens)]),
                                              (f"generation {gens}, real data kept", shown[("fix", gens)])], data0),
            "tail_mass": common.curve_figure(series["tail_by_gen"], "generation", "share of samples beyond r95",
                                             "Tail mass over generations (one line per seed)",
                                             hline=(1 - TAIL_Q, "real data")),
            "real_nll": common.curve_figure(series["nll_by_gen"], "generation", "NLL of real test points, nats",
                                            "How well each generation still covers the real data"),
        }
        recipes = [
            {"role": role, "recipe": "ar-grid-2d",
             "config": {"dataset": DATASET, "steps": steps, "seed": 0, "bins": MODEL["bins"]}}
            for role in ("reproduce", "fix")
        ]
        return ExperimentResult(
            slug=self.slug, kind=self.kind, title=self.title, verdict=self.verdict(m), tables=tables,
            measurements=m, figures=figures, recipes=recipes,
            params={"dataset": DATASET, "model": {"name": "ar-grid", **MODEL}, "n_train": N_TRAIN, "generations": gens,
                    "steps_per_generation": steps, "seeds": seeds,
                    "recipe_note": "a recipe trains one generation on the real data; the loop over generations "
                                   "runs only here"},
        )


def finite_dataset(real: Any, train: Any, name: str) -> Any:
    """``real`` with a fixed, finite training set (the trainer then cycles epochs instead of sampling)."""
    return dataclasses.replace(real, name=name, train=train.detach().clone(), sampler=None, modes=None)


def _pct(values: list[float]) -> list[float]:
    return [100 * v for v in values]
