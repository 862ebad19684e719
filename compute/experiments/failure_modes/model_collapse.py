"""Recursive model collapse: each generation trains on samples of the previous one.

Shumailov et al. (2024, Nature, "AI models collapse when trained on recursively generated data"):
generation 0 is trained on real data; generation k+1 on N samples drawn from generation k. Finite
samples under-represent the tails, the next model cannot put back what it never saw, and the errors
compound: the distribution narrows. Reproduce: *replace* the data by samples every generation. Fix:
keep the real data in the mix (each generation trains on the N real points plus N samples of the
previous generation), which anchors the distribution (Gerstgrasser et al. 2024).

Model: the diffusion family (MLP denoiser, 50-step sampling) on the pinwheel, whose five arms have long
radial tails; N = 500 points per generation, the same number of training steps in every generation.
Metrics per generation, on 2,000 samples: the total variance relative to the real data's, the tail
mass (share of samples beyond the radius holding 95 % of the real data) and MMD^2 to real test points.
Verdict per seed, at the last generation: the failure shows when the replace arm's variance has shrunk
by more than 5 % relative to its generation 0; the fix beats it when its variance ratio is closer to
the data's (1) and its MMD^2 to the real data is lower.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASET = "pinwheel"
FAMILY = "diffusion"
MODEL: dict[str, Any] = {"hidden": 128, "sample_nfe": 50, "lr": 3e-3}
N_TRAIN = 500
GENERATIONS = 6
FULL_STEPS = 800  # per generation
N_EVAL = 2000
TAIL_Q = 0.95
SHRINK = 0.95


class ModelCollapse(common.FailureMode):
    slug = "model-collapse"
    title = (
        "Recursive model collapse: training on the previous generation's samples, with and without real data"
    )

    claim = (
        "Training each generation on the previous generation's samples narrows the distribution; keeping "
        "the real data in the mix anchors it."
    )
    prediction = (
        "With samples replacing the data, the variance at the last generation is more than 5 % below "
        "generation 0's on every seed; with real data kept, the variance ratio is closer to 1 and the MMD² "
        "to real data lower."
    )
    control_text = (
        "The same narrowing detector (last-generation variance < 0.95x generation 0's) on the runs that keep "
        "the real data, which Gerstgrasser et al. (2024) predict do not narrow: it must not fire. (This "
        "control is the fix arm read by the failure rule.)"
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        fv = m["fix"]["var_by_gen"]
        return common.control_over_seeds(
            [r[-1] < SHRINK * r[0] for r in fv],
            f"with real data kept the variance ratio went from {common.pm([r[0] for r in fv], 2)} to "
            f"{common.pm([r[-1] for r in fv], 2)}",
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        rv, rt, rd = (m["reproduce"][k] for k in ("var_by_gen", "tail_by_gen", "mmd_by_gen"))
        fv, ft, fd = (m["fix"][k] for k in ("var_by_gen", "tail_by_gen", "mmd_by_gen"))
        failure = [r[-1] < SHRINK * r[0] for r in rv]
        fixed = [
            abs(1 - f[-1]) < abs(1 - r[-1]) and d2[-1] < d1[-1]
            for f, r, d1, d2 in zip(fv, rv, rd, fd, strict=True)
        ]
        g = len(rv[0]) - 1 if rv else 0

        def at(rows: list[list[float]], i: int) -> list[float]:
            return [r[i] for r in rows]

        summary = (
            f"after {g} generations on their own samples the variance ratio went from "
            f"{common.pm(at(rv, 0), 2)} to "
            f"{common.pm(at(rv, -1), 2)} (data: 1), the tail mass from {common.pm_pct(at(rt, 0), 1)} to "
            f"{common.pm_pct(at(rt, -1), 1)} (data: 5 %) and MMD² to real data from "
            f"{common.pm(at(rd, 0), 4)} to "
            f"{common.pm(at(rd, -1), 4)}; keeping the real data in the mix: variance ratio "
            f"{common.pm(at(fv, -1), 2)}, "
            f"tail {common.pm_pct(at(ft, -1), 1)}, MMD² {common.pm(at(fd, -1), 4)}"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "the narrowing")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        import torch

        from compute import datasets, metrics

        steps, seeds = common.budget(scale, FULL_STEPS)
        gens = GENERATIONS if scale.name == "full" else 2
        m: dict[str, Any] = {"seeds": seeds, "generations": gens, "n_train": N_TRAIN}
        shown: dict[str, Any] = {}
        for arm in ("reproduce", "fix"):
            m[arm] = {"tail_by_gen": [], "var_by_gen": [], "mmd_by_gen": []}
        for seed in seeds:
            real = datasets.load(DATASET, seed)
            real_train = real.train[:N_TRAIN]
            test = real.test[:N_EVAL]
            centre = real.train.mean(0)
            r95 = float(torch.quantile((real.train - centre).norm(dim=1), TAIL_Q))
            real_var = float(real.train.var(0).sum())
            for arm in ("reproduce", "fix"):
                tails, variances, mmds = [], [], []
                train_x = real_train
                for gen in range(gens + 1):
                    data = finite_dataset(real, train_x, f"{DATASET}-gen{gen}")
                    model, _ = common.train_model(FAMILY, data, seed=1000 * seed + gen, steps=steps, **MODEL)
                    x = model.sample(max(N_EVAL, N_TRAIN), seed=100_000 + 1000 * seed + gen)
                    tails.append(float(((x[:N_EVAL] - centre).norm(dim=1) > r95).double().mean()))
                    variances.append(float(x[:N_EVAL].var(0).sum()) / real_var)
                    mmds.append(metrics.mmd(test, x[:N_EVAL]))
                    if seed == seeds[0] and gen in (0, gens):
                        shown[(arm, gen)] = x[:N_EVAL]
                    fresh = x[:N_TRAIN]
                    train_x = fresh if arm == "reproduce" else torch.cat([real_train, fresh])
                m[arm]["tail_by_gen"].append(tails)
                m[arm]["var_by_gen"].append(variances)
                m[arm]["mmd_by_gen"].append(mmds)
                log(
                    f"seed {seed} {arm}: tail {[round(t, 3) for t in tails]} var "
                    f"{[round(v, 2) for v in variances]} "
                    f"mmd {[round(v, 4) for v in mmds]}"
                )

        return self.report(gens=gens, m=m, steps=steps, seeds=seeds, shown=shown)

    def report(self, *, gens: Any, m: Any, steps: Any, seeds: Any, shown: Any) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        from compute import datasets

        rows = []
        for label, key, digits, scale_by in (
            ("tail mass (data 0.05)", "tail_by_gen", 3, 1),
            ("variance ratio (data 1)", "var_by_gen", 2, 1),
            ("MMD² to real test data", "mmd_by_gen", 4, 1),
        ):
            for gen in sorted({0, gens // 2, gens}):
                rows.append(
                    [
                        f"{label}, generation {gen}",
                        *[
                            common.pm([run[gen] * scale_by for run in m[a][key]], digits)
                            for a in ("reproduce", "fix")
                        ],
                    ]
                )
        tables = [
            Table(
                f"Mean ± std over {len(seeds)} seeds; N = {N_TRAIN} samples per generation, {steps} steps "
                "each",
                ["metric", "replace with samples (reproduce)", "keep real data in the mix (fix)"],
                rows,
            )
        ]
        series = {}
        for key in ("var_by_gen", "tail_by_gen", "mmd_by_gen"):
            series[key] = {
                lab: [list(enumerate(run)) for run in m[a][key]]
                for a, lab in (("reproduce", "samples only"), ("fix", "real data kept"))
            }
        data0 = datasets.load(DATASET, seeds[0])
        figures = {
            "samples": common.scatter_panels(
                [
                    ("generation 0", shown[("reproduce", 0)]),
                    (f"generation {gens}, samples only", shown[("reproduce", gens)]),
                    (f"generation {gens}, real data kept", shown[("fix", gens)]),
                ],
                data0,
            ),
            "tail_mass": common.curve_figure(
                series["tail_by_gen"],
                "generation",
                "share of samples beyond r95",
                "Tail mass over generations (one line per seed)",
                hline=(1 - TAIL_Q, "real data"),
            ),
            "variance": common.curve_figure(
                series["var_by_gen"],
                "generation",
                "variance / variance of the data",
                "Variance over generations (one line per seed)",
                hline=(1.0, "real data"),
            ),
            "mmd": common.curve_figure(
                series["mmd_by_gen"],
                "generation",
                "MMD² to real test points",
                "Distance to the real data over generations",
            ),
        }
        recipes = [
            {
                "role": "reproduce",
                "recipe": "ddpm-2d",
                "config": {
                    "dataset": DATASET,
                    "steps": steps,
                    "seed": 0,
                    "sample_nfe": MODEL["sample_nfe"],
                    "lr": MODEL["lr"],
                    "variant": "cosine",
                },
            }
        ]
        params = {
            "dataset": DATASET,
            "model": {"name": FAMILY, **MODEL},
            "n_train": N_TRAIN,
            "generations": gens,
            "steps_per_generation": steps,
            "seeds": seeds,
            "recipe_note": "a recipe trains one generation on the real data; the loop over generations "
            "runs only here",
        }
        return self.finish(m, tables, params, figures, recipes)


def finite_dataset(real: Any, train: Any, name: str) -> Any:
    """``real`` with a fixed, finite training set (the trainer then cycles epochs instead of sampling)."""
    return dataclasses.replace(real, name=name, train=train.detach().clone(), sampler=None, modes=None)
