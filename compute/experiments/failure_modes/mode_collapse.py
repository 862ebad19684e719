"""Mode collapse: the saturating minimax GAN vs a fix from the node (25-Gaussian grid, 8-Gaussian ring).

Reproduce: Goodfellow et al.'s minimax value function with the *saturating* generator loss
E[log(1 - D(G(z)))], whose gradient vanishes where D confidently rejects the fakes. Fix: the
regularised recipe the node's "modern regularised recipes such as R3GAN" builds on: the non-saturating
loss with an R1 gradient penalty on real data (Mescheder et al. 2018, gamma = 1; R3GAN adds R2 and a
relativistic loss). WGAN-GP, the other listed fix the family implements, needs many more critic steps
than this CPU budget allows on these sharp mixtures, so it is not the fix here. Both arms share the
networks, the data stream, the seeds and the number of generator steps.

Metrics: the standard ones of the mode-collapse literature (Srivastava et al. 2017, VEEGAN; Lin et al.
2018, PacGAN), on 2,500 samples: a sample is *high quality* within 3 std of its nearest mean and a mode
is *captured* when it is the nearest mean of at least one high-quality sample; plus mode-weight TV.
Verdict per (dataset, seed): the failure shows when the minimax GAN misses at least one mode or fewer
than half of its samples are high quality; the fix beats it when it captures more modes, or as many with
a higher high-quality fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Table, Verdict
from compute.experiments.failure_modes import common

DATASETS = ("grid25", "ring8")
SHARED: dict[str, Any] = {"hidden": 128}
REPRODUCE: dict[str, Any] = {"variant": "minimax"}
FIX: dict[str, Any] = {"variant": "non-saturating", "r1_gamma": 1.0}
FIX_NAME = "non-saturating + R1"
FULL_STEPS = 1500
N_SAMPLES = 2500
HQ_FAIL = 0.5
NUM_MODES = {"grid25": 25, "ring8": 8}


class ModeCollapse(common.FailureMode):
    slug = "mode-collapse"
    title = f"Mode collapse: saturating minimax GAN vs {FIX_NAME} (25-Gaussian grid, 8-Gaussian ring)"

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        labels, failure, fixed, parts = [], [], [], []
        for ds in m["datasets"]:
            rm, rh = (
                common.per_seed(m, "reproduce", f"{ds}_modes"),
                common.per_seed(m, "reproduce", f"{ds}_hq"),
            )
            fm, fh = common.per_seed(m, "fix", f"{ds}_modes"), common.per_seed(m, "fix", f"{ds}_hq")
            k = NUM_MODES.get(ds, 0)
            for seed, a, b, c, d in zip(m["seeds"], rm, rh, fm, fh, strict=True):
                labels.append(f"{ds}/{seed}")
                failure.append(a < k or b < HQ_FAIL)
                fixed.append(c > a or (c == a and d > b))
            parts.append(
                f"on {ds} the minimax GAN captured {common.pm(rm, 1)} of {k} modes with "
                f"{common.pm_pct(rh, 1)} % high-quality samples; "
                f"{m.get('fix_name', FIX_NAME)} captured {common.pm(fm, 1)} with "
                f"{common.pm_pct(fh, 1)} %"
            )
        return common.pair_verdict(
            common.PairOutcome(labels, failure, fixed), "; ".join(parts), "mode collapse"
        )

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        from compute import datasets, metrics

        steps, seeds = common.budget(scale, FULL_STEPS)
        m: dict[str, Any] = {"seeds": seeds, "datasets": list(DATASETS), "fix_name": FIX_NAME}
        samples: dict[tuple[str, str], Any] = {}
        for arm, cfg in (("reproduce", REPRODUCE), ("fix", FIX)):
            out: dict[str, list[Any]] = {}
            for ds in DATASETS:
                for key in ("modes", "hq", "tv"):
                    out[f"{ds}_{key}"] = []
                for seed in seeds:
                    data = datasets.load(ds, seed)
                    model, _ = common.train_model("gan", data, seed=seed, steps=steps, **cfg, **SHARED)
                    x = model.sample(N_SAMPLES, seed=10_000 + seed)
                    st = metrics.mode_stats(x, data.modes, data.mode_std)
                    out[f"{ds}_modes"].append(st["modes_captured"])
                    out[f"{ds}_hq"].append(st["hq_fraction"])
                    out[f"{ds}_tv"].append(st["mode_weight_tv"])
                    if seed == seeds[0]:
                        samples[(arm, ds)] = x
                    log(f"{arm} {ds} seed {seed}: {st['modes_captured']} modes, HQ {st['hq_fraction']:.3f}")
            m[arm] = out

        rows = []
        for ds in DATASETS:
            rows += [
                (f"{ds}: modes captured (of {NUM_MODES[ds]})", f"{ds}_modes", 1),
                (f"{ds}: high-quality fraction", f"{ds}_hq", 3),
                (f"{ds}: mode-weight TV", f"{ds}_tv", 3),
            ]
        tables: list[Table] = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds, {N_SAMPLES} samples each",
                m,
                rows,
                ("minimax GAN (reproduce)", f"{FIX_NAME} (fix)"),
            ),
            common.seed_table(
                "Per seed", m, [(f"{ds} {k}", f"{ds}_{k}") for ds in DATASETS for k in ("modes", "hq")]
            ),
        ]
        figures = {}
        for ds in DATASETS:
            figures[f"samples_{ds}"] = common.scatter_panels(
                [
                    ("minimax GAN (reproduce)", samples[("reproduce", ds)]),
                    (f"{FIX_NAME} (fix)", samples[("fix", ds)]),
                ],
                datasets.load(ds, seeds[0]),
            )
        base = {"dataset": DATASETS[0], "steps": steps, "seed": 0}
        recipes = common.arm_recipes("gan-2d", {**base, **REPRODUCE, **SHARED}, {**base, **FIX, **SHARED})
        params = {
            "datasets": list(DATASETS),
            "generator_steps": steps,
            "seeds": seeds,
            "samples": N_SAMPLES,
            **common.arm_configs(SHARED, REPRODUCE, FIX),
            "hq_fail_below": HQ_FAIL,
        }
        return self.result(self.verdict(m), tables, m, params, figures, recipes)
