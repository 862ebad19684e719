"""Bias amplification: class proportions in the samples vs in the (imbalanced) training data.

Data: the 8-Gaussian ring made class-imbalanced: the four upper modes (class "majority") carry 80 % of
the mass, the four lower ones (class "minority") 20 %. Model: the AR-grid, an exact autoregressive
density, sampled at temperature 1 (the fitted distribution itself) and at temperature 0.7, the
autoregressive counterpart of GAN truncation and of low-temperature decoding: both sharpen the
distribution towards its high-probability regions. Class of a sample = class of its nearest mode.

Reproduce: train on the imbalanced data. At temperature 1 a good model mirrors the 80/20 split; at
temperature 0.7 it *amplifies* it (the minority share falls below 20 %). Fix: curate the training data
(the node's first fix) by rebalancing the classes before training, then sample the same way.

Metric: the minority share of 4,000 samples and the amplification factor = (majority:minority odds in
the samples) / (odds in the training data), 1 = mirrored. Verdict per seed: the failure shows when the
reproduce arm's amplification at temperature 0.7 is at least 1.25; the fix beats it when, sampled at
the same temperature, its own amplification (against its rebalanced 50/50 training split) stays below
1.25 -- the effect the failure names, not the minority share, which rebalancing alone lifts past 20 %.
Negative control: the 80/20 model at temperature 1 must not read as amplified.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from compute.experiments.base import ExperimentResult, Scale, Verdict
from compute.experiments.failure_modes import common

MAJORITY_SHARE = 0.8
MODEL: dict[str, Any] = {"bins": 128}
FULL_STEPS = 400
TEMPERATURES = (1.0, 0.7)
N_SAMPLES = 4000
AMP_FAIL = 1.25
MAJORITY = (0, 1, 2, 3)  # ring8 modes at angles 0..135 degrees


def class_weights(balanced: bool) -> Any:
    import torch

    if balanced:
        return torch.full((8,), 1 / 8)
    w = torch.tensor([MAJORITY_SHARE / 4 if k in MAJORITY else (1 - MAJORITY_SHARE) / 4 for k in range(8)])
    return w / w.sum()


def ring8_weighted(seed: int, balanced: bool):
    """ring8 with per-mode weights (imbalanced, or rebalanced by curation); fresh draws every batch."""
    import torch

    from compute import datasets

    base = datasets.load("ring8", seed)
    weights = class_weights(balanced)
    means, std = base.modes, base.mode_std

    def sampler(n: int, g: torch.Generator) -> torch.Tensor:
        k = torch.multinomial(weights, n, replacement=True, generator=g)
        return means[k] + std * torch.randn(n, 2, generator=g)

    log_w = weights.log()

    def log_density(x: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(x.double(), means.double()).pow(2)
        log_n = -0.5 * d2 / std**2 - math.log(2 * math.pi * std**2)
        return torch.logsumexp(log_n + log_w.double(), 1).float()

    g = torch.Generator().manual_seed(90_000 + seed + (1 if balanced else 0))
    spec = dataclasses.replace(base.spec, true_log_density=log_density)
    return dataclasses.replace(
        base,
        name="ring8-balanced" if balanced else "ring8-imbalanced",
        spec=spec,
        train=sampler(4000, g),
        test=sampler(2000, g),
        sampler=sampler,
        mode_weights=weights,
    )


def minority_share(samples: Any, modes: Any) -> float:
    from compute import metrics

    idx, _ = metrics.nearest_mode(samples, modes)
    minority = ~sum((idx == k) for k in MAJORITY).bool()
    return float(minority.double().mean())


def amplification(share_min: float, data_min: float) -> float:
    """(majority:minority odds in samples) / (odds in data); inf when the minority vanished."""
    if share_min <= 0:
        return float("inf")
    return ((1 - share_min) / share_min) / ((1 - data_min) / data_min)


class BiasAmplification(common.FailureMode):
    slug = "bias-amplification"
    title = "Bias amplification: 80/20 classes sampled at temperature 1 and 0.7, with and without curation"

    claim = (
        "Sampling that sharpens a model's distribution (low temperature) amplifies the imbalance of its "
        "training data; curating the data to balance the classes removes the amplification."
    )
    prediction = (
        "At temperature 0.7 the model trained on 80/20 data amplifies the majority:minority odds at least "
        "1.25x on every seed; trained on rebalanced data and sampled at the same temperature, its odds "
        "stay within 1.25x of its own training split's."
    )
    control_text = (
        "The same amplification detector (odds >= 1.25x the training data's) on the 80/20 model sampled at "
        "temperature 1, where a well-fitted model mirrors its data: it must not fire."
    )

    @staticmethod
    def control(m: dict[str, Any]) -> tuple[bool, str]:
        amps = [
            amplification(s, m["data_minority_share"]) for s in common.per_seed(m, "reproduce", "minority_t1")
        ]
        return common.control_over_seeds(
            [a >= AMP_FAIL for a in amps], f"at temperature 1 the amplification was {common.pm(amps, 2)}x"
        )

    @staticmethod
    def verdict(m: dict[str, Any]) -> Verdict:
        data_min = m["data_minority_share"]
        r_low, f_low = (
            common.per_seed(m, "reproduce", "minority_low"),
            common.per_seed(m, "fix", "minority_low"),
        )
        r_one = common.per_seed(m, "reproduce", "minority_t1")
        amps = [amplification(s, data_min) for s in r_low]
        failure = [a >= AMP_FAIL for a in amps]
        fix_min = m.get("fix_data_minority_share", 0.5)
        fix_amps = [amplification(s, fix_min) for s in f_low]
        fixed = [a < AMP_FAIL for a in fix_amps]
        t = m["temperatures"][-1]
        summary = (
            f"trained on {100 * data_min:.0f} % minority data the model drew {common.pm_pct(r_one, 1)} "
            "minority "
            f"samples at temperature 1 and {common.pm_pct(r_low, 1)} at temperature {t:g} (amplification "
            f"{common.pm(amps, 2)}x); after rebalancing the data: "
            f"{common.pm_pct(m['fix']['minority_t1'], 1)} and "
            f"{common.pm_pct(f_low, 1)} (amplification at temperature {t:g} against its own "
            f"{100 * fix_min:.0f} % split: {common.pm(fix_amps, 2)}x)"
        )
        return common.verdict_over_seeds(m, failure, fixed, summary, "amplification")

    def measure(self, scale: Scale, log: Callable[[str], None]) -> ExperimentResult:
        steps, seeds = common.budget(scale, FULL_STEPS)
        data_min = 1 - MAJORITY_SHARE
        m: dict[str, Any] = {
            "seeds": seeds,
            "temperatures": list(TEMPERATURES),
            "data_minority_share": data_min,
            "fix_data_minority_share": 0.5,
        }
        shown: dict[Any, Any] = {}
        for arm, balanced in (("reproduce", False), ("fix", True)):
            out: dict[str, list[Any]] = {"minority_t1": [], "minority_low": [], "amplification_low": []}
            for seed in seeds:
                data = ring8_weighted(seed, balanced)
                model, _ = common.train_model("ar-grid", data, seed=seed, steps=steps, **MODEL)
                shares = []
                for t in TEMPERATURES:
                    x = model.sample(N_SAMPLES, seed=10_000 + seed, temperature=t)
                    shares.append(minority_share(x, data.modes))
                    if seed == seeds[0]:
                        shown[(arm, t)] = x
                out["minority_t1"].append(shares[0])
                out["minority_low"].append(shares[-1])
                own = 0.5 if balanced else data_min  # the minority share of this arm's training data
                out["amplification_low"].append(amplification(shares[-1], own))
                log(
                    f"{arm} seed {seed}: minority share T=1 {shares[0]:.3f}, T={TEMPERATURES[-1]} "
                    f"{shares[-1]:.3f}"
                )
            m[arm] = out

        t = TEMPERATURES[-1]
        return self.report(t=t, m=m, seeds=seeds, data_min=data_min, shown=shown, steps=steps)

    def report(
        self, *, t: Any, m: Any, seeds: Any, data_min: Any, shown: Any, steps: Any
    ) -> ExperimentResult:
        """Tables, figures and the verdict from the measurements (the template's last steps)."""
        rows = [
            ("minority share, temperature 1", "minority_t1", 3),
            (f"minority share, temperature {t:g}", "minority_low", 3),
            (
                f"amplification at temperature {t:g} vs the arm's own training split (1 = mirrored)",
                "amplification_low",
                2,
            ),
        ]
        tables = [
            common.metric_table(
                f"Mean ± std over {len(seeds)} seeds, {N_SAMPLES} samples; the imbalanced data has "
                f"{100 * data_min:.0f} % minority",
                m,
                rows,
                ("trained on imbalanced data (reproduce)", "trained on rebalanced data (fix)"),
            ),
            common.seed_table(
                "Per seed", m, [("minority T=1", "minority_t1"), (f"minority T={t:g}", "minority_low")]
            ),
        ]
        data0 = ring8_weighted(seeds[0], False)
        figures = {
            "samples": common.scatter_panels(
                [
                    ("imbalanced, T = 1", shown[("reproduce", 1.0)]),
                    (f"imbalanced, T = {t:g}", shown[("reproduce", t)]),
                    (f"rebalanced, T = {t:g}", shown[("fix", t)]),
                ],
                data0,
            ),
        }
        recipes = [
            {
                "role": "fix",
                "recipe": "ar-grid-2d",
                "config": {"dataset": "ring8", "steps": steps, "seed": 0, "bins": MODEL["bins"]},
            }
        ]
        params = {
            "data": f"ring8 with {100 * MAJORITY_SHARE:.0f} % of the mass on modes {list(MAJORITY)}",
            "model": {"name": "ar-grid", **MODEL},
            "steps": steps,
            "seeds": seeds,
            "samples": N_SAMPLES,
            "temperatures": list(TEMPERATURES),
            "amplification_fail_at": AMP_FAIL,
            "recipe_note": "the site's datasets are balanced, so the recipe runs the fix arm "
            "(balanced ring8); the imbalanced data exists only here",
        }
        return self.finish(m, tables, params, figures, recipes)
